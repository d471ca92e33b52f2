"""Excel workbooks (``.xlsx``) through openpyxl: the first sheet in, one sheet out.

Reading takes the first worksheet's cell values as text. A workbook from a stranger is a
zip of XML parts, so before openpyxl sees it: the zip directory's length is checked from
its end record (:func:`check_zip_directory`), then the member count, unpacked size and
member paths, then every XML part is streamed once through expat (constant memory) and
refused when it holds more elements, cells, rows or text than a sheet can (the limits
below). openpyxl then reads the sheet row by row (read-only mode, the sheet's own
dimension ignored), every row inside the error handling. Writing makes one sheet whose
text cells are always text, never formulas.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from collections.abc import Sequence
from datetime import date, datetime, time
from xml.parsers import expat

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.safe_zip import MAX_MEMBERS, check_zip_directory, member_problem

MAX_UNPACKED = 512 * 1024**2
#: Excel's own sheet limits: a larger sheet was not written by a spreadsheet program.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
#: Cells read in all (a Dedoose export of 20,000 excerpts and 500 code columns holds 10 M).
MAX_CELLS = 10_000_000
#: Characters in one cell read: Excel holds 32,767; Python's csv module stops at 131,072.
MAX_CELL_CHARS = 131_072
#: XML elements in all the workbook's parts: bounds the check's and openpyxl's time.
MAX_XML_ELEMENTS = 50_000_000
#: Elements inside one ``<row>`` or shared string ``<si>``: what openpyxl holds at once.
MAX_RECORD_ELEMENTS = 200_000
#: Characters inside one ``<row>`` or ``<si>`` (16,384 full cells would be 500 M; no export is).
MAX_RECORD_CHARS = 16 * 1024**2
#: Elements of one part outside rows and strings (styles, merged cells), which openpyxl
#: builds whole.
MAX_LOOSE_ELEMENTS = 1_000_000
MAX_CELL = 32_767  # Excel's limit on the characters of one cell (when writing)
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Excel writes CR and other characters XML cannot carry as ``_xHHHH_`` (``_x005F_`` is "_").
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_RECORDS = frozenset({"row", "si"})
_CHUNK = 1024 * 1024


class _Refused(Exception):
    """A part of the workbook goes beyond a limit; the message says which."""


class _PartScan:
    """Counts one XML part's elements, cells and text as expat streams it; raises
    :class:`_Refused` past the limits. ``budget`` is what the workbook may still hold."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.depth = self.record_depth = 0
        self.record_elements = self.record_chars = self.cells = 0
        self.loose = self.loose_chars = self.rows = 0

    def start(self, tag: str, _attrs: object) -> None:
        self.depth += 1
        self.budget -= 1
        if self.budget < 0:
            raise _Refused(f"holds more than {MAX_XML_ELEMENTS:,} XML elements")
        local = tag.rpartition(":")[2]
        if self.record_depth:
            self.record_elements += 1
            if self.record_elements > MAX_RECORD_ELEMENTS:
                raise _Refused(f"has a row or string of more than {MAX_RECORD_ELEMENTS:,} "
                               "XML elements")
            if local == "c" and self.depth == self.record_depth + 1:
                self.cells += 1
                if self.cells > MAX_COLUMNS:
                    raise _Refused(f"has a row of more than {MAX_COLUMNS:,} cells")
        elif local in _RECORDS:
            self.record_depth = self.depth
            self.record_elements = self.record_chars = self.cells = 0
            self.rows += local == "row"
            if self.rows > MAX_ROWS:
                raise _Refused(f"has more than {MAX_ROWS:,} rows")
        else:
            self.loose += 1
            if self.loose > MAX_LOOSE_ELEMENTS:
                raise _Refused(f"has more than {MAX_LOOSE_ELEMENTS:,} XML elements "
                               "outside its rows")

    def end(self, _tag: str) -> None:
        if self.depth == self.record_depth:
            self.record_depth = 0
        self.depth -= 1

    def text(self, data: str) -> None:
        if self.record_depth:
            self.record_chars += len(data)
            if self.record_chars > MAX_RECORD_CHARS:
                raise _Refused(f"has a row or string of more than {MAX_RECORD_CHARS:,} "
                               "characters")
        else:
            self.loose_chars += len(data)
            if self.loose_chars > MAX_RECORD_CHARS:
                raise _Refused(f"has more than {MAX_RECORD_CHARS:,} characters outside "
                               "its rows")

    def doctype(self, *_args: object) -> None:
        raise _Refused("declares a DTD, which no spreadsheet program writes")


