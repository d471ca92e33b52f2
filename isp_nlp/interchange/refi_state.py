"""What a REFI-QDA archive cannot hold, carried beside it so isp-nlp reads back exactly
what it wrote.

REFI-QDA has no place for a coder's "seen, no code", for which spans are segment labels
rather than drawn spans, for the segmentation, for a code's include/exclude/examples, for
the codebook's single-choice dimensions (their order, pathway and values outside the
order; the XML only shows each as a non-codable parent code) or for the review log.
:func:`state_bytes` writes them as one JSON member, :data:`STATE_MEMBER`, of the
``.qdpx`` (the standard's archive holds ``project.qde`` and
``sources/``; other tools ignore further members). It records the SHA-256 of the
``project.qde`` it was written with: :func:`read_state` accepts it only when that file is
unchanged, so a project edited in another tool and exported again is read from its XML
alone. Every value is checked before use; a state that does not hold together refuses
the import, naming what is wrong.

Version 2 writes the codebook's dimensions (``codebook.dimensions``: id, name, definition,
ordered, pathway, unordered, guid and the value ids in order; the values themselves are
in ``codebook.codes`` with their dimension's id). A code's ``exclusive`` flag (its children
are mutually exclusive; REFI-QDA's XML has no attribute for it) is written by every
export and read as false when absent (states written before it). A version 1 state, written before
dimensions could be declared, is still read: its ``stage`` codes become the default stage
dimension.

Positions in the state are code points into the exported texts (which are the stored
texts: a document whose stored text differs from its exported text is left out of the
state and read from the XML).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from isp_nlp.codebook.check import (
    DIMENSION_ID,
    MAX_CODE_DEPTH,
    MAX_CODES,
    RESERVED_DIMENSION_IDS,
    stage_dimension,
    too_deep,
)
from isp_nlp.errors import InputFileError
from isp_nlp.records import (
    CODE_DIMENSION,
    PROVENANCES,
    STAGE_DIMENSION,
    STAGES,
    Annotation,
    Code,
    Codebook,
    Coder,
    Coding,
    Dimension,
    Segment,
    Transcript,
    Turn,
    segment_id,
)

STATE_MEMBER = "isp-nlp/state.json"
FORMAT = "isp-nlp project state"
VERSION = 2
#: Versions read: 1 (before dimensions; its "stage" codes are the default stage dimension).
READ_VERSIONS = (1, 2)
#: The largest state member read (as a project.qde).
MAX_STATE_BYTES = 256 * 1024**2
POSITION_UNITS = ("codepoints", "utf16")
#: The dimensions a version 1 state knows.
_V1_DIMENSIONS = (CODE_DIMENSION, STAGE_DIMENSION)


@dataclass(frozen=True)
class DocumentState:
    """A document as the exporting project held it: its transcript record and segments."""

    transcript: Transcript
    unit: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class LogEntry:
    """One row of the decision log; ``undoes`` is the index of the undone entry."""

    coder: str
    action: str
    item_key: str | None
    segment_id: str | None
    model_id: str | None
    detail: str
    undoes: int | None
    at: str


@dataclass(frozen=True)
class ProjectState:
    """The exporting project's state (see the module docstring)."""

    positions: str
    codebook: Codebook
    documents: Mapping[str, DocumentState]
    codings: tuple[Coding, ...]
    annotations: tuple[Annotation, ...]
    log: tuple[LogEntry, ...]
    coders: tuple[Coder, ...] = ()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- writing


def _code(c: Code) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "parent": c.parent, "definition": c.definition,
            "include": c.include, "exclude": c.exclude, "examples": list(c.examples),
            "dimension": c.dimension, "color": c.color, "guid": c.guid,
            "exclusive": c.exclusive}


def _dimension_entry(d: Dimension) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "definition": d.definition, "ordered": d.ordered,
            "pathway": d.pathway, "unordered": list(d.unordered), "guid": d.guid,
            "values": list(d.value_ids)}


