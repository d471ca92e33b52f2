"""Import a REFI-QDA project (``.qdpx``/``.qde``) or codebook (``.qdc``) into a project.

:func:`import_refi` reads the file (:mod:`isp_nlp.interchange.refi_project`) and, in one
store transaction, adds: its users as coders; its codebook (it becomes the project's
codebook, or its new codes are merged in by id); its text sources as verbatim
transcripts (:mod:`isp_nlp.ingest.verbatim`); its selections as exact coded spans (a
selection coded with a value of a single-choice dimension gives a coding on that
dimension), with
offsets read in the units the tool used (:mod:`isp_nlp.interchange.offsets`); the
segment annotations placed from them (:mod:`isp_nlp.coded.spans`); its notes (on a
span, a source or a code); and its cases' variable values as document attributes. If
anything fails nothing is kept. Re-importing the same content changes nothing.
:func:`import_refi_new_project` does the same into a project it creates, and removes
what it created when the import fails.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from isp_nlp.coded.spans import Coverage, annotations_from_placement, coverage, place_codings
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.ingest.verbatim import decode_verbatim, verbatim_transcript
from isp_nlp.interchange.offsets import (
    ORIGIN_TOOL_SETTING,
    TOOL_UNITS,
    Reading,
    choose_reading,
    convert,
    tool_of,
)
from isp_nlp.interchange.refi_codebook import (
    code_guid,
    codebook_from_root,
    dimension_code_guids,
    read_refi_root,
)
from isp_nlp.interchange.refi_project import (
    RefiProject,
    RefiSource,
    guid_key,
    read_refi_project,
)
from isp_nlp.interchange.refi_state_store import read_project_state, restorable_documents
from isp_nlp.records import (
    CODE_DIMENSION,
    Annotation,
    Code,
    Codebook,
    Coder,
    Coding,
    Dimension,
    Note,
    Transcript,
)
from isp_nlp.store.database import Store, project_db
from isp_nlp.store.folder import DEFAULT_EMBEDDER, init_project, open_project

SUFFIXES = (".qdpx", ".qde", ".qdc")
_NOTE_NAMESPACE = uuid.UUID("0b7f4a52-4f0e-5a51-9a3c-6e1b8d2f4c77")


@dataclass(frozen=True)
class SourceReading:
    """How one source's selection offsets were read."""

    document: str
    reading: str  # e.g. "UTF-16 code units, CRLF as 2"
    selections: int
    inside_word: int  # boundaries still inside a word (or a pair) after conversion
    outside: int  # boundaries beyond the end of the text


@dataclass(frozen=True)
class RefiImportOutcome:
    """What an import did; every count is of this file's content."""

    file: str
    origin: str = ""
    added: tuple[str, ...] = ()  # documents added
    unchanged: tuple[str, ...] = ()  # documents already held with the same text
    skipped: dict[str, int] = field(default_factory=dict)  # non-text sources by kind
    missing: tuple[tuple[str, str], ...] = ()  # (source, why its text could not be read)
    left_out: tuple[tuple[str, str], ...] = ()  # (source, why its file was not read)
    codebook: str = "unchanged"  # created | merged | unchanged
    codes_added: int = 0
    codes: int = 0  # codes in the file
    coders: tuple[str, ...] = ()
    coders_added: int = 0
    codings: int = 0  # codings imported (as spans)
    codings_added: int = 0  # of those, new to the project
    codings_skipped: int = 0  # unknown code, source missing, empty span
    mapping: dict[str, int] = field(default_factory=dict)  # exact / overlap / unmapped
    annotations_changed: int = 0
    notes: int = 0
    notes_added: int = 0
    attributes: int = 0  # document attribute values read (from cases and sources)
    attributes_set: int = 0  # of those, new or changed in the project
    readings: tuple[SourceReading, ...] = ()
    #: Per coder and document, how much counts as coded (see isp_nlp.coded.spans).
    coverage: tuple[Coverage, ...] = ()
    log_restored: int = 0  # decision-log rows carried over from our own export
    from_state: bool = False  # read exactly as isp-nlp wrote it (refi_state)
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- codebook


