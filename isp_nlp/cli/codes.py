"""`isp-nlp import-codes` and `export-codes`: coders' codes in and out as CSV."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from isp_nlp.cli.common import WIDTH, echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.project import export_codes, export_segments, import_codes
from isp_nlp.store.files import check_output


@click.command("import-codes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_codes_cmd(ctx, file: Path) -> None:
    """Import seed codes from a coded-segments CSV or XLSX sheet (all rows or none).

    A ``provenance`` column (human, assisted, blind, consensus, model; empty =
    human) is kept on each coding; an unknown value stops the import. Rows with no
    coder, code or value (the rest of a blank sheet from export-segments) are skipped.
    Segments a coder gave two mutually exclusive codes are imported as coded, with
    one warning.
    """

    r = import_codes(open_store(ctx), file)
    made = ", ".join(f"{k} {n}" for k, n in r["provenance"].items())
    echo_wrapped(f"Imported {r['rows']} rows: {r['segments']} segments coded by "
                 f"{_names(r['coders'])} ({r['changed']} changed, {r['unchanged']} "
                 f"unchanged; provenance: {made or '—'})")
    if r["blank"]:
        echo_wrapped(f"{r['blank']} rows left blank (no coder, code or value) were skipped.")
    n = r.get("exclusive_conflicts", 0)
    if n:
        text = (f"Warning: {n} {'segment was' if n == 1 else 'segments were'} given two "
                "codes the codebook declares mutually exclusive (imported as coded; "
                "`isp-nlp codebook show` lists the groups).")
        for line in textwrap.wrap(text, WIDTH, subsequent_indent="  "):
            click.echo(line, err=True)


@click.command("export-codes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export_codes_cmd(ctx, file: Path) -> None:
    """Write every coder's codes as a coded-segments CSV, with each coding's provenance."""

    check_output(file, "the output file")
    n = export_codes(open_store(ctx), file)
    click.echo(f"Wrote {n} rows to {file}")


@click.command("export-segments")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The sheet to write: .csv or .xlsx.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default=None,
              help="csv or xlsx (default: from the file name).")
@click.option("--document", "documents", multiple=True, metavar="DOC",
              help="Only this document's segments; repeatable.")
@click.option("--uncoded", is_flag=True, help="Only segments no person has coded yet.")
@click.pass_context
def export_segments_cmd(ctx, out: Path, fmt: str | None, documents: tuple[str, ...],
                        uncoded: bool) -> None:
    """Write a blank coding sheet of the segments to code.

    One row per codable segment, with empty code and dimension columns; fill them in
    (one row per code; copy a row to give a segment two codes) and read the sheet back
    with import-codes as it is.
    """
    check_output(out, "the output file")
    n = export_segments(open_store(ctx), out, fmt=fmt, documents=documents, uncoded=uncoded)
    echo_wrapped(f"Wrote {n} segments to {one_line(str(out))}; fill in coder and code, "
                 f"then run `isp-nlp import-codes {one_line(out.name)}`.")


def _names(names: list[str], limit: int = 10) -> str:
    """At most ``limit`` names, then how many more (a file may hold thousands of coders)."""
    shown = ", ".join(map(one_line, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
