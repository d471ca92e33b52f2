"""Excerpt sheets (Dedoose, ATLAS.ti; CSV and .xlsx) and the project they import into.

:func:`excerpt_project` is a project with :data:`CODEBOOK` and, unless told otherwise,
``tests/data/dedoose/interview_01.txt`` ingested, whose first turn is :data:`FIRST_TURN`;
:func:`snapshot` is what an import must leave unchanged when it refuses. The .xlsx files
are written by hand (no spreadsheet library), so a test can break them on purpose.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from isp_nlp.project import ingest_files, load_project_codebook
from isp_nlp.store.database import Store
from isp_nlp.store.folder import init_project, open_project
from tests.builders.paths import DATA

TRANSCRIPT = DATA / "dedoose" / "interview_01.txt"
CODEBOOK = """name: test
codes:
  - id: support
    name: Support
  - id: coaching
    name: Coaching
    parent: support
  - id: trust
    name: Trust
"""
FIRST_TURN = ("We met every week. The coach asked what we needed, not what the manual said. "
              "I would call that “real support” for our café team.")
#: A Dedoose export's header with one code column.
DEDOOSE = ["Media Title", "Excerpt Range", "Excerpt Creator", "Excerpt Copy",
           "Code: Trust Applied"]


def excerpt_project(tmp_path: Path, *, transcript: bool = True) -> Store:
    """An open store at ``tmp_path/p`` (the caller closes it)."""
    init_project(tmp_path / "p", embedder="hashing-256")
    store = open_project(tmp_path / "p")
    book = tmp_path / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    load_project_codebook(store, book)
    if transcript:
        ingest_files(store, [TRANSCRIPT])
    return store


def snapshot(store: Store) -> tuple:
    return (store.transcripts(), store.codings(), store.annotations(), store.codebook(),
            store.coders())


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig",
              delimiter: str = ",") -> Path:
    """A sheet as CSV, CRLF line ends, in ``encoding`` (a BOM by default, as Dedoose)."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def dedoose_row(excerpt_range: str = "1-20", text: str = FIRST_TURN) -> list[str]:
    return ["interview_01", excerpt_range, "maria", text, "True"]


# --------------------------------------------------------------------------- .xlsx by hand

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
    'org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>{strings}</Types>')
_STRINGS_TYPE = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                 'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
         'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
         'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
         'Target="xl/workbook.xml"/></Relationships>')
_BOOK = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
         'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
         'officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
         '</sheets></workbook>')
_BOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
              'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
              '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
              'Target="worksheets/sheet1.xml"/>{strings}</Relationships>')
_STRINGS_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
                '2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def sheet_xml(rows: str, before: str = "", after: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">{before}'
            f"<sheetData>{rows}</sheetData>{after}</worksheet>")


def header_row(header: list[str], r: int = 1) -> str:
    cols = "ABCDEFGHIJ"
    return f'<row r="{r}">' + "".join(inline(f"{cols[i]}{r}", h)
                                      for i, h in enumerate(header)) + "</row>"


def workbook(path: Path, sheet: str, strings: str | None = None, extra: int = 0) -> Path:
    """A minimal .xlsx whose first sheet is ``sheet`` (XML text), with ``extra`` empty parts."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   CONTENT_TYPES.format(strings=_STRINGS_TYPE if strings is not None else ""))
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _BOOK)
        z.writestr("xl/_rels/workbook.xml.rels",
                   _BOOK_RELS.format(strings=_STRINGS_REL if strings is not None else ""))
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if strings is not None:
            z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{_MAIN}">{strings}</sst>')
        for i in range(extra):
            z.writestr(f"extra/{i}.txt", "")
    path.write_bytes(buf.getvalue())
    return path


def dedoose_sheet(rows: str = "") -> str:
    return sheet_xml(header_row(DEDOOSE) + rows)


def data_row(r: int = 2, text: str = FIRST_TURN, excerpt_range: str = "1-20") -> str:
    cells = ["interview_01", excerpt_range, "maria", text, "True"]
    return f'<row r="{r}">' + "".join(inline(f"{'ABCDE'[i]}{r}", v)
                                      for i, v in enumerate(cells)) + "</row>"

