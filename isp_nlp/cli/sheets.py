"""`isp-nlp import-excerpts` and `export-sheet`: Dedoose/ATLAS.ti excerpts in, CSV/XLSX out."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import LibraryChoice, coverage_lines, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.interchange.excerpt_import import FORMATS, import_excerpts


@click.command("import-excerpts")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Which tool wrote FILE (auto detects it from the header).")
@click.option("--coder", default=None,
              help="Coder of excerpts the file names none for (required without a coder "
                   "column, as in ATLAS.ti quotation exports).")
@click.option("--add-codes", is_flag=True,
              help="Add codes the codebook lacks, under their parents.")
@click.option("--reconstruct-documents", is_flag=True,
              help="Build documents the project lacks from their excerpts (with a warning).")
@click.pass_context
def import_excerpts_cmd(ctx, file: Path, fmt: str, coder: str | None, add_codes: bool,
                        reconstruct_documents: bool) -> None:
    """Import a Dedoose excerpt export or an ATLAS.ti quotation export (.csv or .xlsx).

    Each excerpt is found in its document's stored text and kept as an exact coded span,
    then placed on the segments. All of the file is imported, or nothing.
    """
    r = import_excerpts(open_store(ctx), file, fmt=fmt, coder=coder, add_codes=add_codes,
                        reconstruct_documents=reconstruct_documents)
    for warning in r.warnings:
        click.echo(f"Warning: {one_line(warning)}", err=True)
    m = r.mapping
    coders = ", ".join(one_line(c[:60]) for c in r.coders[:10])
    if len(r.coders) > 10:
        coders += f" and {len(r.coders) - 10} more"
    click.echo(
        f"Imported {r.excerpts} {r.tool} excerpts by {coders}: "
        f"{r.codings_added} codings added, {r.codings_unchanged} unchanged; on segments "
        f"{m['exact']} exact, {m['overlap']} by overlap, {m['unmapped']} unmapped; "
        f"{len(r.documents_matched)} documents matched, {len(r.documents_reconstructed)} "
        f"reconstructed; {len(r.codes_added)} codes added; {r.annotations_changed} "
        "annotations changed"
    )
    for line in coverage_lines(r.coverage):
        click.echo(line)


@click.command("export-sheet")
@click.option("--format", "fmt",
              type=LibraryChoice("isp_nlp.interchange.sheet_export", "SHEET_FORMATS"),
              default=None,
              help="csv or xlsx (default: from the suffix of --out).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write.")
@click.option("--include-suggestions", is_flag=True,
              help="Add the latest model's suggestions (provenance model).")
@click.pass_context
def export_sheet_cmd(ctx, fmt: str | None, out: Path, include_suggestions: bool) -> None:
    """Write every coded span (and optionally the model's suggestions) as CSV or XLSX.

    One row per span: document, segment ids, start/end (code points), speaker, text,
    code, dimension, coder and provenance. Formula-like cells are written as text.
    """
    from isp_nlp.interchange.sheet_export import export_sheet

    r = export_sheet(open_store(ctx), out, fmt=fmt, include_suggestions=include_suggestions)
    click.echo(f"Wrote {r.rows} rows to {r.path} ({r.codings} codings, {r.annotations} "
               f"segment annotations, {r.suggestions} suggestions)")
