"""Write a project as a REFI-QDA ``.qdpx`` for NVivo, ATLAS.ti, MAXQDA, QualCoder, ...

The archive holds ``project.qde`` (namespace ``urn:QDA-XML:project:1.0``; valid against
the standard's ``Project.xsd``) and ``sources/<guid>.txt``: each transcript's stored text
as UTF-8 without BOM, with LF line ends. Selection positions are code-point offsets into
that text, exactly the offsets the project stores.

What is exported:

- users: every coder (a GUID a QDA tool gave is kept, else uuid5 of the name; ``id`` =
  initials); with suggestions, the model is one more user, ``isp-nlp model <id>``;
- the codebook, through :func:`isp_nlp.interchange.refi_codebook.codes_element` (one home
  for the codebook XML; each single-choice dimension as a non-codable parent code named
  by the dimension, its values as codable children);
- one ``PlainTextSelection`` per document + span + coder + provenance, holding one
  ``Coding`` per code: every stored coded span as stored; every active labelled annotation
  over its segment, unless a stored coding of the same coder and code already covers the
  segment (placed with :func:`isp_nlp.coded.spans.place_codings`); optionally the latest
  model's suggestions (not the abstentions). Every selection says where it came from:
  ``<Description>isp-nlp: provenance=SOURCE</Description>``;
- notes and memos in ``<Notes>``, each referenced (``<NoteRef>``) from the selection of
  its span, its whole source, or the code it is on;
- document attributes as ``<Variables>`` (typed when every value reads back as written,
  else text) and ``<Cases>`` (one case per document, named by it, with its values and a
  ``<SourceRef>``).

GUIDs are stable (:mod:`isp_nlp.interchange.refi_ids`) and nothing holds the export's
time, so exporting twice gives the same bytes. The file is written to a temporary file
in the same folder and then moved into place, so a failure never leaves half a file.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree as ET

from isp_nlp.coded.spans import place_codings
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.interchange.offsets import ORIGIN_TOOL_SETTING, TOOL_UNITS, UNITS
from isp_nlp.interchange.pseudonymise import KeyNames, key_names, pseudonymised_documents
from isp_nlp.interchange.refi_codebook import dimension_code_guids
from isp_nlp.interchange.refi_ids import (
    is_guid,
    selection_guid,
    stable_guid,
    user_guid,
)
from isp_nlp.interchange.refi_state import STATE_MEMBER
from isp_nlp.interchange.refi_state_store import project_state
from isp_nlp.interchange.refi_xml import (
    QdpxContent,
    Selection,
    project_qde,
    write_qdpx_file,
)
from isp_nlp.records import (
    CODE_DIMENSION,
    PROVENANCES,
    Annotation,
    Codebook,
    Coder,
    Coding,
    Note,
    Segment,
    Suggestion,
)
from isp_nlp.store.database import Store

MODEL_USER_PREFIX = "isp-nlp model "

_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_LINE_END = re.compile("\r\n?")


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote; ``covered`` counts annotations left out because a stored
    coding of the same coder and code covers the segment; ``skipped`` names what could
    not be written (a code no longer in the codebook); ``dimensions`` names each
    single-choice dimension written, with its number of values."""

    path: Path
    sources: int
    users: int
    codes: int
    dimensions: tuple[tuple[str, int], ...]
    selections: int
    codings: dict[str, int]
    covered: int = 0
    skipped: tuple[str, ...] = ()
    size: int = 0
    positions: str = "codepoints"
    #: Why those units: "--positions", "for NVivo", "the project came from NVivo", ...
    positions_why: str = ""


@dataclass
class _Group:
    codes: dict[str, str] = field(default_factory=dict)  # code GUID -> created_at
    stored_guids: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- plain data


def origin() -> str:
    """``isp-nlp <version>``, the ``origin`` attribute of what we write."""
    try:
        return f"isp-nlp {metadata.version('isp-nlp')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "isp-nlp"


def model_user(model_id: str) -> Coder:
    """The user the model's suggestions are written under."""
    name = MODEL_USER_PREFIX + model_id
    return Coder(name=name, guid=stable_guid("model-user", model_id))


