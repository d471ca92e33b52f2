"""Excel workbooks (``.xlsx``) through openpyxl: the first sheet in, one sheet out.

Reading takes the first worksheet's cell values as text, after the archive's member
count, unpacked size and member paths are checked (a workbook from a stranger is a
zip). Writing makes one sheet whose text cells are always text, never formulas.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, time

from isp_nlp.errors import InputFileError
from isp_nlp.interchange.safe_zip import member_problem

MAX_MEMBERS = 10_000
MAX_UNPACKED = 512 * 1024**2
MAX_CELL = 32_767  # Excel's limit on the characters of one cell
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Excel writes CR and other characters XML cannot carry as ``_xHHHH_`` (``_x005F_`` is "_").
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _check_archive(data: bytes, name: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputFileError(f"{name} is not a zip archive, so not an .xlsx workbook; "
                             "export it again, or export as CSV.") from None
    with archive:
        infos = archive.infolist()
    if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise InputFileError(f"{name}: the workbook has {len(infos)} parts unpacking to "
                             "more than we read (512 MB); export fewer rows or as CSV.")
    for info in infos:
        problem = member_problem(info)
        if problem is not None:
            raise InputFileError(f"{name}: {problem}; refusing it (a hostile or damaged file).")


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def read_xlsx(data: bytes, name: str) -> list[list[str]]:
    """The first worksheet of workbook ``data`` as rows of text cells."""
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    _check_archive(data, name)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise InputFileError(f"{name} is not a readable .xlsx workbook "
                             f"({type(exc).__name__}); export it again, or as CSV.") from None
    try:
        if not book.worksheets:
            raise InputFileError(f"{name} holds no worksheet; export the sheet again or as CSV.")
        sheet = book.worksheets[0]
        rows = [[_as_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and not any(rows[-1]):
        rows.pop()
    return rows


def _cell_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    text = _ESCAPED.sub(lambda m: "_x005F" + m.group(0), str(value))  # a literal _xHHHH_
    return _ILLEGAL.sub("\ufffd", text)[:MAX_CELL]


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[object]],
               sheet: str = "Sheet1") -> bytes:
    """A one-sheet workbook: ``header`` in row 1 (frozen), then ``rows``. Text cells are
    written as text (never formulas); numbers and booleans keep their type."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING  # type: ignore[import-untyped]

    book = Workbook(write_only=False)
    ws = book.worksheets[0]
    ws.title = re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "Sheet1"
    table: list[Sequence[object]] = [list(header), *rows]
    for values in table:
        ws.append([_cell_value(v) for v in values])
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING  # "=..." stays text, never a formula
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
