"""`isp-nlp import-codes` and `export-codes`: coders' codes in and out as CSV."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.project import export_codes, import_codes
from isp_nlp.store.files import check_output


@click.command("import-codes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_codes_cmd(ctx, file: Path) -> None:
    """Import seed codes from a coded-segments CSV (all rows or none).

    A ``provenance`` column (human, assisted, blind, consensus, model; empty =
    human) is kept on each coding; an unknown value stops the import.
    """

    r = import_codes(open_store(ctx), file)
    made = ", ".join(f"{k} {n}" for k, n in r["provenance"].items())
    click.echo(f"Imported {r['rows']} rows: {r['segments']} segments coded by "
               f"{_names(r['coders'])} ({r['changed']} changed, {r['unchanged']} unchanged; "
               f"provenance: {made or '—'})")


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