def build_selections(
    codebook: Codebook,
    segments: Mapping[str, Sequence[Segment]],
    texts: Mapping[str, str],
    codings: Sequence[Coding] = (),
    annotations: Sequence[Annotation] = (),
    suggestions: Sequence[Suggestion] = (),
    model_coder: str = "",
) -> tuple[tuple[Selection, ...], int, tuple[str, ...]]:
    """The selections of the documents in ``texts``: stored codings, annotations that
    no stored coding covers, and (under ``model_coder``) suggested labels.

    Returns (selections, annotations left out as covered, what was skipped).
    """
    guids = dimension_code_guids(codebook)
    labelled = {CODE_DIMENSION, *codebook.dimension_ids}
    order = {g: i for i, g in enumerate(guids.values())}
    groups: dict[tuple[str, int, int, str, str], _Group] = {}
    skipped: dict[str, int] = {}

    def add(key: tuple[str, int, int, str, str], dimension: str, code: str,
            created_at: str = "", stored_guid: str = "") -> None:
        target = guids.get((dimension, code))
        if target is None:
            what = f"{dimension} '{code}' (not in the codebook)"
            skipped[what] = skipped.get(what, 0) + 1
            return
        group = groups.setdefault(key, _Group())
        group.codes.setdefault(target, created_at if _DATETIME.fullmatch(created_at) else "")
        if stored_guid:
            group.stored_guids.append(stored_guid)

    kept = [c for c in codings if c.document in texts]
    for c in kept:
        source = c.source if c.source in PROVENANCES else "human"
        add((c.document, c.start, c.end, c.coder, source), c.dimension, c.code,
            c.created_at, c.guid)
    by_id = {s.id: s for doc in texts for s in segments.get(doc, ())}
    placement = place_codings(kept, segments, texts)
    covered_keys = {(seg_id, c.coder, c.dimension, c.code)
                    for c, seg_ids in zip(placement.codings, placement.segments, strict=True)
                    for seg_id in seg_ids}
    covered = 0
    for a in annotations:
        seg = by_id.get(a.segment_id)
        if seg is None or a.label is None or a.dimension not in labelled:
            continue
        if (seg.id, a.coder, a.dimension, a.label) in covered_keys:
            covered += 1
            continue
        source = a.source if a.source in PROVENANCES else "human"
        add((seg.document, seg.start, seg.end, a.coder, source), a.dimension, a.label)
    if model_coder:
        for s in suggestions:
            seg = by_id.get(s.segment_id)
            if seg is not None and s.suggested:
                add((seg.document, seg.start, seg.end, model_coder, "model"), s.dimension,
                    s.label)
    used: set[str] = set()
    out: list[Selection] = []
    for key in sorted(groups):
        group = groups[key]
        guid = next((g for g in group.stored_guids
                     if is_guid(g) and g.strip("{}").lower() not in used), "")
        guid = guid or selection_guid(*key)
        used.add(guid.strip("{}").lower())
        codes = tuple(sorted(group.codes.items(), key=lambda item: order[item[0]]))
        out.append(Selection(guid, key[0], key[1], key[2], key[3], key[4], codes))
    notes = tuple(f"{n} coding(s) of {what} were not exported" for what, n in
                  sorted(skipped.items()))
    return tuple(out), covered, notes


def lf_sources(texts: Mapping[str, str], selections: Sequence[Selection]
               ) -> tuple[dict[str, str], tuple[Selection, ...]]:
    """The texts as exported (no BOM, LF line ends) with the selections moved along.

    Ingested texts already are; a text kept as a QDA tool gave it may not be. A BOM and
    the CR of each CRLF are dropped (later positions move back by one each); a lone CR
    becomes LF.
    """
    out: dict[str, str] = {}
    removed: dict[str, list[int]] = {}
    for document, text in texts.items():
        gone = [0] if text.startswith("\ufeff") else []
        gone += [m.start() for m in re.finditer("\r\n", text)]
        removed[document] = gone
        out[document] = _LINE_END.sub("\n", text.removeprefix("\ufeff"))
    if not any(removed.values()):
        return out, tuple(selections)

    def at(document: str, position: int) -> int:
        return position - bisect_left(removed.get(document, []), position)

    return out, tuple(replace(s, start=at(s.document, s.start), end=at(s.document, s.end))
                      for s in selections)


# --------------------------------------------------------------------------- the project


def check_out_path(out: str | Path, suffix: str) -> Path:
    """``out`` as a Path, refused unless it ends in ``suffix`` and its folder exists."""
    out = Path(out)
    if out.suffix.lower() != suffix:
        raise InputFileError(f"{out.name}: this export is written as {suffix}; give an "
                             f"output path ending in {suffix}.")
    if not out.parent.is_dir():
        raise InputFileError(f"the folder '{out.parent}' for {out.name} does not exist; "
                             "create it first or choose another output path.")
    if out.is_dir():
        raise InputFileError(f"'{out}' is a folder; give a file name ending in {suffix}.")
    return out