def merge_codebooks(current: Codebook | None, incoming: Codebook,
                    incoming_guids: dict[str, tuple[str, str]]
                    ) -> tuple[Codebook, dict[str, str], int]:
    """The project's codebook after importing ``incoming``, the map from incoming code ids
    to project code ids, and how many codes were added.

    An incoming code is the project's code whose stable GUID it carries (our own export),
    else the project's code with its id; other codes are added under their parents. A
    single-choice dimension the project lacks is added (not as the pathway dimension when
    the project has one); values a held dimension lacks are added to it, outside its order
    when it is ordered. The count includes added values.
    """
    if current is None:
        return incoming, {c.id: c.id for c in incoming.codes}, len(incoming.codes)
    by_guid = {guid_key(code_guid(c)): c.id for c in current.codes}
    guid_of = {v: g for g, v in incoming_guids.items()}
    held = {c.id for c in current.codes}
    id_map: dict[str, str] = {}
    for code in incoming.codes:
        guid = guid_key(guid_of.get((CODE_DIMENSION, code.id), ""))
        id_map[code.id] = by_guid.get(guid, code.id)
    added: list[Code] = []
    for code in incoming.codes:
        new_id = id_map[code.id]
        if new_id in held:
            continue
        parent = id_map.get(code.parent) if code.parent else None
        added.append(Code(id=new_id, name=code.name, parent=parent, definition=code.definition,
                          color=code.color, guid=code.guid))
        held.add(new_id)
    dimensions, values_added = _merge_dimensions(current.dimensions, incoming.dimensions)
    if not added and not values_added:
        return current, id_map, 0
    merged = Codebook(name=current.name, codes=(*current.codes, *added),
                      dimensions=dimensions)
    return merged, id_map, len(added) + values_added


def _merge_dimensions(current: Sequence[Dimension], incoming: Sequence[Dimension]
                      ) -> tuple[tuple[Dimension, ...], int]:
    """The project's dimensions with those of ``incoming`` it lacks (see merge_codebooks)."""
    out = list(current)
    added = 0
    for dim in incoming:
        i = next((i for i, d in enumerate(out) if d.id == dim.id), None)
        if i is None:
            out.append(replace(dim, pathway=dim.pathway and not any(d.pathway for d in out)))
            added += len(dim.values)
            continue
        held = out[i]
        new = tuple(v for v in dim.values if v.id not in held.value_ids)
        if new:
            out[i] = replace(held, values=(*held.values, *new), unordered=(
                *held.unordered, *(v.id for v in new if held.ordered)))
            added += len(new)
    return tuple(out), added


def state_code_map(codebook: Codebook) -> dict[str, tuple[str, str]]:
    """guid_key(code GUID) -> (dimension, code id) of every code and value of ``codebook``
    as our export writes them (for a file whose state says what its codebook is)."""
    return {guid_key(g): key for key, g in dimension_code_guids(codebook).items()}


# --------------------------------------------------------------------------- sources


@dataclass
class _Prepared:
    source: RefiSource
    transcript: Transcript
    original: str
    new: bool


def _prepare_sources(store: Store, project: RefiProject, warnings: list[str]
                     ) -> tuple[list[_Prepared], list[tuple[str, str]], list[tuple[str, str]]]:
    prepared: list[_Prepared] = []
    missing: list[tuple[str, str]] = []
    left_out: list[tuple[str, str]] = []
    for source in project.sources:
        if source.raw is None:
            (left_out if source.left_out else missing).append((source.name, source.missing))
            continue
        decoded = decode_verbatim(source.raw, f"{project.name}: source '{source.name}'")
        warnings.extend(decoded.warnings)
        if not decoded.text.strip():
            missing.append((source.name, "its text is empty"))
            continue
        transcript = verbatim_transcript(decoded, document=source.name, name=source.name)
        held = store.transcript_text(source.name)
        if held is not None and held != transcript.text:
            raise ProjectError(
                f"{project.name}: document '{source.name}' is already in the project with "
                "different text; rename the source in your QDA tool or import into a new "
                "project (`isp-nlp import FILE --init DIR`)")
        prepared.append(_Prepared(source, transcript, decoded.original, held is None))
    return prepared, missing, left_out


# --------------------------------------------------------------------------- codings


@dataclass
class _Codings:
    codings: list[Coding] = field(default_factory=list)
    readings: list[SourceReading] = field(default_factory=list)
    skipped: int = 0
    notes_at: dict[str, tuple[str, int | None, int | None]] = field(default_factory=dict)


def _coder_names(project: RefiProject) -> dict[str, str]:
    return {guid_key(u.guid): u.display for u in project.users if u.guid}


def _coder(guid: str, names: dict[str, str], default: str) -> str:
    guid = guid or default
    if not guid:
        return "unknown"
    return names.get(guid_key(guid)) or f"user-{guid[:8]}"