def _looks_like_xml(head: bytes) -> bool:
    """True when a part starting with ``head`` would be parsed as XML (any encoding)."""
    bare = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return bare.startswith((b"<", b"\x00<", b"\x00\x00\x00<", b"\xff\xfe", b"\xfe\xff",
                            b"\x00\x00\xfe\xff", b"\x4c\x6f\xa7\x94"))


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """Stream one member through expat; the element budget left. Raises :class:`_Refused`."""
    scan = _PartScan(budget)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.CharacterDataHandler = scan.text
    parser.StartDoctypeDeclHandler = scan.doctype
    with archive.open(info) as handle:
        chunk = handle.read(_CHUNK)
        if not _looks_like_xml(chunk):
            return budget  # an image or other binary part: openpyxl does not parse it
        try:
            while chunk:
                parser.Parse(chunk, False)
                chunk = handle.read(_CHUNK)
            parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise _Refused(f"is not well-formed XML ({expat.errors.messages[exc.code]}, "
                           f"line {exc.lineno})") from None
    return scan.budget


def _check_archive(data: bytes, name: str) -> None:
    check_zip_directory(io.BytesIO(data), name, max_members=MAX_MEMBERS)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # BadZipFile, and struct/value errors on a damaged directory
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
                raise InputFileError(f"{name}: {problem}; refusing it (a hostile or damaged "
                                     "file).")
        budget = MAX_XML_ELEMENTS
        for info in infos:
            if info.is_dir():
                continue
            try:
                budget = _scan_part(archive, info, budget)
            except _Refused as exc:
                raise InputFileError(f"{name}: its part '{info.filename[:80]}' {exc}, beyond "
                                     "what a spreadsheet holds; refusing it (a hostile or "
                                     "damaged file); export it again, or as CSV.") from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                    NotImplementedError, ValueError) as exc:
                raise InputFileError(f"{name}: its part '{info.filename[:80]}' cannot be "
                                     f"unpacked ({type(exc).__name__}); export the workbook "
                                     "again, or as CSV.") from None


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


def _sheet_rows(sheet: object, name: str) -> list[list[str]]:
    """The rows of read-only ``sheet`` as text, trailing empty cells dropped; refuses a
    sheet beyond :data:`MAX_ROWS`, :data:`MAX_COLUMNS`, :data:`MAX_CELLS` or a cell beyond
    :data:`MAX_CELL_CHARS`."""
    reset = getattr(sheet, "reset_dimensions", None)
    if reset is not None:
        reset()  # never pad rows to a <dimension> the file claims (A1:XFD1048576)
    rows: list[list[str]] = []
    cells = 0
    for number, values in enumerate(sheet.iter_rows(values_only=True), 1):  # type: ignore[attr-defined]
        if number > MAX_ROWS:
            raise InputFileError(f"{name} has more than {MAX_ROWS:,} rows, more than Excel "
                                 "holds; export fewer excerpts per file, or as CSV.")
        width = len(values)
        while width and values[width - 1] in (None, ""):
            width -= 1
        if width > MAX_COLUMNS:
            raise InputFileError(f"{name} row {number} has {width:,} columns, more than "
                                 f"Excel's {MAX_COLUMNS:,}; export the sheet again, or as CSV.")
        cells += width
        if cells > MAX_CELLS:
            raise InputFileError(f"{name} holds more than {MAX_CELLS:,} cells (at row "
                                 f"{number}); export fewer excerpts or columns per file.")
        row = [_as_text(v) for v in values[:width]]
        for column, text in enumerate(row, 1):
            if len(text) > MAX_CELL_CHARS:
                raise InputFileError(
                    f"{name} row {number} column {column} holds {len(text):,} characters, "
                    f"beyond the {MAX_CELL_CHARS:,} a cell may hold here (Excel's limit is "
                    "32,767); check that it is the right file.")
        rows.append(row)
    return rows


def read_xlsx(data: bytes, name: str) -> list[list[str]]:
    """The first worksheet of workbook ``data`` as rows of text cells (see the module)."""
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    _check_archive(data, name)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not book.worksheets:
                raise InputFileError(f"{name} holds no worksheet; export the sheet again or "
                                     "as CSV.")
            rows = _sheet_rows(book.worksheets[0], name)
        finally:
            book.close()
    except (InputFileError, MemoryError):
        raise
    except Exception as exc:  # openpyxl raises many types, lazily, for a damaged workbook
        raise InputFileError(f"{name} is not a readable .xlsx workbook "
                             f"({type(exc).__name__}); export it again, or as CSV.") from None
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
