"""`isp-nlp codebook check|load|show|export`: the project's codebook."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.project import (
    dimension_text,
    dimensions_text,
    exclusive_text,
    export_project_codebook,
    load_project_codebook,
    read_codebook_file,
)
from isp_nlp.store.files import check_output
from isp_nlp.store.folder import require_codebook


@click.group()
def codebook() -> None:
    """Check, load, show and export the codebook (YAML/JSON, REFI-QDA .qdc/.qde/.qdpx)."""


@codebook.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def codebook_check(file: Path) -> None:
    """Validate a codebook file (YAML/JSON or REFI-QDA): duplicate ids, unknown parents,
    cycles, dimensions; prints the dimensions by name with their values."""

    loaded = read_codebook_file(file)
    for warning in loaded.warnings:
        echo_wrapped(one_line(f"Warning: {warning}"), err=True)
    cb = loaded.codebook
    echo_wrapped(one_line(f"{file}: OK — {len(cb.codes)} codes; {dimensions_text(cb)}"))
    if exclusive_text(cb):
        echo_wrapped(one_line(exclusive_text(cb)))
    kind = "a REFI-QDA codebook" if file.suffix.lower() in (".qdc", ".qde", ".qdpx") \
        else "a codebook"
    echo_wrapped(one_line(f"It is {kind}; make it this project's with `isp-nlp codebook "
                          f"load {file}`."))


@codebook.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def codebook_load(ctx, file: Path) -> None:
    """Make FILE (YAML/JSON, or REFI-QDA .qdc/.qde/.qdpx) the project's codebook."""

    loaded = load_project_codebook(open_store(ctx), file)
    for warning in loaded.warnings:
        click.echo(f"Warning: {warning}", err=True)
    cb = loaded.codebook
    echo_wrapped(one_line(f"Loaded codebook '{cb.name}': {len(cb.codes)} codes; "
                        f"{dimensions_text(cb)}"))
    if exclusive_text(cb):
        echo_wrapped(one_line(exclusive_text(cb)))


@codebook.command("show")
@click.pass_context
def codebook_show(ctx) -> None:
    """Print the project's codebook as a tree, then each single-choice dimension with its
    values (in order, when ordered)."""
    cb = require_codebook(open_store(ctx))
    depth: dict[str, int] = {}
    for code in cb.codes:
        depth[code.id] = depth.get(code.parent, -1) + 1 if code.parent else 0
        mark = "  [exclusive]" if code.exclusive else ""
        click.echo(f"{'  ' * depth[code.id]}{one_line(code.id)}  ({one_line(code.name)}){mark}")
    for dim in cb.dimensions:
        flags = "".join(f", {f}" for f, on in (("pathway", dim.pathway),) if on)
        echo_wrapped(one_line(f"dimension {dim.id}{flags}: {dimension_text(dim)}"))
    if not cb.dimensions:
        click.echo("no single-choice dimensions")
    if exclusive_text(cb):
        echo_wrapped(one_line(exclusive_text(cb)))


@codebook.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .qdc file to write (REFI-QDA codebook exchange).")
@click.pass_context
def codebook_export(ctx, out: Path) -> None:
    """Write the project's codebook as a REFI-QDA .qdc for NVivo, ATLAS.ti, MAXQDA, ..."""

    check_output(out, "--out")
    cb = export_project_codebook(open_store(ctx), out)
    echo_wrapped(one_line(f"Wrote {out}: {len(cb.codes)} codes; {dimensions_text(cb)}"))
