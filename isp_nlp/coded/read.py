"""The coded-segments CSV: the project's interchange format for coded data.

Long format, one row per (segment, coder, code). Required columns:
``document, segment, text, coder, code``; optional: ``speaker, start, end,
provenance`` and one column per single-choice dimension of the codebook, named by the
dimension's id (``stage`` for the default codebook). Column names are case-insensitive
and may carry surrounding spaces; other columns are ignored; ``,`` ``;`` or tab
separators are accepted.

* ``document`` - the transcript's document name (file stem) or file name.
* ``segment`` - the segment id from an export (may be empty).
* ``start``/``end`` - code-point offsets into the stored transcript text (may be empty).
* ``text`` - the segment text (may be empty when the id or offsets are given).
* ``coder`` - who coded the row (required).
* ``code`` - a code id or exact code name; EMPTY means the coder saw the
  segment and applied no code.
* a dimension column (``stage``, ``phase``, ...) - the coder's value of that dimension
  for the segment (empty = not given); repeated on each of the coder's rows.
* ``provenance`` - how the coding was made: one of
  :data:`~isp_nlp.records.PROVENANCES` (human, assisted, blind, consensus,
  model), case-insensitive; empty means human (or the importer's default).
  Export writes each annotation's ``source`` here, so provenance round-trips.

A row is matched to a segment of its document by segment id, else by
offsets, else by text (whitespace collapsed, case kept). Ids and offsets are
exact; when several segments share a row's text the match is a heuristic:
segments of the row's speaker (if given) are preferred, then the first one
this coder has not yet given this code (nor marked "no code", or coded at
all for a no-code row), at or after the coder's previous match in that
document (CSV rows are expected in document order).
Import is all-or-nothing: every row's problem is reported, nothing is kept.
Cells are written formula-safe and read back unescaped (:mod:`isp_nlp.coded.safe_csv`).
:func:`iter_coded_csv` streams the rows (the file is never held whole); it reports the
same problems, first the same one, as reading the whole text.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from isp_nlp.codebook.load import MAX_TABLE_BYTES, read_text_file
from isp_nlp.coded.safe_csv import restore_cell, write_safe_csv
from isp_nlp.errors import ImportCodesError, InputFileError, ProjectError
from isp_nlp.records import CODE_DIMENSION, PROVENANCES, Annotation, Segment

REQUIRED_COLUMNS = ("document", "segment", "text", "coder", "code")
OPTIONAL_COLUMNS = ("speaker", "start", "end", "provenance")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: The dimension column an older export, and the default codebook, carry (read by the
#: delimiter sniffer like a standard column).
_KNOWN_DIMENSION_COLUMNS = ("stage",)


def _import_error(source: str, problems: list[str]) -> ImportCodesError:
    problems = [" ".join(p.split()) for p in problems]  # one line each
    lines = {p.split(":", 1)[0] for p in problems}
    n = len(lines)
    noun = "row" if n == 1 else "rows"
    return ImportCodesError(
        f"{source}: {n} {noun} cannot be imported (nothing was imported); first: {problems[0]}.",
        problems,
    )


@dataclass(frozen=True)
class CodedRow:
    """One data row of a coded-segments CSV (``line`` is the 1-based file line)."""

    line: int
    document: str
    segment: str
    text: str
    coder: str
    code: str
    speaker: str = ""
    start: int | None = None
    end: int | None = None
    provenance: str = ""  # one of PROVENANCES, or "" (the importer's default)
    #: (column, cell) for every other non-empty cell, such as a dimension's value
    values: tuple[tuple[str, str], ...] = ()

    def value(self, column: str) -> str:
        """The row's cell in ``column`` (a dimension's id), "" when empty or absent."""
        return next((v for c, v in self.values if c == column), "")

    def blank(self, dimensions: Sequence[str]) -> bool:
        """Whether the row is still to be coded: no coder, no code and no value of any of
        ``dimensions`` (a row of a blank coding sheet nobody filled in)."""
        return not (self.coder or self.code or any(self.value(d) for d in dimensions))


def _provenance(value: str, line: int, problems: list[str]) -> str:
    """The provenance cell, lower-cased; an unknown value is a problem of ``line``."""
    folded = value.strip().casefold()
    if folded and folded not in PROVENANCES:
        problems.append(
            f"line {line}: provenance is '{value.strip()}', expected one of "
            f"{', '.join(PROVENANCES)} (or empty for human)"
        )
        return ""
    return folded


# --------------------------------------------------------------------------- reading


def rows_with_lines(text: str, delimiter: str, name: str) -> list[tuple[int, list[str]]]:
    """(1-based first file line, fields) per CSV record, each field with our
    formula-injection escape undone (:func:`~isp_nlp.coded.safe_csv.restore_cell`)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    out: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for record in reader:
            out.append((last + 1, [restore_cell(f) for f in record]))
            last = reader.line_num
    except csv.Error as exc:
        raise InputFileError(
            f"{name} line {reader.line_num} cannot be parsed as CSV ({exc}); check the quotes "
            "on that line (a field containing quotes must be quoted, with quotes doubled)."
        ) from exc
    return out