def state_bytes(*, qde: bytes, positions: str, codebook: Codebook,
                documents: Sequence[DocumentState], codings: Sequence[Coding],
                annotations: Sequence[Annotation], log: Sequence[LogEntry],
                coders: Sequence[Coder] = ()) -> bytes:
    """The state member for an archive whose ``project.qde`` is ``qde``."""
    segment_at = {s.id: (d.transcript.document, s.start, s.end)
                  for d in documents for s in d.segments}
    body = {
        "format": FORMAT, "version": VERSION,
        "project_qde_sha256": hashlib.sha256(qde).hexdigest(),
        "positions": positions,
        "codebook": {"name": codebook.name,
                     "codes": [_code(c) for c in (*codebook.codes, *(
                         v for d in codebook.dimensions for v in d.values))],
                     "dimensions": [_dimension_entry(d) for d in codebook.dimensions]},
        "documents": [{
            "document": d.transcript.document, "name": d.transcript.name,
            "sha256": d.transcript.sha256, "text_sha256": text_sha256(d.transcript.text),
            "source_format": d.transcript.source_format, "unit": d.unit,
            "warnings": list(d.transcript.warnings),
            "turns": [asdict(t) for t in d.transcript.turns],
            "segments": [[s.start, s.end, s.turn_index, s.unit, s.speaker, s.codable]
                         for s in d.segments]} for d in documents],
        "codings": [[c.document, c.start, c.end, c.dimension, c.code, c.coder, c.source,
                     c.guid, c.created_at] for c in codings],
        "annotations": [[*segment_at[a.segment_id], a.coder, a.dimension, a.label, a.source]
                        for a in annotations if a.segment_id in segment_at],
        "log": [asdict(e) for e in log],
        "coders": [[c.name, c.guid, c.initials] for c in coders],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- reading


class _Bad(Exception):
    """A value of the state that does not hold together."""


def _str(value: Any, what: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{what} is not text")
    return value


def _int(value: Any, what: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Bad(f"{what} is not a whole number")
    return value


def _list(value: Any, what: str, length: int | None = None) -> list:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise _Bad(f"{what} is not a list" + (f" of {length}" if length else ""))
    return value


def _dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise _Bad(f"{what} is not an object")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"{what} is not true or false")
    return value


def _codebook(raw: Any, version: int) -> Codebook:
    raw = _dict(raw, "codebook")
    codes: list[Code] = []
    values: dict[str, list[Code]] = {}
    for i, c in enumerate(_list(raw.get("codes"), "codebook codes")):
        c = _dict(c, f"code {i + 1}")
        examples = tuple(_str(x, f"an example of code {i + 1}")
                         for x in _list(c.get("examples"), f"examples of code {i + 1}"))
        dimension = _str(c.get("dimension"), f"the dimension of code {i + 1}")
        if version == 1 and dimension not in _V1_DIMENSIONS:
            raise _Bad(f"code {i + 1} has the unknown dimension {dimension!r}")
        code = Code(id=_str(c.get("id"), f"the id of code {i + 1}"),
                    name=_str(c.get("name"), f"the name of code {i + 1}"),
                    parent=_str(c.get("parent"), f"the parent of code {i + 1}", optional=True),
                    definition=_str(c.get("definition"), f"the definition of code {i + 1}"),
                    include=_str(c.get("include"), f"the include of code {i + 1}"),
                    exclude=_str(c.get("exclude"), f"the exclude of code {i + 1}"),
                    examples=examples, dimension=dimension,
                    color=_str(c.get("color"), f"the colour of code {i + 1}"),
                    guid=_str(c.get("guid"), f"the GUID of code {i + 1}"),
                    exclusive=_bool(c.get("exclusive", False),
                                    f"the exclusive flag of code {i + 1}"))
        if code.exclusive and dimension != CODE_DIMENSION:
            raise _Bad(f"code {i + 1} is a value of dimension {dimension!r} marked exclusive")
        (codes if dimension == CODE_DIMENSION else values.setdefault(dimension, [])
         ).append(code)
    if version == 1:  # the stage codes, if any, are the default stage dimension
        stages = values.pop(STAGE_DIMENSION, [])
        dimensions: tuple[Dimension, ...] = (stage_dimension(tuple(stages)),) if stages else ()
        if any(s.id not in STAGES for s in stages):
            raise _Bad(f"its codebook has a stage that is not one of {', '.join(STAGES)}")
    else:
        dimensions = _dimensions(raw.get("dimensions"), values)
    book = Codebook(name=_str(raw.get("name"), "the codebook's name"), codes=tuple(codes),
                    dimensions=dimensions)
    _check_codebook(book)
    return book


def _dimensions(raw: Any, values: dict[str, list[Code]]) -> tuple[Dimension, ...]:
    """The codebook's dimensions; ``values`` are its value codes by dimension id (each
    dimension must list exactly its own, and no value may be left without a dimension)."""
    out: list[Dimension] = []
    for i, d in enumerate(_list(raw, "the codebook's dimensions")):
        d = _dict(d, f"dimension {i + 1}")
        dim_id = _str(d.get("id"), f"the id of dimension {i + 1}")
        if (not DIMENSION_ID.fullmatch(dim_id) or dim_id.casefold() in RESERVED_DIMENSION_IDS
                or any(x.id == dim_id for x in out)):
            raise _Bad(f"dimension {i + 1} has an empty, reserved or repeated id")
        codes = values.pop(dim_id, [])
        held = {v.id: v for v in codes if v.parent is None}
        ids = [_str(v, f"a value of dimension '{dim_id}'")
               for v in _list(d.get("values"), f"the values of dimension '{dim_id}'")]
        if (len(set(ids)) != len(ids) or len(held) != len(codes) or set(ids) != set(held)
                or len(ids) < 2):
            raise _Bad(f"dimension '{dim_id}' does not list exactly its own values "
                       "(at least two)")
        unordered = tuple(_str(v, f"a value of dimension '{dim_id}'") for v in _list(
            d.get("unordered"), f"the values outside the order of dimension '{dim_id}'"))
        ordered = _bool(d.get("ordered"), f"the order flag of dimension '{dim_id}'")
        pathway = _bool(d.get("pathway"), f"the pathway flag of dimension '{dim_id}'")
        if not set(unordered) <= set(ids) or (unordered and not ordered):
            raise _Bad(f"dimension '{dim_id}' has values outside an order it lacks")
        if pathway and (not ordered or any(x.pathway for x in out)):
            raise _Bad(f"dimension '{dim_id}' is a second or unordered pathway dimension")
        out.append(Dimension(
            id=dim_id, name=_str(d.get("name"), f"the name of dimension '{dim_id}'"),
            values=tuple(held[v] for v in ids), ordered=ordered, pathway=pathway,
            unordered=unordered,
            definition=_str(d.get("definition"), f"the definition of dimension '{dim_id}'"),
            guid=_str(d.get("guid"), f"the GUID of dimension '{dim_id}'")))
    if values:
        raise _Bad(f"its codebook has values of the undeclared dimension "
                   f"{sorted(values)[0]!r}")
    return tuple(out)


def _check_codebook(book: Codebook) -> None:
    """Ids unique and non-empty, parents held and acyclic, within the codebook limits."""
    if len(book.codes) > MAX_CODES:
        raise _Bad(f"its codebook holds more than {MAX_CODES:,} codes")
    for group in (book.codes, *(d.values for d in book.dimensions)):
        ids = [c.id for c in group]
        if "" in ids or len(set(ids)) != len(ids):
            raise _Bad("its codebook has an empty or repeated code id")
    parent_of = {c.id: c.parent for c in book.codes}
    for code in book.codes:
        seen: set[str] = set()
        node: str | None = code.id
        while node is not None:
            if node in seen or node not in parent_of:
                raise _Bad(f"code '{code.id}' has a parent that is missing or a cycle")
            seen.add(node)
            node = parent_of[node]
    if too_deep(book.codes) is not None:
        raise _Bad(f"its codebook nests codes beyond {MAX_CODE_DEPTH} levels")


def _document(raw: Any, texts: Mapping[str, str]) -> DocumentState | None:
    raw = _dict(raw, "a document")
    document = _str(raw.get("document"), "a document's name")
    text = texts.get(document)
    if text is None or text_sha256(text) != raw.get("text_sha256"):
        return None  # its text in the archive is not the one the state describes
    turns: list[Turn] = []
    for i, t in enumerate(_list(raw.get("turns"), f"the turns of '{document}'")):
        t = _dict(t, f"turn {i + 1} of '{document}'")
        start, end = _int(t.get("start"), "a turn start"), _int(t.get("end"), "a turn end")
        if not start <= end <= len(text):
            raise _Bad(f"turn {i + 1} of '{document}' lies outside its text")
        turns.append(Turn(index=_int(t.get("index"), "a turn index"),
                          speaker=_str(t.get("speaker"), "a speaker", optional=True),
                          start=start, end=end,
                          t_start=_float(t.get("t_start")), t_end=_float(t.get("t_end")),
                          line=_int(t.get("line"), "a turn's line", optional=True)))
    segments: list[Segment] = []
    for i, s in enumerate(_list(raw.get("segments"), f"the segments of '{document}'")):
        start, end, turn, unit, speaker, codable = _list(s, f"segment {i + 1} of "
                                                            f"'{document}'", 6)
        start, end = _int(start, "a segment start"), _int(end, "a segment end")
        if not start < end <= len(text):
            raise _Bad(f"segment {i + 1} of '{document}' lies outside its text")
        if not isinstance(codable, bool):
            raise _Bad(f"segment {i + 1} of '{document}' has no codable flag")
        segments.append(Segment(segment_id(document, start, end), document, i,
                                _int(turn, "a segment's turn"), _str(unit, "a segment unit"),
                                _str(speaker, "a speaker", optional=True), start, end,
                                text[start:end], codable))
    transcript = Transcript(
        document=document, name=_str(raw.get("name"), f"the file name of '{document}'"),
        sha256=_str(raw.get("sha256"), f"the hash of '{document}'"), text=text,
        turns=tuple(turns),
        source_format=_str(raw.get("source_format"), f"the format of '{document}'"),
        warnings=tuple(_str(w, "a warning") for w in _list(raw.get("warnings"), "warnings")))
    return DocumentState(transcript, _str(raw.get("unit"), f"the unit of '{document}'"),
                         tuple(segments))


def _float(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Bad("a turn time is not a number")
    return float(value)


def _codings(raw: Any, documents: Mapping[str, DocumentState], dimensions: Sequence[str]
             ) -> tuple[Coding, ...]:
    out: list[Coding] = []
    for i, row in enumerate(_list(raw, "codings")):
        doc, start, end, dim, code, coder, source, guid, at = _list(row, f"coding {i + 1}", 9)
        doc = _str(doc, f"the document of coding {i + 1}")
        if doc not in documents:
            continue
        start, end = _int(start, "a coding start"), _int(end, "a coding end")
        if not start < end <= len(documents[doc].transcript.text):
            raise _Bad(f"coding {i + 1} lies outside the text of '{doc}'")
        out.append(Coding(doc, start, end, _str(code, "a code"), _str(coder, "a coder"),
                          _dimension(dim, f"coding {i + 1}", dimensions), _source(source, i),
                          _str(guid, "a GUID"), _str(at, "a date")))
    return tuple(out)


def _dimension(value: Any, what: str, dimensions: Sequence[str]) -> str:
    if value not in dimensions:
        raise _Bad(f"{what} has an unknown dimension")
    return str(value)


def _source(value: Any, i: int) -> str:
    if value not in PROVENANCES:
        raise _Bad(f"row {i + 1} has the unknown provenance {value!r}")
    return str(value)


def _annotations(raw: Any, documents: Mapping[str, DocumentState], dimensions: Sequence[str]
                 ) -> tuple[Annotation, ...]:
    at = {(d, s.start, s.end): s.id for d, state in documents.items() for s in state.segments}
    out: list[Annotation] = []
    for i, row in enumerate(_list(raw, "annotations")):
        doc, start, end, coder, dim, label, source = _list(row, f"annotation {i + 1}", 7)
        if _str(doc, f"the document of annotation {i + 1}") not in documents:
            continue
        seg = at.get((doc, start, end))
        if seg is None:
            raise _Bad(f"annotation {i + 1} is on no segment of '{doc}'")
        out.append(Annotation(seg, _str(coder, "a coder"),
                              _dimension(dim, "an annotation", dimensions),
                              _str(label, "a label", optional=True), _source(source, i)))
    return tuple(out)


def _log(raw: Any) -> tuple[LogEntry, ...]:
    out: list[LogEntry] = []
    for i, e in enumerate(_list(raw, "log")):
        e = _dict(e, f"log entry {i + 1}")
        undoes = _int(e.get("undoes"), "an undone entry", optional=True)
        if undoes is not None and undoes >= i:
            raise _Bad(f"log entry {i + 1} undoes an entry that does not come before it")
        out.append(LogEntry(
            coder=_str(e.get("coder"), "a log coder"), action=_str(e.get("action"), "an action"),
            item_key=_str(e.get("item_key"), "an item key", optional=True),
            segment_id=_str(e.get("segment_id"), "a segment id", optional=True),
            model_id=_str(e.get("model_id"), "a model id", optional=True),
            detail=_str(e.get("detail"), "a log detail"), undoes=undoes,
            at=_str(e.get("at"), "a log time")))
    return tuple(out)


def _coders(raw: Any) -> tuple[Coder, ...]:
    out: list[Coder] = []
    for i, row in enumerate(_list(raw, "coders")):
        name, guid, initials = _list(row, f"coder {i + 1}", 3)
        out.append(Coder(_str(name, "a coder's name"), _str(guid, "a coder's GUID"),
                         _str(initials, "a coder's initials")))
    return tuple(out)


def read_state(raw: bytes, qde_sha256: str, texts: Mapping[str, str], name: str
               ) -> ProjectState | None:
    """The state in ``raw`` when it was written with the ``project.qde`` whose SHA-256 is
    ``qde_sha256`` (else None: the project was changed since); ``texts`` are the archive's
    texts by document. A state that does not hold together raises InputFileError."""
    try:
        body = _dict(json.loads(raw.decode("utf-8")), "the state")
        version = body.get("version")
        if body.get("format") != FORMAT or version not in READ_VERSIONS or isinstance(
                version, bool):
            raise _Bad(f"it is not version {' or '.join(map(str, READ_VERSIONS))} of the "
                       f"{FORMAT}")
        if body.get("project_qde_sha256") != qde_sha256:
            return None
        positions = body.get("positions")
        if positions not in POSITION_UNITS:
            raise _Bad(f"its positions are {positions!r}, not one of {POSITION_UNITS}")
        documents: dict[str, DocumentState] = {}
        for item in _list(body.get("documents"), "documents"):
            doc = _document(item, texts)
            if doc is not None:
                documents[doc.transcript.document] = doc
        book = _codebook(body.get("codebook"), int(version))
        dims = (CODE_DIMENSION, *book.dimension_ids)
        state = ProjectState(str(positions), book, documents,
                             _codings(body.get("codings"), documents, dims),
                             _annotations(body.get("annotations"), documents, dims),
                             _log(body.get("log")), _coders(body.get("coders")))
        known = {(CODE_DIMENSION, c.id) for c in book.codes}
        known |= {(d.id, v.id) for d in book.dimensions for v in d.values}
        used = {(c.dimension, c.code) for c in state.codings}
        used |= {(a.dimension, a.label) for a in state.annotations if a.label is not None}
        if used - known:
            dimension, code = sorted(used - known)[0]
            raise _Bad(f"it uses the {dimension} '{code}', which its codebook lacks")
        return state
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError,
            TypeError, _Bad) as exc:
        raise InputFileError(
            f"{name}: its isp-nlp state ({STATE_MEMBER}) is damaged ({exc}); export the "
            f"project again, or delete {STATE_MEMBER} from the archive to import what the "
            "REFI-QDA part says.") from None
