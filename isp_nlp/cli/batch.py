"""`isp-nlp export-suggestions` and `import-decisions`: review in a spreadsheet."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import echo_wrapped, open_store
from isp_nlp.interchange.triage_sheet import export_suggestions, import_decisions


@click.command("export-suggestions")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write: .csv or .xlsx.")
@click.option("--coder", default="",
              help="Leave out suggestions this coder has already decided.")
@click.pass_context
def export_suggestions_cmd(ctx, out: Path, coder: str) -> None:
    """Write the latest model's pending suggestions as a sheet to fill in.

    One row per suggestion, in review order: item key, model, document, segment, speaker,
    text, the suggested codes and values with their probabilities, then empty columns
    decision (accept, reject, relabel or skip), codes (for relabel, comma-separated ids)
    and one per dimension (for relabel). Read it back with `isp-nlp import-decisions`.
    """
    r = export_suggestions(open_store(ctx), out, coder=coder)
    echo_wrapped(f"Wrote {r.rows} pending suggestions to {r.path}; fill in the decision "
                 "column and run `isp-nlp import-decisions`.")


@click.command("import-decisions")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--coder", required=True, help="Who made the decisions.")
@click.pass_context
def import_decisions_cmd(ctx, file: Path, coder: str) -> None:
    """Record the decisions filled into a sheet from `isp-nlp export-suggestions`.

    Each row with a decision is recorded as that review decision; rows left empty are
    left alone, and items already decided are not recorded again. All or nothing: if
    any row is wrong, every bad row is listed and nothing is recorded.
    """
    s = import_decisions(open_store(ctx), file, coder=coder)
    echo_wrapped(f"Recorded {len(s.recorded)} decisions by {coder.strip()}: {s.line()}.")