def choose_delimiter(text: str) -> str:
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    best, best_hits = ",", -1
    for delim in (",", ";", "\t"):
        names = {c.strip().casefold() for c in header.split(delim)}
        hits = sum(c in names for c in (*COLUMNS, *_KNOWN_DIMENSION_COLUMNS))
        if hits > best_hits:
            best, best_hits = delim, hits
    return best


def _offset(value: str, field: str, line: int, problems: list[str]) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = int(float(value)) if value.endswith(".0") else int(value)
    except ValueError:
        problems.append(f"line {line}: {field} is '{value}', expected a whole number or empty")
        return None
    if number < 0:
        problems.append(f"line {line}: {field} is {number}, expected a number of 0 or more")
        return None
    return number


def _file_lines(path: Path, what: str) -> Iterator[str]:
    """The lines of a UTF-8 text file (BOM dropped, line ends kept), streamed.

    A problem :func:`~isp_nlp.codebook.load.read_text_file` refuses (missing file, over
    MAX_TABLE_BYTES, unreadable, not UTF-8, empty, a NUL byte) is raised with its message:
    on any doubt the file is handed to it, so both readers report the same first problem.
    """
    if not path.is_file() or path.stat().st_size > MAX_TABLE_BYTES:
        read_text_file(path, what, MAX_TABLE_BYTES)
    blank = True
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for line in fh:
                if "\x00" in line:
                    break
                blank = blank and not line.strip()
                yield line
            else:
                if not blank:
                    return
    except (OSError, UnicodeDecodeError):
        pass
    read_text_file(path, what, MAX_TABLE_BYTES)  # raises the reason the file is refused
    raise InputFileError(f"{path.name} changed while it was read; try again.")


def _stream_records(path: Path, name: str) -> Iterator[tuple[int, list[str]]]:
    """(1-based first line, fields) of each CSV record with any non-blank field, streamed:
    the same records, in the same order and with the same errors, as
    :func:`rows_with_lines` over the whole text after :func:`choose_delimiter`."""
    lines = _file_lines(path, "coded-segments CSV")
    head: list[str] = []
    for text in lines:
        head.append(text)
        if text.strip():
            break
    delimiter = choose_delimiter("".join(head))
    reader = csv.reader(itertools.chain(head, lines), delimiter=delimiter, strict=True)
    last = 0
    try:
        for record in reader:
            line, last = last + 1, reader.line_num
            fields = [restore_cell(f) for f in record]
            if any(f.strip() for f in fields):
                yield line, fields
    except csv.Error as exc:
        bad_line = reader.line_num
        for _ in lines:  # a file problem further on is reported first, as when read whole
            pass
        raise InputFileError(
            f"{name} line {bad_line} cannot be parsed as CSV ({exc}); check the quotes "
            "on that line (a field containing quotes must be quoted, with quotes doubled)."
        ) from exc


