"""Spreadsheet exports of QDA tools read into a header and plain text rows.

Dedoose and ATLAS.ti write excerpts/quotations as CSV (UTF-8, UTF-8 with BOM,
UTF-16 or Windows-1252; comma, semicolon or tab) or as ``.xlsx``. :func:`read_table`
detects all of that; :func:`find_columns` matches header names case- and
accent-insensitively against each field's aliases. :class:`ExcerptRow` is the
plain row both excerpt readers return.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.decode import decode_bytes
from isp_nlp.interchange.offsets import MAX_POSITION_DIGITS
from isp_nlp.interchange.xlsx import MAX_CELLS, MAX_COLUMNS, MAX_ROWS, read_xlsx
from isp_nlp.store.files import read_regular

DELIMITERS = (";", ",", "\t", "|")
MAX_SHEET_BYTES = 256 * 1024**2  # an excerpt export larger than this is not one
#: Comma pieces of a code list grouped into names (real cells hold about 10; grouping is
#: cubic in the pieces, so a longer list is split at every comma).
_GROUPED_PIECES = 40
#: The delimiter and ``sep=`` hint are looked for in this many first characters.
_SNIFF_CHARS = 64 * 1024
XLSX_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class ExcerptRow:
    """One coded excerpt (a Dedoose excerpt, an ATLAS.ti quotation) as the file holds it.

    ``codes`` are code paths, parent first (``("Theme", "Subcode")``); ``start``/``end``
    are the file's position hint in ``unit`` (``char`` offsets into the tool's copy of
    the document, or ``paragraph`` numbers), None when it gives none; ``row`` is the
    1-based row of the sheet (blank rows counted; the header is usually row 1).
    """

    document: str
    text: str
    codes: tuple[tuple[str, ...], ...]
    coder: str = ""
    start: int | None = None
    end: int | None = None
    unit: str = "char"
    page: int = 0
    row: int = 0
    label: str = ""  # the quotation's number or the excerpt's range, for messages


@dataclass(frozen=True)
class ExcerptFile:
    """The excerpts of one export, the tool that wrote it and what was odd about it."""

    tool: str  # dedoose | atlasti
    rows: tuple[ExcerptRow, ...]
    has_coder_column: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A sheet as text: header cells and ``(row number, cells)`` for every data row."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    warnings: tuple[str, ...] = ()


def shown(text: str, width: int = 60) -> str:
    """``text`` on one line, at most ``width`` characters, for a message."""
    one = " ".join(text[:width * 4].split())
    return one if len(one) <= width else one[:width - 1] + "…"


def headers_shown(header: Sequence[str]) -> str:
    """The first header cells, shortened, for a "found: ..." message."""
    return ", ".join(shown(h, 40) for h in header[:12]) or "no header"


def normalise_header(text: str) -> str:
    """``text`` casefolded, accents dropped, runs of other characters one space."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return re.sub(r"[\W_]+", " ", bare).strip()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value).replace("\r\n", "\n").replace("\r", "\n"))


