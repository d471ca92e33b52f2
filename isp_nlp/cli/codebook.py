"""`isp-nlp codebook check|load|show|export`: the project's codebook."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.project import export_project_codebook, load_project_codebook, read_codebook_file
from isp_nlp.store.files import check_output
from isp_nlp.store.folder import require_codebook


@click.group()
def codebook() -> None:
    """Check, load, show and export the codebook (YAML/JSON, REFI-QDA .qdc/.qde/.qdpx)."""


@codebook.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def codebook_check(file: Path) -> None:
    """Validate a codebook file (YAML/JSON or REFI-QDA): duplicate ids, unknown parents, cycles."""

    loaded = read_codebook_file(file)
    for warning in loaded.warnings:
        click.echo(f"Warning: {warning}", err=True)
    cb = loaded.codebook
    click.echo(f"{file}: OK — {len(cb.codes)} codes, stages {', '.join(cb.stage_ids)}")


@codebook.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def codebook_load(ctx, file: Path) -> None:
    """Make FILE (YAML/JSON, or REFI-QDA .qdc/.qde/.qdpx) the project's codebook."""

    loaded = load_project_codebook(open_store(ctx), file)
    for warning in loaded.warnings:
        click.echo(f"Warning: {warning}", err=True)
    cb = loaded.codebook
    click.echo(f"Loaded codebook '{cb.name}': {len(cb.codes)} codes, {len(cb.stages)} stages")


@codebook.command("show")
@click.pass_context
def codebook_show(ctx) -> None:
    """Print the project's codebook as a tree."""
    cb = require_codebook(open_store(ctx))
    depth: dict[str, int] = {}
    for code in cb.codes:
        depth[code.id] = depth.get(code.parent, -1) + 1 if code.parent else 0
        click.echo(f"{'  ' * depth[code.id]}{one_line(code.id)}  ({one_line(code.name)})")
    click.echo("stage: " + ", ".join(cb.stage_ids))


@codebook.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .qdc file to write (REFI-QDA codebook exchange).")
@click.pass_context
def codebook_export(ctx, out: Path) -> None:
    """Write the project's codebook as a REFI-QDA .qdc for NVivo, ATLAS.ti, MAXQDA, ..."""

    check_output(out, "--out")
    cb = export_project_codebook(open_store(ctx), out)
    click.echo(f"Wrote {out}: {len(cb.codes)} codes and a 'Stage' code with "
               f"{len(cb.stages)} stages")
