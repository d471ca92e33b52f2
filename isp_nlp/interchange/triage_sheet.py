"""Batch triage files: the pending suggestions out as CSV/XLSX, the coder's decisions in.

The rows are :func:`isp_nlp.review.batch.triage_table`'s. Text cells a spreadsheet could
run as a formula get a leading apostrophe (:func:`~isp_nlp.coded.safe_csv.neutralise_cell`)
in both formats, dropped again on reading; CSV is UTF-8 with a BOM, for Excel. The XLSX
has a drop-down list (data validation) on the decision column. Files are written to a
temporary file first and moved into place.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from isp_nlp.errors import InputFileError
from isp_nlp.interchange.sheet_rows import read_table
from isp_nlp.interchange.xlsx import _cell_value
from isp_nlp.review.batch import DECISION, TriageSummary, record_decisions, triage_table
from isp_nlp.review.session import ACTIONS
from isp_nlp.store.database import Store
from isp_nlp.store.files import atomic_path, check_output

FORMATS = ("csv", "xlsx")
#: Column widths in the workbook (characters), by column name; others get 14.
_WIDTHS = {"item_key": 18, "text": 60, "suggested_codes": 30, "decision": 12, "codes": 20}


@dataclass(frozen=True)
class TriageExport:
    """What :func:`export_suggestions` wrote."""

    path: str
    format: str
    rows: int


def _format(path: Path) -> str:
    chosen = path.suffix.lower().lstrip(".")
    if chosen not in FORMATS:
        raise InputFileError(f"{path.name}: cannot tell the format from its suffix "
                             f"('{chosen}'); expected .csv or .xlsx; name the file so.")
    return chosen


def _xlsx(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.cell.cell import TYPE_STRING  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
    from openpyxl.worksheet.datavalidation import (  # type: ignore[import-untyped]
        DataValidation,
    )

    from isp_nlp.coded.safe_csv import neutralise_cell
    book = Workbook()
    ws = book.worksheets[0]
    ws.title = "suggestions"
    for values in [list(header), *rows]:
        ws.append([_cell_value(neutralise_cell(v)) for v in values])
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING  # "=..." stays text, never a formula
    ws.freeze_panes = "A2"
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(name, 14)
    column = get_column_letter(list(header).index(DECISION) + 1)
    check = DataValidation(type="list", formula1='"' + ",".join(ACTIONS) + '"',
                           allow_blank=True, showErrorMessage=True,
                           errorTitle="Decision", error="Choose " + ", ".join(ACTIONS))
    check.add(f"{column}2:{column}{max(len(rows) + 1, 2)}")
    ws.add_data_validation(check)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    from isp_nlp.coded.safe_csv import safe_csv_rows

    return ("\ufeff" + safe_csv_rows([list(header), *rows])).encode("utf-8")


def export_suggestions(store: Store, out: str | Path, *, coder: str = "") -> TriageExport:
    """Write the pending suggestions of the latest model to ``out`` (.csv or .xlsx)."""
    out = check_output(Path(out), "--out")
    fmt = _format(out)
    header, rows = triage_table(store, coder.strip())
    data = _csv(header, rows) if fmt == "csv" else _xlsx(header, rows)
    with atomic_path(out, what="--out") as tmp:
        tmp.write_bytes(data)
    return TriageExport(path=str(out), format=fmt, rows=len(rows))


def import_decisions(store: Store, path: str | Path, *, coder: str) -> TriageSummary:
    """Record the decisions filled into a file :func:`export_suggestions` wrote."""
    from isp_nlp.coded.safe_csv import restore_cell

    path = Path(path)
    table = read_table(path)
    header = [restore_cell(h) for h in table.header]
    rows = [(line, [restore_cell(c) for c in cells]) for line, cells in table.rows]
    return record_decisions(store, coder, header, rows, name=path.name)