def require_pseudonymised(store: Store, documents: Iterable[str],
                          names: KeyNames | None = None) -> None:
    """Refuse unless every document in ``documents`` was pseudonymised and is unchanged
    (a document whose name holds one of ``names`` is shown by number)."""
    documents = sorted(documents)
    listed = set(pseudonymised_documents(store))
    missing = [d for d in documents if d not in listed]
    if missing:
        first = missing[0]
        shown = (f"document {documents.index(first) + 1}"
                 if names is not None and names.line_in(first, split=True) else f"'{first}'")
        raise ProjectError(
            f"{len(missing)} of {len(documents)} documents are not pseudonymised (first: "
            f"{shown}); run `isp-nlp pseudonymise --names names.csv` first, or "
            "export without --pseudonymised-only"
        )


#: What a project.qde element's attribute or text is, for messages.
_PLACES = {("Code", "name"): "a code's name", ("Description", None): "a description",
           ("User", "name"): "a coder's name", ("Source", "name"): "a document's name",
           ("Project", "name"): "the project's (folder) name",
           ("PlainTextContent", None): "a note", ("Note", "name"): "a note's title",
           ("TextValue", None): "a document's attribute value",
           ("Variable", "name"): "an attribute's name", ("Case", "name"): "a document's name"}


def require_no_names(content: QdpxContent, qde: bytes, names: KeyNames,
                     state: bytes = b"") -> None:
    """Refuse when anything the .qdpx would hold (texts, and every name, description,
    note and coder in ``project.qde``) still holds a name of the key, by the rule
    pseudonymising uses. The message names the key line and the place, never the name."""
    documents = sorted(content.texts)

    def refuse(place: str, line: int) -> None:
        raise ProjectError(
            f"--pseudonymised-only: {place} still holds the name on line {line} of the key "
            f"{names.path.name}; run `isp-nlp pseudonymise` again (it fixes transcripts and "
            "notes), rename what holds it, or export without --pseudonymised-only")

    for i, document in enumerate(documents, start=1):
        if (line := names.line_in(document, split=True)) is not None:
            refuse(f"the name of document {i}", line)
        if (line := names.line_in(content.texts[document])) is not None:
            refuse(f"the text of document {i} ('{document}')", line)
    seen: set[str] = set()  # descriptions, coder names and GUIDs repeat: look once

    def line_in(value: str | None) -> int | None:
        if not value or value in seen:
            return None
        seen.add(value)
        return names.line_in(value) or names.line_in(value, split=True)

    for element in ET.fromstring(qde).iter():
        tag = element.tag.rsplit("}", 1)[-1]
        for attribute, value in element.attrib.items():
            if (line := line_in(value)) is not None:
                refuse(_PLACES.get((tag, attribute), f"the {attribute} of a {tag} in the "
                                   "project file"), line)
        for body in (element.text, element.tail):
            if (line := line_in(body)) is not None:
                refuse(_PLACES.get((tag, None), f"the text of a {tag} in the project file"),
                       line)
    for value in _strings(json.loads(state) if state else None):
        if (line := line_in(value)) is not None:
            refuse(f"isp-nlp's state ({STATE_MEMBER}: a speaker, coder, code or log entry)",
                   line)


def _strings(value: object) -> Iterable[str]:
    """Every string inside a JSON value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def _documents(store: Store, documents: Iterable[str] | None) -> dict[str, str]:
    texts = store.transcript_texts()
    if documents is None:
        return texts
    names = store.document_names()
    chosen: list[str] = []
    for name in documents:
        if name not in names:
            raise ProjectError(f"document '{name}' is not in the project; give a document "
                               "name that `isp-nlp status` lists")
        chosen.append(names[name])
    return {d: texts[d] for d in sorted(set(chosen))}


def project_content(store: Store, *, include_suggestions: bool = False,
                    documents: Iterable[str] | None = None,
                    suggestions: Sequence[Suggestion] | None = None,
                    positions: str = "codepoints",
                    ) -> tuple[QdpxContent, int, tuple[str, ...]]:
    """Read what a .qdpx of the project holds (see the module docstring); ``suggestions``
    are the latest model's, when the caller has read them already."""
    codebook = store.codebook()
    if codebook is None:
        raise ProjectError("the project has no codebook yet; load one with "
                           "`isp-nlp codebook load FILE.yaml` before exporting")
    texts = _documents(store, documents)
    users = [Coder(c.name, user_guid(c.name, c.guid), c.initials) for c in store.coders()]
    chosen: Sequence[Suggestion] = ()
    model_coder = ""
    if include_suggestions:
        latest = store.latest_model()
        if latest is None:
            raise ProjectError("the project has no trained model, so no suggestions to "
                               "export; run `isp-nlp train` and `isp-nlp suggest` first, "
                               "or leave out --include-suggestions")
        chosen = (store.suggestions(latest["id"], with_evidence=False)
                  if suggestions is None else suggestions)
        if not chosen:
            raise ProjectError(f"model {latest['id']} has no suggestions yet; run "
                               "`isp-nlp suggest` first, or leave out --include-suggestions")
        user = model_user(latest["id"])
        model_coder = user.name
        if all(u.name != user.name for u in users):
            users.append(user)
    segments: dict[str, list[Segment]] = {}
    for seg in store.segments():
        segments.setdefault(seg.document, []).append(seg)
    selections, covered, skipped = build_selections(
        codebook, segments, texts, store.codings(), store.annotations(), chosen,
        model_coder)
    texts, selections = lf_sources(texts, selections)
    known = {u.name for u in users}
    users += [Coder(name, user_guid(name)) for name in sorted({s.coder for s in selections})
              if name not in known]
    notes = tuple(n for n in store.notes() if n.document is None or n.document in texts)
    users += [Coder(n.coder, user_guid(n.coder)) for n in notes
              if n.coder and n.coder not in {u.name for u in users}]
    content = QdpxContent(name=store.path.parent.name or "isp-nlp project", origin=origin(),
                          codebook=codebook, users=tuple(users), texts=texts,
                          selections=selections, notes=notes, positions=positions,
                          attributes={d: v for d, v in store.attributes().items()
                                      if d in texts},
                          attribute_names=tuple(store.attribute_names()))
    return content, covered, skipped


