"""Participant/document attributes (role, site, wave ...) and code × attribute tables.

:func:`import_attributes` reads a CSV with a ``document`` column (a document's name, or
the file name it was ingested from, as ``show --document`` takes it) and one column per
attribute, all rows or none: every problem is named by file, line and field. A row sets
its document's value of each column; an empty cell removes that value. Attributes travel
in a .qdpx as REFI-QDA cases with variables (:mod:`isp_nlp.interchange.refi_xml`).

:func:`attribute_table` counts, for each code and each value of an attribute, the distinct
segments of documents with that value that a coder gave the code, counting independent
codes only: sources ``human``, ``blind`` and ``consensus`` (:data:`COUNTED_SOURCES`; not
``assisted`` codes given by deciding on a suggestion, nor the model's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from isp_nlp.analysis.show import document_hint, match_document
from isp_nlp.codebook.load import MAX_TABLE_BYTES, read_text_file
from isp_nlp.coded.read import rows_with_lines
from isp_nlp.errors import ImportCodesError, IspNlpError, closest
from isp_nlp.records import CERTIFYING_SOURCES, CODE_DIMENSION, NO_VALUE
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook

DOCUMENT_COLUMN = "document"
#: The sources whose codes the code × attribute table counts.
COUNTED_SOURCES = CERTIFYING_SOURCES
MAX_NAME_CHARS = 100
MAX_VALUE_CHARS = 1000


@dataclass(frozen=True)
class AttributesImport:
    """What an attributes CSV changed."""

    file: str
    documents: int
    attributes: tuple[str, ...]
    set: int
    removed: int
    unchanged: int


@dataclass(frozen=True)
class AttributeTable:
    """Codes × the values of one attribute: ``counts[row][value]`` distinct segments.
    ``rows`` are (label, code name) in codebook order, codes then dimension values."""

    attribute: str
    values: tuple[str, ...]
    documents: dict[str, int]  # documents per value
    rows: tuple[tuple[str, str], ...]
    counts: dict[str, dict[str, int]]
    coded: dict[str, int]  # distinct segments with any counted code, per value
    unused: int  # codes no counted source applied (left out of rows)
    sources: tuple[str, ...] = COUNTED_SOURCES


def _delimiter(header_line: str) -> str:
    best, hits = ",", -1
    for delim in (",", ";", "\t"):
        n = sum(c.strip().casefold() == DOCUMENT_COLUMN for c in header_line.split(delim)) \
            * 100 + header_line.count(delim)
        if n > hits:
            best, hits = delim, n
    return best


def _header(name: str, fields: list[str]) -> tuple[int, list[tuple[int, str]]]:
    """(index of the document column, [(index, attribute name)]) of the header row."""
    problems: list[str] = []
    names = [f.strip() for f in fields]
    doc = [i for i, f in enumerate(names) if f.casefold() == DOCUMENT_COLUMN]
    if not doc:
        problems.append(f"line 1: no '{DOCUMENT_COLUMN}' column (found "
                        f"{', '.join(repr(n) for n in names[:6])}); the first row must name "
                        f"the columns, e.g. {DOCUMENT_COLUMN},role,site")
    elif len(doc) > 1:
        problems.append(f"line 1: the '{DOCUMENT_COLUMN}' column appears {len(doc)} times; "
                        "keep one")
    seen: dict[str, int] = {}
    columns: list[tuple[int, str]] = []
    for i, field in enumerate(names):
        if doc and i == doc[0]:
            continue
        if not field:
            problems.append(f"line 1: column {i + 1} has no name; name it (e.g. role) or "
                            "delete the column")
        elif len(field) > MAX_NAME_CHARS:
            problems.append(f"line 1: column {i + 1}'s name has {len(field)} characters, "
                            f"more than {MAX_NAME_CHARS}; shorten it")
        elif field.casefold() in seen:
            problems.append(f"line 1: column {i + 1} '{field}' repeats column "
                            f"{seen[field.casefold()] + 1}; give each attribute one column")
        else:
            seen[field.casefold()] = i
            columns.append((i, field))
    if not problems and not columns:
        problems.append(f"line 1: only a '{DOCUMENT_COLUMN}' column; add one column per "
                        "attribute (e.g. role, site, wave)")
    if problems:
        raise ImportCodesError(f"{name}: the header cannot be used (nothing was imported); "
                               f"{problems[0]}.", problems)
    return doc[0], columns


def import_attributes(store: Store, path: str | Path) -> AttributesImport:
    """Set documents' attributes from the CSV at ``path``, all rows or none."""
    path = Path(path)
    text = read_text_file(path, "attributes CSV", MAX_TABLE_BYTES)
    header_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    records = [(line, fields) for line, fields in
               rows_with_lines(text, _delimiter(header_line), path.name)
               if any(f.strip() for f in fields)]
    if not records:
        raise IspNlpError(f"{path.name} holds no header row; its first row must name the "
                          f"columns, e.g. {DOCUMENT_COLUMN},role,site.")
    header_at, header = records[0]
    doc_col, columns = _header(path.name, header)
    known = store.document_names()
    problems: list[str] = []
    first_line: dict[str, int] = {}
    values: list[tuple[str, str, str | None]] = []
    for line, fields in records[1:]:
        if len(fields) > len(header):
            problems.append(f"line {line}: {len(fields)} fields, but the header has "
                            f"{len(header)}; quote cells that hold the delimiter")
            continue
        fields = fields + [""] * (len(header) - len(fields))
        name = fields[doc_col].strip()
        if not name:
            problems.append(f"line {line}: {DOCUMENT_COLUMN} is empty; name the document "
                            "(as `isp-nlp status` lists it)")
            continue
        document = match_document(known, name)
        if document is None:
            problems.append(f"line {line}: {DOCUMENT_COLUMN} '{name}' is not in the project; "
                            f"{document_hint(name, known.values())}")
            continue
        if document in first_line:
            problems.append(f"line {line}: {DOCUMENT_COLUMN} '{name}' is given again (first "
                            f"on line {first_line[document]}); keep one row per document")
            continue
        first_line[document] = line
        for i, attribute in columns:
            value = fields[i].strip()
            if len(value) > MAX_VALUE_CHARS:
                problems.append(f"line {line}: {attribute} has {len(value):,} characters, "
                                f"more than {MAX_VALUE_CHARS:,}; shorten it")
                continue
            values.append((document, attribute, value or None))
    if problems:
        rows = {p.split(":", 1)[0] for p in problems}
        raise ImportCodesError(
            f"{path.name}: {len(rows)} row(s) cannot be imported (nothing was imported); "
            f"first: {problems[0]}{'' if problems[0].endswith('?') else '.'}", problems)
    if not first_line:
        raise IspNlpError(f"{path.name} has a header (line {header_at}) but no rows; add "
                          f"one row per document: its name in '{DOCUMENT_COLUMN}', then its "
                          "values.")
    counts = store.set_attributes(values)
    return AttributesImport(file=path.name, documents=len(first_line),
                            attributes=tuple(a for _, a in columns), set=counts["set"],
                            removed=counts["removed"], unchanged=counts["unchanged"])


