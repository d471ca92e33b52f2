"""A minimal Office Open XML workbook (``.xlsx``) reader and writer, standard library only.

Reading takes the first worksheet's cell values as text (shared strings, inline
strings, numbers, booleans); styles, formulas and dates as dates are not
interpreted. Writing makes one sheet of inline strings and numbers that Excel,
LibreOffice and openpyxl open. XML is parsed with defusedxml, the archive read in
memory after checking its member count and sizes.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from xml.etree import ElementTree as ET

import defusedxml
import defusedxml.ElementTree as DET

from isp_nlp.errors import InputFileError

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
MAX_MEMBERS = 10_000
MAX_UNPACKED = 512 * 1024**2
MAX_CELL = 32_767  # Excel's limit on the characters of one cell
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_REF = re.compile(r"([A-Z]+)(\d+)")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")  # how Excel writes CR and control characters


def _q(tag: str) -> str:
    return f"{{{MAIN_NS}}}{tag}"


# --------------------------------------------------------------------------- reading


def _member(archive: zipfile.ZipFile, name: str) -> ET.Element | None:
    try:
        data = archive.read(name)
    except KeyError:
        return None
    try:
        return DET.fromstring(data)
    except (ET.ParseError, defusedxml.DefusedXmlException) as exc:
        raise InputFileError(f"workbook part {name} is not well-formed or uses forbidden XML "
                             f"({exc}); export the sheet again.") from None


def _first_sheet(archive: zipfile.ZipFile) -> str:
    book = _member(archive, "xl/workbook.xml")
    rels = _member(archive, "xl/_rels/workbook.xml.rels")
    if book is not None and rels is not None:
        sheet = book.find(f"{_q('sheets')}/{_q('sheet')}")
        rid = sheet.get(f"{{{REL_NS}}}id") if sheet is not None else None
        for rel in rels:
            if rel.get("Id") == rid:
                target = (rel.get("Target") or "").lstrip("/")
                return target if target.startswith("xl/") else "xl/" + target
    return "xl/worksheets/sheet1.xml"


def _text(element: ET.Element) -> str:
    """The text of a shared or inline string: its <t>, or the <t> of its runs, with
    Excel's ``_x000D_`` escapes decoded."""
    text = "".join(t.text or "" for t in element.iter(_q("t")))
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _column(ref: str) -> int:
    letters = _REF.match(ref)
    n = 0
    for ch in letters.group(1) if letters else "":
        n = n * 26 + ord(ch) - 64
    return n - 1


def read_xlsx(data: bytes, name: str) -> list[list[str]]:
    """The first worksheet of workbook ``data`` as rows of text cells."""
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
        shared_el = _member(archive, "xl/sharedStrings.xml")
        shared = [_text(si) for si in shared_el.iter(_q("si"))] if shared_el is not None else []
        sheet = _member(archive, _first_sheet(archive))
    if sheet is None:
        raise InputFileError(f"{name} holds no worksheet; export the sheet again or as CSV.")
    rows: list[list[str]] = []
    for row in sheet.iter(_q("row")):
        cells: list[str] = []
        for c in row.iter(_q("c")):
            ref = c.get("r")
            col = _column(ref) if ref else len(cells)
            cells.extend([""] * (col - len(cells) + 1))
            kind = c.get("t", "n")
            v = c.find(_q("v"))
            raw = (v.text or "") if v is not None else ""
            if kind == "s":
                value = shared[int(raw)] if raw.isdigit() and int(raw) < len(shared) else ""
            elif kind == "inlineStr":
                is_el = c.find(_q("is"))
                value = _text(is_el) if is_el is not None else ""
            elif kind == "b":
                value = "True" if raw.strip() == "1" else "False"
            elif kind == "n" and raw:
                value = _number(raw)
            else:
                value = raw
            cells[col] = value
        number = row.get("r")
        if number and number.isdigit():
            rows.extend([] for _ in range(int(number) - 1 - len(rows)))
        rows.append(cells)
    return rows


def _number(raw: str) -> str:
    try:
        x = float(raw)
    except ValueError:
        return raw
    return str(int(x)) if math.isfinite(x) and x.is_integer() and abs(x) < 2**53 else raw


# --------------------------------------------------------------------------- writing

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/></Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_BOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{MAIN_NS}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/>'
    '</font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill>'
    '<patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/>'
    '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf '
    'numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="1"><xf '
    'numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>'
)


def _letters(col: int) -> str:
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _escape(text: str) -> str:
    text = _ILLEGAL.sub("\ufffd", text)[:MAX_CELL]
    text = _ESCAPED.sub(lambda m: "_x005F" + m.group(0), text)  # keep a literal "_x0041_"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell_xml(ref: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float) and math.isfinite(value):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return (f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_escape(str(value))}'
            "</t></is></c>")


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[object]],
               sheet: str = "Sheet1") -> bytes:
    """A one-sheet workbook: ``header`` in row 1 (frozen), then ``rows``. Text cells are
    written as text (never formulas); numbers and booleans keep their type."""
    lines = []
    table: list[list[object]] = [list(header), *(list(row) for row in rows)]
    for r, values in enumerate(table, start=1):
        cells = "".join(_cell_xml(f"{_letters(c)}{r}", v) for c, v in enumerate(values))
        lines.append(f'<row r="{r}">{cells}</row>')
    sheet_xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN_NS}"><sheetViews><sheetView workbookViewId="0"><pane '
        'ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>'
        f'</sheetViews><sheetData>{"".join(lines)}</sheetData></worksheet>'
    )
    name = _escape(re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "Sheet1").replace('"', "&quot;")
    book = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets><sheet name="{name}" '
        'sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", book), ("xl/_rels/workbook.xml.rels", _BOOK_RELS),
                           ("xl/styles.xml", _STYLES), ("xl/worksheets/sheet1.xml", sheet_xml)):
            archive.writestr(zipfile.ZipInfo(part, date_time=(1980, 1, 1, 0, 0, 0)),
                             text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
