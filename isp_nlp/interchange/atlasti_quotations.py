"""Read an ATLAS.ti quotation export (CSV or .xlsx) into :class:`ExcerptRow` objects.

ATLAS.ti writes one row per quotation. Its versions and interface languages name the
columns differently (``Text Content``/``Quotation Content``/``Inhalt``,
``Initial Position``/``Start``, ``Extensão``...) and use comma, semicolon or tab
delimiters, so columns are found by aliases and the delimiter is detected.

- text: one pair of quotes around the quotation (``"…"``) is dropped;
- codes: ``Theme: Subcode`` names (path Theme → Subcode), one a line or
  comma-separated; code names may hold commas, so ``Number of Codes`` and known
  names decide how to group the pieces (:func:`split_code_list`). A first item that
  repeats the quotation's own text in quotes is not a code and is left out;
- position: the paragraph (``¶ 4``, ``¶ 4 – 6`` with a thin space, or the
  ``Initial``/``Final Position`` columns).
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
    first_int,
    read_table,
    split_code_list,
    whole_number,
)

TOOL = "ATLAS.ti quotation"
#: ``Theme: Subcode`` or ATLAS.ti's own prefix convention ``Theme::Subcode``.
THEME_SEP = r"::|: "
COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("Text Content", "Quotation Content", "Quotation", "Content", "Text", "Quote",
             "Zitatinhalt", "Inhalt", "Textinhalt", "Zitat", "Conteúdo", "Conteúdo do texto",
             "Texto", "Contenido", "Contenu", "Citation", "Contenuto", "Citazione"),
    "document": ("Document", "Document Name", "Documents", "Primary Document", "Dokument",
                 "Dokumentname", "Documento", "Nome do documento", "Nombre del documento",
                 "Nom du document", "Documenti"),
    "codes": ("Codes", "Code", "Kodes", "Codes (names)", "Códigos", "Codigos", "Codici",
              "Kodierungen", "Coded with"),
    "number": ("Number", "ID", "Quotation ID", "Nummer", "Número", "Numero", "Numéro", "Nr",
               "No"),
    "reference": ("Reference", "Referenz", "Referência", "Referencia", "Référence",
                  "Riferimento", "Location", "Position"),
    "coder": ("Created by", "Creator", "Author", "Autor", "Erstellt von", "Criado por",
              "Creado por", "Créé par", "Creato da", "User", "Benutzer", "Usuário", "Usuario"),
    "start": ("Initial Position", "Start", "Start Position", "Anfangsposition", "Anfang",
              "Posição inicial", "Posição Inicial", "Posicion inicial", "Position initiale",
              "Inizio"),
    "end": ("Final Position", "End", "End Position", "Endposition", "Ende", "Posição final",
            "Posicion final", "Position finale", "Fine"),
    "n_codes": ("Number of Codes", "Number of codes", "Anzahl Codes", "Anzahl der Codes",
                "Número de códigos", "Número de Códigos", "Nombre de codes",
                "Numero di codici", "Codes count"),
}
REQUIRED = ("text", "document", "codes")
_PARAGRAPH = re.compile(r"¶\s*+(\d++)(?:\s*+[-–—]\s*+(\d++))?")
_QUOTED_FIRST = re.compile(r'^\s*["“„](.*?)["”]\s*(?:,\s*|$)', re.DOTALL)
_QUOTES = (('"', '"'), ("“", "”"), ("„", "“"), ("«", "»"))
_SPACES = re.compile(r"\s+")


def is_atlasti(table: Table) -> bool:
    """True when the header looks like an ATLAS.ti quotation export."""
    try:
        find_columns(table, COLUMNS, REQUIRED, TOOL)
    except InputFileError:
        return False
    return True


def unquote(text: str) -> str:
    """``text`` without one pair of quotes around all of it."""
    t = text.strip()
    for left, right in _QUOTES:
        if len(t) >= 2 and t.startswith(left) and t.endswith(right):
            return t[len(left):-len(right)].strip()
    return t


def _same(a: str, b: str) -> bool:
    return _SPACES.sub(" ", a).strip().casefold() == _SPACES.sub(" ", b).strip().casefold()


def code_path(name: str) -> tuple[str, ...]:
    """``Theme: Subcode`` → ("Theme", "Subcode"), ``A::B::C`` → ("A", "B", "C"); a name
    without a theme is its own path."""
    if "::" in name:
        parts = tuple(p.strip() for p in name.split("::"))
    else:
        theme, _, sub = name.partition(": ")
        parts = (theme.strip(), sub.strip())
    return parts if len(parts) > 1 and all(parts) else (name,)


def parse_codes(value: str, text: str, expected: int | None,
                known: frozenset[str]) -> tuple[list[str], bool]:
    """The code names of a ``Codes`` cell and whether a leading quoted copy of the
    quotation's text was left out. Another leading quoted name (an in-vivo code) is kept."""
    m = _QUOTED_FIRST.match(value)
    if not m:
        return split_code_list(value, known=known, expected=expected, theme=THEME_SEP), False
    rest = split_code_list(value[m.end():], known=known,
                           expected=expected - 1 if expected is not None else None,
                           theme=THEME_SEP)
    if _same(m.group(1), text):
        return rest, True
    return [m.group(0).strip().rstrip(",").strip(), *rest], False