def _codings(project: RefiProject, prepared: Sequence[_Prepared], id_map: dict[str, str],
             warnings: list[str], units: str | None = None,
             code_map: Mapping[str, tuple[str, str]] | None = None) -> _Codings:
    """The codings of ``prepared``; positions read in ``units`` when the file says which
    (our own export's state), else in the units :func:`choose_reading` finds; code GUIDs
    looked up in ``code_map`` (default: the codebook the XML shows)."""
    code_map = project.code_map if code_map is None else code_map
    out = _Codings()
    names = _coder_names(project)
    unknown: dict[str, int] = {}
    empty = 0
    for item in prepared:
        doc = item.transcript.document
        out.notes_at[guid_key(item.source.guid)] = (doc, None, None)
        selections = item.source.selections
        if not selections:
            continue
        raw = [(s.start, s.end) for s in selections]
        if units is None:
            choice = choose_reading(item.original, raw)
            reading, spans = choice.reading, list(choice.spans)
            inside, outside = choice.inside_word, choice.outside
        else:
            reading = Reading(utf16=units == "utf16")
            spans, inside, outside = convert(item.original, raw, reading)
        out.readings.append(SourceReading(doc, reading.label, len(selections), inside,
                                          outside))
        for sel, (start, end) in zip(selections, spans, strict=True):
            out.notes_at[guid_key(sel.guid)] = (doc, start, end)
            if end <= start:
                empty += len(sel.codings)
                continue
            for c in sel.codings:
                target = code_map.get(guid_key(c.code_guid))
                if target is None:
                    unknown[c.code_guid] = unknown.get(c.code_guid, 0) + 1
                    continue
                dimension, code = target
                if dimension == CODE_DIMENSION:
                    code = id_map.get(code, code)
                out.codings.append(Coding(
                    document=doc, start=start, end=end, code=code, dimension=dimension,
                    coder=_coder(c.user or sel.user, names, project.default_user),
                    source=sel.provenance, guid=sel.guid, created_at=c.created_at))
    if unknown:
        warnings.append(f"{project.name}: {sum(unknown.values())} coding(s) refer to "
                        f"{len(unknown)} code GUID(s) not in the codebook (first: "
                        f"{next(iter(unknown))}); they are skipped.")
    if empty:
        warnings.append(f"{project.name}: {empty} coding(s) of empty selections are skipped.")
    lost = sum(len(s.codings) for src in project.sources if src.raw is None
               for s in src.selections)
    if lost:
        warnings.append(f"{project.name}: {lost} coding(s) on sources whose text is missing "
                        "are skipped.")
    out.skipped = sum(unknown.values()) + empty + lost
    return out


def _notes(project: RefiProject, located: dict[str, tuple[str, int | None, int | None]],
           codes: Mapping[str, tuple[str, str]] | None = None) -> list[Note]:
    """The file's notes, each on the first of its targets found: a span or source in
    ``located``, else a code in ``codes`` (guid_key → the project's dimension and code)."""
    names = _coder_names(project)
    notes: list[Note] = []
    codes = codes or {}
    for n in project.notes:
        where = next((located[guid_key(t)] for t in n.targets if guid_key(t) in located),
                     (None, None, None))
        code = next((codes[guid_key(t)] for t in n.targets if guid_key(t) in codes),
                    None) if where[0] is None else None
        notes.append(Note(title=n.title, text=n.text, guid=n.guid,
                          coder=(_coder(n.user, names, project.default_user)
                                 if n.user or project.default_user else ""),
                          document=where[0], start=where[1], end=where[2],
                          created_at=n.created_at,
                          dimension=code[0] if code else None,
                          code=code[1] if code else None))
    for source in project.sources:
        for sel in source.selections:
            if not sel.description:
                continue
            where = located.get(guid_key(sel.guid), (None, None, None))
            guid = str(uuid.uuid5(_NOTE_NAMESPACE, sel.guid or sel.description))
            notes.append(Note(title=f"Comment on a selection in {source.name}",
                              text=sel.description, guid=guid,
                              coder=_coder(sel.user, names, project.default_user),
                              document=where[0], start=where[1], end=where[2],
                              created_at=sel.created_at))
    return notes