def _header_columns(name: str, header: list[str]) -> InputFileError | ImportCodesError | None:
    """The header's problem (missing or repeated columns), or None."""
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        found = ", ".join(h for h in header if h) or "none"
        plural = "columns" if len(missing) > 1 else "column"
        return ImportCodesError(
            f"{name} is missing the {plural} {', '.join(missing)} (found: {found}); "
            f"the header needs {', '.join(REQUIRED_COLUMNS)}, so add or rename the columns.",
            [f"line 1: missing column '{c}'" for c in missing],
        )
    dupes = sorted({h for h in header if h in COLUMNS and header.count(h) > 1})
    if dupes:
        return ImportCodesError(
            f"{name} line 1 has the column {', '.join(dupes)} more than once; "
            "keep one column of each name.",
            [f"line 1: column '{c}' appears more than once" for c in dupes],
        )
    return None


def _parse_row(line: int, record: list[str], header: list[str], col: dict[str, int],
               extra: dict[str, int], problems: list[str]) -> CodedRow | None:
    """One data record as a :class:`CodedRow` (None when it has too many fields); its
    problems are appended to ``problems``."""
    if len(record) > len(header):
        problems.append(
            f"line {line}: has {len(record)} fields but the header has {len(header)}; "
            "put text containing the separator in double quotes"
        )
        return None

    def get(column: str) -> str:
        i = col.get(column)
        return record[i].strip() if i is not None and i < len(record) else ""

    start = _offset(get("start"), "start", line, problems)
    end = _offset(get("end"), "end", line, problems)
    if bool(get("start")) != bool(get("end")):
        given, empty = ("start", "end") if get("start") else ("end", "start")
        problems.append(
            f"line {line}: {given} is given but {empty} is empty; give both or neither"
        )
    elif start is not None and end is not None and end < start:
        problems.append(f"line {line}: end ({end}) is before start ({start}); swap them")
    return CodedRow(
        line=line,
        document=get("document"),
        segment=get("segment"),
        text=get("text"),
        coder=get("coder"),
        code=get("code"),
        speaker=get("speaker"),
        start=start,
        end=end,
        provenance=_provenance(get("provenance"), line, problems),
        values=tuple((c, v) for c, i in extra.items()
                     if i < len(record) and (v := record[i].strip())),
    )


def csv_header(path: str | Path) -> list[str]:
    """The coded-segments CSV's column names (stripped, case-folded; [] when it has none),
    read from its first record only."""
    path = Path(path)
    first = next(_stream_records(path, path.name), None)
    return [] if first is None else [h.strip().casefold() for h in first[1]]


def iter_coded_csv(path: str | Path) -> Iterator[CodedRow]:
    """:func:`read_coded_csv` streamed: rows are yielded as the file is read (memory stays
    flat however long the file). Every problem is raised only when the stream reaches it
    or ends, with the message and precedence of :func:`read_coded_csv`; a consumer that
    finds its own problems should hold them until the stream is exhausted."""
    path = Path(path)
    return iter_coded_records(_stream_records(path, path.name), path.name)


def iter_coded_records(records: Iterator[tuple[int, list[str]]], name: str
                       ) -> Iterator[CodedRow]:
    """The coded rows of ``records`` ((1-based line, cells) of each non-blank record, the
    header first) from the file ``name``: a CSV's, or a workbook's first sheet's."""
    first = next(records, None)
    if first is None:
        raise InputFileError(f"{name} has no header row; add the header {', '.join(COLUMNS)}.")
    header = [h.strip().casefold() for h in first[1]]
    refused = _header_columns(name, header)
    second = None if refused is not None else next(records, None)
    if second is None:
        for _ in records:  # a parse problem further on is reported first
            pass
        raise refused or InputFileError(
            f"{name} has a header but no data rows; add one row per coded segment."
        )
    col = {h: header.index(h) for h in COLUMNS if h in header}
    extra = {h: header.index(h) for h in header if h and h not in COLUMNS}
    problems: list[str] = []
    for line, record in itertools.chain([second], records):
        row = _parse_row(line, record, header, col, extra, problems)
        if row is not None:
            yield row
    if problems:
        raise _import_error(name, problems)