def export_units(store: Store, tool: str | None = None, positions: str | None = None
                 ) -> tuple[str, str]:
    """The units to write positions in and why: ``positions`` when given, else those
    ``tool`` reads, else those of the tool the project was imported from, else code
    points (see :data:`isp_nlp.interchange.offsets.TOOL_UNITS`)."""
    if positions is not None:
        if positions not in UNITS:
            raise InputFileError(f"--positions {positions}: use one of {', '.join(UNITS)}.")
        return positions, "--positions"
    if tool is not None:
        if tool not in TOOL_UNITS:
            raise InputFileError(f"--for {tool}: use one of {', '.join(TOOL_UNITS)}.")
        return TOOL_UNITS[tool], f"for {tool}"
    origin = store.get_setting(ORIGIN_TOOL_SETTING)
    if origin in TOOL_UNITS:
        return TOOL_UNITS[origin], f"the project came from {origin}"
    return "codepoints", "the default"


def write_qdpx(store: Store, out: str | Path, *, include_suggestions: bool = False,
               documents: Iterable[str] | None = None,
               pseudonymised_only: bool = False,
               suggestions: Sequence[Suggestion] | None = None,
               key: str | Path | None = None, tool: str | None = None,
               positions: str | None = None, notes: Sequence[Note] = ()) -> ExportSummary:
    """Export the project (or only ``documents``) as a REFI-QDA .qdpx at ``out``.

    ``include_suggestions`` adds the latest model's suggestions under the model's user;
    ``pseudonymised_only`` refuses, writing nothing, unless every exported document was
    pseudonymised (the ``pseudonymised_documents`` setting) and, given the ``key`` of the
    last ``pseudonymise`` run, nothing to be written still holds one of its names.
    Positions are written in the units of :func:`export_units` (``tool``, ``positions``).
    ``notes`` go into the archive first, before the project's own (not into the project).
    Beside ``project.qde`` the archive holds isp-nlp's state
    (:func:`isp_nlp.interchange.refi_state_store.project_state`), so importing it into
    isp-nlp gives back exactly this project.
    """
    out = check_out_path(out, ".qdpx")
    units, why = export_units(store, tool, positions)
    names = (key_names(store, store.path.parent, key)
             if pseudonymised_only and key is not None else None)
    content, covered, skipped = project_content(
        store, include_suggestions=include_suggestions, documents=documents,
        suggestions=suggestions, positions=units)
    if notes:
        content = replace(content, notes=(*notes, *content.notes))
        known = {u.name for u in content.users}
        content = replace(content, users=(*content.users, *(
            Coder(n.coder, user_guid(n.coder)) for n in notes
            if n.coder and n.coder not in known)))
    qde = project_qde(content)
    state = project_state(store, content, qde)
    if pseudonymised_only:
        require_pseudonymised(store, content.texts, names)
        if names is not None:
            require_no_names(content, qde, names, state)
    size = write_qdpx_file(out, qde, content.texts, {STATE_MEMBER: state})
    by_provenance = {p: 0 for p in PROVENANCES}
    for sel in content.selections:
        by_provenance[sel.provenance] += len(sel.codings)
    return ExportSummary(
        path=out, sources=len(content.texts), users=len(content.users),
        codes=len(content.codebook.codes),
        dimensions=tuple((d.name, len(d.values)) for d in content.codebook.dimensions),
        selections=len(content.selections),
        codings={p: n for p, n in by_provenance.items() if n}, covered=covered,
        skipped=skipped, size=size, positions=units, positions_why=why)
