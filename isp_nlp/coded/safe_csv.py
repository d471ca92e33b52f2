"""Formula-injection-safe CSV cells (OWASP "CSV injection"), for every CSV we write.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some,
tab or carriage return) as a formula, so ``=HYPERLINK(...)`` in a transcript could act
on a coder's machine. On writing, such a text cell gets a leading apostrophe; numbers
stay numbers. On reading our own CSVs, :func:`restore_cell` drops exactly that
apostrophe again, so texts such as ``=SUM(A1)`` or ``- a bullet`` round-trip unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

#: First characters a spreadsheet may read as the start of a formula.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def neutralise_cell(value: Any) -> Any:
    """``value`` with an apostrophe before a leading trigger character if it is text;
    anything else (numbers, None, NaN) is returned unchanged."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return ESCAPE + value
    return value


def restore_cell(value: str) -> str:
    """Undo :func:`neutralise_cell`: drop a leading apostrophe followed by a trigger."""
    if value.startswith(ESCAPE) and value[1:2] and value[1:2] in TRIGGERS:
        return value[1:]
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) neutralised."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    out.columns = [neutralise_cell(c) for c in out.columns]
    return out


def safe_csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as neutralised CSV text (no index), for printing to stdout."""
    return str(neutralise_frame(frame).to_csv(index=False, lineterminator="\n"))


def safe_csv_rows(rows: Iterable[Sequence[Any]]) -> str:
    """Plain rows (no header) as neutralised CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([neutralise_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def write_safe_csv(frame: pd.DataFrame, path: Path, *, bom: bool = False) -> None:
    """Write ``frame`` neutralised as a UTF-8 CSV (no index); OSError is the caller's."""
    neutralise_frame(frame).to_csv(
        path, index=False, encoding="utf-8-sig" if bom else "utf-8", lineterminator="\n"
    )