def read_coded_csv(path: str | Path) -> list[CodedRow]:
    """Read a coded-segments CSV; file problems raise InputFileError, row problems
    (missing columns, bad offsets) one ImportCodesError listing them all."""
    return list(iter_coded_csv(path))


# --------------------------------------------------------------------------- writing


def annotations_to_frame(
    annotations: Iterable[Annotation], segments_by_id: Mapping[str, Segment],
    dimensions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One CSV row per (segment, coder, code); "" code for "no code"; one column per
    single-choice dimension (``dimensions``, the codebook's ids; by default those the
    annotations use, sorted), its value repeated on each of the coder's rows.

    ``provenance`` is the source of the coder's code annotations on the
    segment (of a dimension's annotation when there is no code row).
    """
    groups: dict[tuple[str, str], list[str]] = {}
    value_of: dict[tuple[str, str], dict[str, str]] = {}
    code_source: dict[tuple[str, str], str] = {}
    value_source: dict[tuple[str, str], str] = {}
    seen_dims: set[str] = set()
    for ann in annotations:
        if ann.segment_id not in segments_by_id:
            raise ProjectError(
                f"an annotation by '{ann.coder}' refers to segment {ann.segment_id}, which is not "
                "among the given segments; include that segment's document in the export."
            )
        key = (ann.segment_id, ann.coder)
        labels = groups.setdefault(key, [])
        if ann.dimension != CODE_DIMENSION:
            seen_dims.add(ann.dimension)
            value_of.setdefault(key, {})[ann.dimension] = ann.label or ""
            value_source.setdefault(key, ann.source)
            continue
        code_source.setdefault(key, ann.source)
        if ann.label is not None and ann.label not in labels:
            labels.append(ann.label)
    dims = list(dimensions) if dimensions is not None else sorted(seen_dims)
    columns = [*REQUIRED_COLUMNS, *dims, *OPTIONAL_COLUMNS]
    coder_order = {c: i for i, c in enumerate(dict.fromkeys(c for _, c in groups))}

    def order(key: tuple[str, str]) -> tuple[str, int, int]:
        seg = segments_by_id[key[0]]
        return (seg.document, seg.index, coder_order[key[1]])

    records = []
    for key in sorted(groups, key=order):
        seg = segments_by_id[key[0]]
        values = value_of.get(key, {})
        for code in groups[key] or [""]:
            records.append(
                {
                    "document": seg.document,
                    "segment": seg.id,
                    "text": seg.text,
                    "coder": key[1],
                    "code": code,
                    **{d: values.get(d, "") for d in dims},
                    "speaker": seg.speaker or "",
                    "start": seg.start,
                    "end": seg.end,
                    "provenance": code_source.get(key) or value_source.get(key) or "human",
                }
            )
    return pd.DataFrame.from_records(records, columns=columns)


def write_coded_csv(
    data: pd.DataFrame | Iterable[Annotation],
    path: str | Path,
    segments_by_id: Mapping[str, Segment] | None = None,
    *,
    bom: bool = False,
) -> Path:
    """Write a frame from :func:`annotations_to_frame` (or annotations plus
    ``segments_by_id``) as a formula-safe UTF-8 CSV; ``bom=True`` helps Excel detect UTF-8."""
    if not isinstance(data, pd.DataFrame):
        if segments_by_id is None:
            raise TypeError("write_coded_csv needs segments_by_id when given annotations")
        data = annotations_to_frame(data, segments_by_id)
    path = Path(path)
    try:
        write_safe_csv(data, path, bom=bom)
    except OSError as exc:
        raise InputFileError(
            f"cannot write '{path}' ({exc.strerror}); check that the folder exists and is writable."
        ) from exc
    return path
