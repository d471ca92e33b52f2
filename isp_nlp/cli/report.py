"""`isp-nlp report`: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import open_store
from isp_nlp.store.files import check_output


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="report.html",
              show_default=True, help="Where to write the HTML report.")
@click.pass_context
def report(ctx, out: Path) -> None:
    """Write one self-contained HTML report."""
    from isp_nlp.report.collect import write_project_report

    check_output(out, "--out")
    path = write_project_report(open_store(ctx), out)
    click.echo(str(path))