def _attributes(project: RefiProject, prepared: Sequence[_Prepared], warnings: list[str]
                ) -> list[tuple[str, str, str | None]]:
    """(document, name, value) of the file's attribute values on the sources imported; a
    second, different value of one document's attribute is left out with a warning."""
    documents = {guid_key(p.source.guid): p.transcript.document for p in prepared}
    chosen: dict[tuple[str, str], str] = {}
    clashes = 0
    for source, name, value in project.attributes:
        document = documents.get(guid_key(source))
        if document is None:
            continue
        held = chosen.setdefault((document, name), value)
        clashes += held != value
    if clashes:
        warnings.append(f"{project.name}: {clashes} attribute value(s) contradict one given "
                        "before for the same document (two cases of one source); the first "
                        "is kept.")
    return [(d, n, v) for (d, n), v in chosen.items()]


def _changed(store: Store, annotations: Sequence[Annotation]) -> bool:
    """True when importing ``annotations`` would change any active label set."""
    wanted: dict[tuple[str, str, str], set[str | None]] = {}
    for a in annotations:
        wanted.setdefault((a.segment_id, a.coder, a.dimension), set()).add(a.label)
    held: dict[tuple[str, str, str], set[str | None]] = {}
    for a in store.annotations():
        held.setdefault((a.segment_id, a.coder, a.dimension), set()).add(a.label)
    for key, labels in wanted.items():
        if len(labels) > 1:
            labels.discard(None)
        if held.get(key) != labels:
            return True
    return False


# --------------------------------------------------------------------------- the import


def _import_codebook_only(store: Store, path: Path) -> RefiImportOutcome:
    if not path.is_file():
        raise InputFileError(f"'{path}' does not exist or is a folder; check the path.")
    loaded, guids = codebook_from_root(read_refi_root(path)[0], path.name)
    with store.transaction():
        merged, _, added = merge_codebooks(store.codebook(), loaded.codebook, guids)
        state = "created" if store.codebook() is None else ("merged" if added else "unchanged")
        if state != "unchanged":
            store.save_codebook(merged, source=str(path))
    return RefiImportOutcome(file=path.name, codebook=state, codes_added=added,
                             codes=len(loaded.codebook.codes), warnings=loaded.warnings)


