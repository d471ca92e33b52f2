"""`isp-nlp agreement`: inter-coder agreement, humans and model side by side."""

from __future__ import annotations

import json

import click

from .cli_common import open_store


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--no-model", is_flag=True, help="Humans only.")
@click.pass_context
def agreement(ctx, fmt: str, no_model: bool) -> None:
    """Agreement per code and for the stage: humans and model side by side."""
    from .reporting import project_agreement

    rep = project_agreement(open_store(ctx), include_model=not no_model)
    if fmt == "json":
        click.echo(json.dumps(rep.to_dict(), indent=2, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(rep.to_frame().to_csv(index=False), nl=False)
    else:
        click.echo(format_agreement_table(rep))


def format_agreement_table(rep) -> str:
    """A compact text table: one line per target and coder pair, then alphas."""
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_rows", 500,
                           "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        pairs = rep.pairs.drop(columns=[c for c in ("note",) if c in rep.pairs.columns])
        alphas = rep.alphas.drop(columns=[c for c in ("note",) if c in rep.alphas.columns])
        return ("Pairwise agreement (percent, Cohen's kappa)\n" + pairs.to_string(index=False)
                + "\n\nKrippendorff's alpha (nominal)\n" + alphas.to_string(index=False))