def sniff_delimiter(text: str) -> str:
    """The delimiter of a sheet: the candidate seen most often outside quotes on one of its
    first lines (the header, even below a title line)."""
    lines = [ln for ln in text[:_SNIFF_CHARS].split("\n") if ln.strip()][:10]
    outside = [re.sub(r'"[^"]*"', "", ln) for ln in lines]
    counts = {d: max((ln.count(d) for ln in outside), default=0) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their ends, one at a time (no copy of the whole text)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _csv(path: Path, raw: bytes) -> tuple[list[list[str]], tuple[str, ...]]:
    text, _, warnings = decode_bytes(raw, path.name)
    head = text[:_SNIFF_CHARS]
    first = next((ln for ln in head.split("\n") if ln.strip()), "")
    if first.casefold().startswith("sep=") and len(first.strip()) == 5:  # Excel's hint line
        delimiter = first.strip()[4]
        text = text[text.index(first) + len(first):].lstrip("\n")
    else:
        delimiter = sniff_delimiter(head)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    rows: list[list[str]] = []
    cells = 0
    try:
        for row in reader:
            cells += len(row)
            if len(row) > MAX_COLUMNS or cells > MAX_CELLS or len(rows) >= MAX_ROWS:
                raise InputFileError(_too_big(path.name, f"line {reader.line_num}"))
            rows.append(row)
    except csv.Error as exc:
        problem = (f"a cell of more than {csv.field_size_limit():,} characters; check that "
                   "it is the right file" if "field limit" in str(exc) else
                   f"{exc}; expected one excerpt a row; export the excerpts again")
        raise InputFileError(f"{path.name} line {reader.line_num}: not readable as CSV "
                             f"({problem}).") from None
    return rows, warnings


def _too_big(name: str, where: str) -> str:
    return (f"{name} ({where}) goes beyond what an excerpt export holds ({MAX_ROWS:,} rows, "
            f"{MAX_COLUMNS:,} columns, {MAX_CELLS:,} cells); export fewer excerpts or "
            "columns per file.")


def read_table(path: str | Path) -> Table:
    """Read a CSV (any of the encodings and delimiters above) or ``.xlsx`` sheet."""
    path = Path(path)
    raw = read_regular(path, "excerpt export", MAX_SHEET_BYTES)
    if not raw or raw.isspace():
        raise InputFileError(f"{path.name} is empty; expected an excerpt export with a header "
                             "row; export it again from your QDA tool.")
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(f"{path.name} is an old Excel .xls workbook; expected .xlsx or "
                             "CSV; save it as .xlsx or export the excerpts as CSV.")
    warnings: tuple[str, ...] = ()
    if raw.startswith(b"PK\x03\x04") or path.suffix.lower() in XLSX_SUFFIXES:
        sheet = read_xlsx(raw, path.name)
    else:
        sheet, warnings = _csv(path, raw)
    numbered = [(i + 1, r) for i, r in enumerate(sheet) if any(str(c).strip() for c in r)]
    if not numbered:
        raise InputFileError(f"{path.name} has no header row; expected an excerpt export; "
                             "export it again from your QDA tool.")
    header = [_cell(h).lstrip("\ufeff").strip() for h in numbered[0][1]]
    width = len(header)
    if sum(max(width, len(r)) for _, r in numbered) > MAX_CELLS:  # before padding rows
        raise InputFileError(_too_big(path.name, f"{width:,} columns"))
    body = tuple((n, tuple(_cell(c) for c in [*r, *[""] * (width - len(r))]))
                 for n, r in numbered[1:])
    return Table(path.name, tuple(header), body, warnings)


def header_candidates(table: Table, limit: int = 10) -> list[Table]:
    """``table``, then the same sheet with each of its first rows taken as the header, for
    exports that put a title or report lines above the table."""
    out = [table]
    for k, (_, cells) in enumerate(table.rows[:limit]):
        if sum(bool(c.strip()) for c in cells) >= 2:
            out.append(Table(table.name, tuple(c.strip() for c in cells),
                             table.rows[k + 1:], table.warnings))
    return out


def find_columns(
    table: Table, aliases: Mapping[str, Sequence[str]], required: Sequence[str], tool: str
) -> dict[str, int]:
    """Column index of every field whose alias is a header; raise naming missing required ones."""
    index: dict[str, int] = {}
    for i, h in enumerate(table.header):
        if len(h) <= 200:  # no alias is longer; a huge cell is not normalised 20 times
            index.setdefault(normalise_header(h), i)
    found: dict[str, int] = {}
    for fieldname, names in aliases.items():
        for name in names:
            if normalise_header(name) in index:
                found[fieldname] = index[normalise_header(name)]
                break
    missing = [f for f in required if f not in found]
    if missing:
        wanted = ", ".join(f"'{aliases[f][0]}'" for f in missing)
        raise InputFileError(
            f"{table.name}: no {wanted} column in this {tool} export (found: "
            f"{headers_shown(table.header)}); the required columns are "
            f"{', '.join(repr(aliases[f][0]) for f in required)}; export the excerpts again "
            "with those columns."
        )
    return found


def cell(cells: Sequence[str], column: int | None) -> str:
    """The stripped text of ``cells[column]``, or '' when the column is absent."""
    if column is None or column >= len(cells):
        return ""
    return cells[column].strip()


def whole_number(digits: str, where: str) -> int:
    """``digits`` as a number; refuses more than
    :data:`~isp_nlp.interchange.offsets.MAX_POSITION_DIGITS` (``where`` names the cell)."""
    if len(digits) > MAX_POSITION_DIGITS:
        raise InputFileError(
            f"{where} holds a number of {len(digits):,} digits ({digits[:8]}...); positions "
            f"have at most {MAX_POSITION_DIGITS}; correct or clear that cell and import again.")
    return int(digits)


def first_int(text: str, where: str = "a cell") -> int | None:
    """The first whole number in ``text``, or None; see :func:`whole_number`."""
    m = re.search(r"\d+", text)
    return whole_number(m.group(), where) if m else None


def _pieces(text: str) -> list[tuple[int, int]]:
    """(start, end) of the comma-separated pieces of ``text``, empty ones left out."""
    out, pos = [], 0
    for m in re.finditer(r",", text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]


def split_code_list(
    text: str, *, known: frozenset[str] = frozenset(), expected: int | None = None,
    theme: str = r": ",
) -> list[str]:
    """The code names in a cell listing several: one a line, or comma-separated.

    Code names may themselves hold commas (``T2. Security, Privacy & Trust: Access``),
    so comma pieces are grouped into the names that best explain the cell: names in
    ``known`` (casefolded) first, then exactly ``expected`` names when the file says how
    many, then, where the cell writes ``Theme: Subcode``, one ``theme`` (a regular
    expression for the separator) per name.
    """
    if "\n" in text:
        return [line.strip() for line in text.split("\n") if line.strip()]
    spans = _pieces(text)
    n = len(spans)
    if n <= 1 or n > _GROUPED_PIECES:  # grouping is cubic: a longer list is split plainly
        return [text[a:b].strip() for a, b in spans]
    sep = re.compile(theme)
    themed = any(sep.search(text[a:b]) for a, b in spans)

    def item(i: int, j: int) -> str:
        return text[spans[i][0]:spans[j - 1][1]].strip()

    def score(i: int, j: int) -> float:
        # Without a known name, a comma is taken to separate names unless it sits in the
        # theme of a themed name ("T2. Security, Privacy: Access"); a comma after the
        # separator ("Theme: a, b") is less likely than two names and scores lower.
        name = item(i, j)
        s = -0.5 * (j - i - 1)
        if name.casefold() in known:
            return s + 10
        if not themed:
            return s
        seps = sep.findall(name)
        if len(seps) != 1:
            return s - (j - i)
        return s + (1 if sep.search(text[spans[j - 1][0]:spans[j - 1][1]]) else 0.25)

    scores = [[0.0] * (n + 1) for _ in range(n)]  # each (i, j) scored once, not once per k
    for i in range(n):
        for j in range(i + 1, n + 1):
            scores[i][j] = score(i, j)
    want = expected if expected is not None and 1 <= expected <= n else None
    neg = float("-inf")
    # best[i][k]: best score of splitting spans[i:] into k names (k = 0 only at the end)
    best = [[neg] * (n + 1) for _ in range(n + 1)]
    choice = [[0] * (n + 1) for _ in range(n + 1)]
    best[n][0] = 0.0
    for i in range(n - 1, -1, -1):
        for k in range(1, n - i + 1):
            row = scores[i]
            for j in range(i + 1, n - k + 2):
                rest = best[j][k - 1]
                if rest == neg:
                    continue
                s = row[j] + rest
                if s > best[i][k]:
                    best[i][k], choice[i][k] = s, j
    k = want if want is not None and best[0][want] > neg else max(
        range(1, n + 1), key=lambda c: (best[0][c], -c))
    out, i = [], 0
    while i < n:
        j = choice[i][k]
        out.append(item(i, j))
        i, k = j, k - 1
    return out


def truthy(value: str) -> bool:
    """True for the ways spreadsheets write "applied": True, 1, yes, x."""
    v = value.strip().casefold()
    if v in ("true", "yes", "y", "x", "applied", "wahr", "vrai", "verdadeiro", "verdadero"):
        return True
    try:
        return float(v) > 0
    except ValueError:
        return False