def find_attribute(store: Store, name: str, *, option: str = "--table") -> str:
    """The project's attribute ``name`` names (any case); else one sentence, naming
    ``option``, with the closest name."""
    names = store.attribute_names()
    by_fold = {n.casefold(): n for n in names}
    if name.strip().casefold() in by_fold:
        return by_fold[name.strip().casefold()]
    if not names:
        raise IspNlpError("the project has no attributes yet; import them with "
                          "`isp-nlp attributes FILE.csv` (a document column, then one column "
                          "per attribute).")
    close = closest(name, names)
    hint = (f"did you mean '{close}'?" if close is not None
            else f"expected one of {', '.join(names)}.")
    raise IspNlpError(f"{option} '{name}' is not an attribute of this project; {hint}")


def attribute_table(store: Store, attribute: str) -> AttributeTable:
    """Codes × the values of ``attribute`` (see the module docstring)."""
    codebook = require_codebook(store)
    attribute = find_attribute(store, attribute)
    of_document = {d: v.get(attribute, NO_VALUE) for d, v in store.attributes().items()}
    documents: dict[str, int] = {}
    for t in store.transcripts():
        value = of_document.get(t["document"], NO_VALUE)
        documents[value] = documents.get(value, 0) + 1
    value_of = {s.id: of_document.get(s.document, NO_VALUE) for s in store.segments()}
    rows: list[tuple[str, str]] = [(c.id, c.name) for c in codebook.codes]
    rows += [(f"{d.id}={v.id}", v.name) for d in codebook.dimensions for v in d.values]
    keys = {(CODE_DIMENSION, c.id): c.id for c in codebook.codes} | {
        (d.id, v.id): f"{d.id}={v.id}" for d in codebook.dimensions for v in d.values}
    segments: dict[str, dict[str, set[str]]] = {}
    coded: dict[str, set[str]] = {}
    for a in store.annotations():
        if a.source not in COUNTED_SOURCES or a.label is None or a.segment_id not in value_of:
            continue
        key = keys.get((a.dimension, a.label))
        if key is None:
            continue
        value = value_of[a.segment_id]
        segments.setdefault(key, {}).setdefault(value, set()).add(a.segment_id)
        coded.setdefault(value, set()).add(a.segment_id)
    ordered = sorted(v for v in documents if v != NO_VALUE)
    values = tuple(ordered + ([NO_VALUE] if NO_VALUE in documents else []))
    used = tuple(r for r in rows if r[0] in segments)
    return AttributeTable(
        attribute=attribute, values=values, documents=documents, rows=used,
        counts={key: {v: len(s) for v, s in by_value.items()}
                for key, by_value in segments.items()},
        coded={v: len(s) for v, s in coded.items()}, unused=len(rows) - len(used))