def import_refi(store: Store, path: str | Path, *, sources_dir: str | Path | None = None
                ) -> RefiImportOutcome:
    """Import a .qdpx/.qde project or a .qdc codebook into ``store``, all or nothing; files
    outside the archive are read only from ``sources_dir`` (see refi_sources)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputFileError(f"{path.name}: expected a REFI-QDA file (.qdpx, .qde or .qdc); "
                             "export the project from your QDA tool in REFI-QDA format.")
    if suffix == ".qdc":
        return _import_codebook_only(store, path)
    project = read_refi_project(path, sources_dir)
    warnings = list(project.warnings)
    if project.codebook is not None:
        warnings.extend(project.codebook.warnings)
    with store.transaction():
        return _import_project(store, path, project, warnings)


def _import_project(store: Store, path: Path, project: RefiProject,
                    warnings: list[str]) -> RefiImportOutcome:
    prepared, missing, left_out = _prepare_sources(store, project, warnings)
    state = read_project_state(
        project, {p.transcript.document: p.transcript.text for p in prepared}, warnings)
    if state is not None and project.codebook is not None:
        # the state's codebook is the one imported: what reading the XML codebook noted
        # (a dimension's non-codable parent "kept as an ordinary code") does not apply
        for note in project.codebook.warnings:
            if note in warnings:
                warnings.remove(note)
    held_docs = restorable_documents(store, path.name, state,
                                     {p.transcript.document for p in prepared if p.new},
                                     warnings)
    held_segments = {s.id for d in held_docs.values() for s in d.segments}
    current = store.codebook()
    id_map: dict[str, str] = {}
    codes_added, state_word = 0, "unchanged"
    codes_in_file = 0
    if project.codebook is not None:
        incoming = state.codebook if state is not None else project.codebook.codebook
        merged, id_map, codes_added = merge_codebooks(
            current, incoming, dict(project.code_map) if state is None else {
                g: key for key, g in dimension_code_guids(incoming).items()})
        codes_in_file = len(incoming.codes)
        if current is None or codes_added:
            state_word = "created" if current is None else "merged"
            store.save_codebook(merged, source=str(path))
    elif current is None:
        raise ProjectError(f"{path.name} holds no codebook and the project has none; load "
                           "one first with `isp-nlp codebook load FILE`")
    new = [p for p in prepared if p.new]
    store.add_transcripts([
        (held_docs[p.transcript.document].transcript, held_docs[p.transcript.document].segments,
         held_docs[p.transcript.document].unit) if p.transcript.document in held_docs
        else (p.transcript, segment_transcript(p.transcript), "turn") for p in new])
    placed = _codings(project, prepared, id_map, warnings,
                      state.positions if state is not None else None,
                      state_code_map(state.codebook) if state is not None else None)
    codings = [c for c in placed.codings if c.document not in held_docs]
    derived = list(codings)
    if state is not None:
        codings += [replace(c, code=id_map.get(c.code, c.code)) if c.dimension == CODE_DIMENSION
                    else c for c in state.codings if c.document in held_docs]
    if state is not None:  # exactly the coders the exporting project held
        coders = list(state.coders)
    else:
        coders = [Coder(name=u.display, guid=u.guid, initials=u.id) for u in project.users]
        known = {c.name for c in coders}
        coders += [Coder(name=n) for n in sorted({c.coder for c in codings} - known)]
    held = {c.name for c in store.coders()}  # known coders are left as they are: a no-op
    coders_added = store.add_coders([c for c in coders if c.name not in held])
    stats = store.add_codings(codings)
    documents = sorted({c.document for c in derived})
    segments = {d: store.segments(document=d) for d in documents}
    texts = {p.transcript.document: p.transcript.text for p in prepared}
    placement = place_codings(derived, segments, texts)
    annotations = annotations_from_placement(placement, segments)
    if state is not None:
        annotations += [replace(a, label=id_map.get(a.label, a.label))
                        if a.dimension == CODE_DIMENSION and a.label is not None else a
                        for a in state.annotations if a.segment_id in held_segments]
    changed = 0
    if annotations and _changed(store, annotations):
        changed = store.import_annotations(annotations, source=path.name)["changed"]
    log_restored = store.restore_log([
        (e.coder, e.action, e.item_key, e.segment_id, e.model_id, e.detail, e.undoes, e.at)
        for e in state.log]) if state is not None else 0
    code_map = state_code_map(state.codebook) if state is not None else project.code_map
    notes = _notes(project, placed.notes_at, {
        key: (dimension, id_map.get(code, code) if dimension == CODE_DIMENSION else code)
        for key, (dimension, code) in code_map.items()})
    notes_added = store.add_notes(notes)
    attributes = _attributes(project, prepared, warnings)
    attributes_set = store.set_attributes(attributes)["set"] if attributes else 0
    tool = tool_of(project.origin)
    if tool in TOOL_UNITS and tool != "isp-nlp":
        store.set_setting(ORIGIN_TOOL_SETTING, tool)
    readings = tuple(r for r in placed.readings if r.document not in held_docs)
    for reading in readings:
        if reading.inside_word or reading.outside:
            warnings.append(
                f"{path.name}: in '{reading.document}' {reading.inside_word} selection "
                f"boundary(ies) fall inside a word and {reading.outside} beyond the text "
                f"when read as {reading.reading}; they are kept as the tool wrote them.")
    mapping = placement.counts()
    return RefiImportOutcome(
        file=path.name, origin=project.origin,
        added=tuple(p.transcript.document for p in new),
        unchanged=tuple(p.transcript.document for p in prepared if not p.new),
        skipped=dict(project.skipped), missing=tuple(missing), left_out=tuple(left_out),
        codebook=state_word,
        codes_added=codes_added,
        codes=codes_in_file,
        coders=tuple(c.name for c in coders), coders_added=coders_added,
        codings=len(codings), codings_added=stats["added"],
        codings_skipped=placed.skipped, mapping=mapping,
        annotations_changed=changed, notes=len(notes), notes_added=notes_added,
        attributes=len(attributes), attributes_set=attributes_set,
        readings=readings, coverage=coverage(placement, segments, texts),
        log_restored=log_restored, from_state=state is not None, warnings=tuple(warnings))


def import_refi_new_project(directory: str | Path, path: str | Path, *,
                            embedder: str = DEFAULT_EMBEDDER,
                            sources_dir: str | Path | None = None) -> RefiImportOutcome:
    """Create a project at ``directory`` (or use the one there) and import ``path`` into
    it; when the import fails, whatever this call created is removed again."""
    directory = Path(directory)
    made_dir = not directory.exists()
    made_db = not project_db(directory).exists()
    made_models = not (directory / "models").exists()
    try:
        init_project(directory, embedder=embedder)
        with open_project(directory) as store:
            return import_refi(store, path, sources_dir=sources_dir)
    except BaseException:
        if made_dir:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            if made_db:
                db = project_db(directory)
                for extra in ("", "-wal", "-shm", "-journal"):
                    Path(f"{db}{extra}").unlink(missing_ok=True)
            if made_models:
                shutil.rmtree(directory / "models", ignore_errors=True)
        raise
