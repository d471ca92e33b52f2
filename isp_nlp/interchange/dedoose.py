"""Read a Dedoose excerpt export (CSV or .xlsx) into :class:`ExcerptRow` objects.

Dedoose writes one row per excerpt: ``Media Title``, ``Excerpt Range``
(``Page 1: 88-102`` or ``88-102``; character positions into Dedoose's copy of the
document), ``Excerpt Creator``, ``Excerpt Copy`` (the text), ``Codes Applied
Combined`` (leaf titles, comma-separated) and one ``Code: Parent\\Child Applied``
column per code (True/False or 1/0). Other columns (dates, descriptors, weights) are
ignored. The per-code columns give full code paths and win; the combined column is
used where a file has none.
"""

from __future__ import annotations

import re
from pathlib import Path

from isp_nlp.errors import InputFileError
from isp_nlp.interchange.sheet_rows import (
    ExcerptFile,
    ExcerptRow,
    Table,
    cell,
    find_columns,
    read_table,
    split_code_list,
    truthy,
    whole_number,
)

TOOL = "Dedoose"
COLUMNS: dict[str, tuple[str, ...]] = {
    "document": ("Media Title", "Media", "Media Name"),
    "text": ("Excerpt Copy", "Excerpt Text", "Excerpt"),
    "range": ("Excerpt Range", "Range"),
    "coder": ("Excerpt Creator", "Excerpt Author", "Creator"),
    "combined": ("Codes Applied Combined", "Codes Applied"),
}
REQUIRED = ("document", "text")
_CODE_PREFIX = re.compile(r"\s*code\s*:", re.IGNORECASE)
_APPLIED = re.compile(r"\sapplied", re.IGNORECASE)
# Runs of digits and spaces are taken whole (possessive, and a number starts after a
# non-digit), so a long cell is searched in linear time.
_RANGE = re.compile(r"(?:page\s*+(\d++)\s*+:\s*+)?(?<!\d)(\d++)\s*+[-–]\s*+(\d++)",
                    re.IGNORECASE)


def code_column(header: str) -> tuple[str, ...] | None:
    """The code path of a ``Code: A\\B Applied`` header, or None for another header."""
    text = header.rstrip()
    prefix = _CODE_PREFIX.match(text)
    if prefix is None or len(text) < 8 or not _APPLIED.fullmatch(text[-8:]):
        return None
    path = tuple(p.strip() for p in text[prefix.end():-8].split("\\") if p.strip())
    return path or None


def code_columns(table: Table) -> dict[int, tuple[str, ...]]:
    """Column index → code path of every ``Code: A\\B Applied`` column."""
    out = {}
    for i, header in enumerate(table.header):
        path = code_column(header)
        if path is not None:
            out[i] = path
    return out


def is_dedoose(table: Table) -> bool:
    """True when the header looks like a Dedoose excerpt export."""
    try:
        find_columns(table, COLUMNS, REQUIRED, TOOL)
    except InputFileError:
        return False
    return True


def parse_range(text: str, where: str = "the Excerpt Range"
                ) -> tuple[int, int | None, int | None]:
    """(page, start, end) of an ``Excerpt Range``; page 0 and None offsets when unreadable.
    A number of more than :data:`~isp_nlp.interchange.offsets.MAX_POSITION_DIGITS` digits is
    refused (``where`` names the cell)."""
    m = _RANGE.search(text)
    if not m:
        return 0, None, None
    page, start, end = (whole_number(m.group(k) or "0", where) for k in (1, 2, 3))
    return page, start, end


def rows_from_table(table: Table, *, known: frozenset[str] = frozenset()) -> ExcerptFile:
    """The excerpts of a Dedoose export already read as a :class:`Table`."""
    cols = find_columns(table, COLUMNS, REQUIRED, TOOL)
    per_code = code_columns(table)
    if not per_code and "combined" not in cols:
        raise InputFileError(
            f"{table.name}: this Dedoose export has no 'Codes Applied Combined' column and no "
            "'Code: ... Applied' columns, so no codes; the required columns are 'Media Title', "
            "'Excerpt Copy' and one of those; export the excerpts again with the codes."
        )
    rows: list[ExcerptRow] = []
    for number, cells in table.rows:
        codes = [path for i, path in per_code.items() if i < len(cells) and truthy(cells[i])]
        if not codes:
            combined = cell(cells, cols.get("combined"))
            codes = [tuple(p.strip() for p in name.split("\\") if p.strip())
                     for name in split_code_list(combined, known=known, theme=r"\\")]
        excerpt_range = cell(cells, cols.get("range"))
        page, start, end = parse_range(excerpt_range,
                                       f"{table.name} row {number} 'Excerpt Range'")
        text = cells[cols["text"]] if cols["text"] < len(cells) else ""
        rows.append(ExcerptRow(
            document=cell(cells, cols["document"]), text=text.strip(),
            codes=tuple(dict.fromkeys(c for c in codes if c)), coder=cell(cells, cols.get("coder")),
            start=start, end=end, unit="char", page=page, row=number,
            label=excerpt_range or f"row {number}",
        ))
    return ExcerptFile(tool="dedoose", rows=tuple(rows), has_coder_column="coder" in cols,
                       warnings=table.warnings)


def read_dedoose(path: str | Path, *, known: frozenset[str] = frozenset()) -> ExcerptFile:
    """Read a Dedoose excerpt export (.csv in any encoding Dedoose writes, or .xlsx).

    ``known`` are casefolded code names that may hold commas, to split the combined column.
    """
    return rows_from_table(read_table(path), known=known)
