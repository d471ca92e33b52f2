"""`isp-nlp import-codes` and `export-codes`: coders' codes in and out as CSV."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from isp_nlp.cli.common import WIDTH, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.project import export_codes, import_codes
from isp_nlp.store.files import check_output


@click.command("import-codes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_codes_cmd(ctx, file: Path) -> None:
    """Import seed codes from a coded-segments CSV (all rows or none).

    A ``provenance`` column (human, assisted, blind, consensus, model; empty =
    human) is kept on each coding; an unknown value stops the import. Segments a coder
    gave two mutually exclusive codes are imported as coded, with one warning.
    """

    r = import_codes(open_store(ctx), file)
    made = ", ".join(f"{k} {n}" for k, n in r["provenance"].items())
    click.echo(f"Imported {r['rows']} rows: {r['segments']} segments coded by "
               f"{_names(r['coders'])} ({r['changed']} changed, {r['unchanged']} unchanged; "
               f"provenance: {made or '—'})")
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


def _names(names: list[str], limit: int = 10) -> str:
    """At most ``limit`` names, then how many more (a file may hold thousands of coders)."""
    shown = ", ".join(map(one_line, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