def _position(cells: tuple[str, ...], cols: dict[str, int], where: str
              ) -> tuple[int | None, int | None]:
    m = _PARAGRAPH.search(cell(cells, cols.get("reference")))
    if m:
        first = whole_number(m.group(1), f"{where} 'Reference'")
        return first, whole_number(m.group(2), f"{where} 'Reference'") if m.group(2) else first
    start = first_int(cell(cells, cols.get("start")), f"{where} 'Initial Position'")
    end = first_int(cell(cells, cols.get("end")), f"{where} 'Final Position'")
    return start, end if end is not None else start


def rows_from_table(table: Table, *, known: frozenset[str] = frozenset()) -> ExcerptFile:
    """The quotations of an ATLAS.ti export already read as a :class:`Table`."""
    cols = find_columns(table, COLUMNS, REQUIRED, TOOL)
    rows: list[ExcerptRow] = []
    dropped = 0
    for number, cells in table.rows:
        text = unquote(cells[cols["text"]] if cols["text"] < len(cells) else "")
        where = f"{table.name} row {number}"
        expected = first_int(cell(cells, cols.get("n_codes")), f"{where} 'Number of Codes'")
        names, was_dropped = parse_codes(cell(cells, cols["codes"]), text, expected, known)
        dropped += was_dropped
        start, end = _position(cells, cols, where)
        label = cell(cells, cols.get("number")) or f"row {number}"
        rows.append(ExcerptRow(
            document=cell(cells, cols["document"]), text=text,
            codes=tuple(dict.fromkeys(code_path(unquote(n)) for n in names if unquote(n))),
            coder=cell(cells, cols.get("coder")), start=start, end=end, unit="paragraph",
            row=number, label=f"quotation {label}",
        ))
    warnings = list(table.warnings)
    if dropped:
        warnings.append(f"{table.name}: {dropped} quotation(s) list their own text, in quotes, "
                        "as the first of their codes; that item is not imported as a code.")
    return ExcerptFile(tool="atlasti", rows=tuple(rows), has_coder_column="coder" in cols,
                       warnings=tuple(warnings))


def read_atlasti_quotations(path: str | Path, *,
                            known: frozenset[str] = frozenset()) -> ExcerptFile:
    """Read an ATLAS.ti quotation export (.csv with any delimiter, or .xlsx).

    ``known`` are casefolded code names (``Theme: Subcode`` too) that may hold commas.
    """
    return rows_from_table(read_table(path), known=known)
