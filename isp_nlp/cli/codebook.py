"""`isp-nlp codebook check|load|show`: the project's codebook."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import open_store
from isp_nlp.codebook.load import load_codebook
from isp_nlp.project import load_project_codebook, require_codebook


@click.group()
def codebook() -> None:
    """Check, load and show the codebook (YAML)."""


@codebook.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def codebook_check(file: Path) -> None:
    """Validate a codebook file: duplicate ids, unknown parents, cycles."""

    cb = load_codebook(file)
    click.echo(f"{file}: OK — {len(cb.codes)} codes, stages {', '.join(cb.stage_ids)}")


@codebook.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def codebook_load(ctx, file: Path) -> None:
    """Make FILE the project's codebook."""

    cb = load_project_codebook(open_store(ctx), file)
    click.echo(f"Loaded codebook '{cb.name}': {len(cb.codes)} codes, {len(cb.stages)} stages")


@codebook.command("show")
@click.pass_context
def codebook_show(ctx) -> None:
    """Print the project's codebook as a tree."""

    cb = require_codebook(open_store(ctx))
    depth: dict[str, int] = {}
    for code in cb.codes:
        depth[code.id] = depth.get(code.parent, -1) + 1 if code.parent else 0
        click.echo(f"{'  ' * depth[code.id]}{code.id}  ({code.name})")
    click.echo("stage: " + ", ".join(cb.stage_ids))
