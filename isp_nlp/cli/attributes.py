"""`isp-nlp attributes`: document attributes in from a CSV, listed, and codes × an
attribute's values."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from isp_nlp.cli.common import FORMATS, WIDTH, echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line

if TYPE_CHECKING:
    from isp_nlp.analysis.attributes import AttributeTable

#: The narrowest a label (first) column is cut to, and the widest a value column is.
LABEL_WIDTH, CELL_WIDTH = 24, 14


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--table", "table", default=None, metavar="ATTRIBUTE",
              help="Print codes × the values of ATTRIBUTE: distinct segments per cell.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def attributes(ctx, file: Path | None, table: str | None, fmt: str) -> None:
    """Import document attributes from FILE.csv (a document column, then one column per
    attribute such as role, site, wave; all rows or none), or list them; --table
    ATTRIBUTE counts each code's segments per value of ATTRIBUTE."""
    from isp_nlp.analysis.attributes import attribute_table, import_attributes

    store = open_store(ctx)
    if file is not None:
        r = import_attributes(store, file)
        echo_wrapped(one_line(
            f"Read {', '.join(r.attributes)} for {r.documents} document(s) from {r.file}: "
            f"{r.set} value(s) set, {r.removed} removed, {r.unchanged} unchanged."))
    if table is not None:
        t = attribute_table(store, table)
        if fmt == "json":
            click.echo(json.dumps(asdict(t), indent=2, ensure_ascii=False))
        else:
            for line in format_table(t):
                click.echo(line)
        return
    if file is not None:
        return
    values = store.attributes()
    names = store.attribute_names()
    documents = [t["document"] for t in store.transcripts()]
    if fmt == "json":
        click.echo(json.dumps({d: values.get(d, {}) for d in documents}, indent=2,
                              ensure_ascii=False))
        return
    if not names:
        echo_wrapped("No attributes yet: import them with `isp-nlp attributes FILE.csv` "
                     "(a document column, then one column per attribute).")
        return
    for line in grid(["document", *names],
                     [[d, *(values.get(d, {}).get(n, "") for n in names)] for d in documents],
                     numeric=False):
        click.echo(line)
    echo_wrapped(f"{len(names)} attribute(s) of {len(documents)} document(s); "
                 f"{sum(1 for d in documents if d not in values)} without any.")


def format_table(t: AttributeTable) -> list[str]:
    """Codes × values as lines of at most 80 columns, with what is counted."""
    sources = ", ".join(t.sources[:-1]) + f" and {t.sources[-1]}"
    lines = _wrap(f"Codes × {t.attribute}: distinct segments given each code, counting "
                  f"{sources} codes (assisted and model codes left out).")
    rows = [["documents", *(str(t.documents.get(v, 0)) for v in t.values)]]
    rows += [[label, *(str(t.counts[label].get(v, 0)) for v in t.values)]
             for label, _ in t.rows]
    rows.append(["coded segments", *(str(t.coded.get(v, 0)) for v in t.values)])
    lines += grid(["code", *t.values], rows, numeric=True)
    if not t.rows:
        lines += _wrap("No code was given by those sources yet.")
    elif t.unused:
        lines += _wrap(f"{t.unused} code(s) given to no segment by those sources are left "
                       "out.")
    return lines


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(one_line(text), WIDTH, subsequent_indent="  ",
                         break_on_hyphens=False)


def _cell(text: str, width: int) -> str:
    """``text`` on one line, its inner spaces collapsed (a lead of two spaces, an indent,
    kept), cut to ``width`` with "…"."""
    lead = "  " if text.startswith("  ") and text.strip() else ""
    text = lead + one_line(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def grid(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: bool,
         cell_width: int = CELL_WIDTH) -> list[str]:
    """A table within 80 columns: the first column (as wide as the other columns leave,
    at least 24) repeated in each block of as many further columns as fit; long cells cut
    with "…"; numbers right-aligned."""
    widths = [min(cell_width, max(len(_cell(r[i], cell_width)) for r in [header, *rows]))
              for i in range(1, len(header))]
    room = max(LABEL_WIDTH, WIDTH - sum(2 + w for w in widths))  # labels get what is left
    first = min(room, max(len(_cell(r[0], room)) for r in [header, *rows]))
    blocks: list[list[int]] = [[]]
    used = first
    for i, w in enumerate(widths, start=1):
        if blocks[-1] and used + 2 + w > WIDTH:
            blocks.append([])
            used = first
        blocks[-1].append(i)
        used += 2 + w
    lines: list[str] = []
    for b, block in enumerate(blocks):
        if b:
            lines.append("")
        for row in [header, *rows]:
            cells = [_cell(row[0], first).ljust(first)]
            for i in block:
                w = widths[i - 1]
                text = _cell(row[i], w)
                cells.append(text.rjust(w) if numeric else text.ljust(w))
            lines.append("  ".join(cells).rstrip())
    return lines
