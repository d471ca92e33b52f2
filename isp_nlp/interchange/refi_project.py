"""Parse a REFI-QDA project (``.qdpx`` archive or bare ``.qde``) into plain data.

Nothing here touches a project store; :mod:`isp_nlp.interchange.refi_import` does.
What is read: users; the codebook (via :mod:`isp_nlp.interchange.refi_codebook`,
with its GUID map); text sources with their bytes, or the reason they could not
be read; their plain-text selections with codings, creating users and provenance;
notes and where they are attached (a span, a source or a code); cases' and sources'
variable values (document attributes). Other sources (PDF, picture, audio, video) are
counted by kind and skipped.

Where a text source's ``plainTextPath`` is looked for: see
:mod:`isp_nlp.interchange.refi_sources` (inside the archive; on disk only in the
folder the user names). No ``plainTextPath`` but ``<PlainTextContent>``: that text;
only a ``.docx`` ``richTextPath``: its ``.txt`` twin, since selection offsets point into
plain text. Selection positions are whole numbers of at most :data:`MAX_POSITION_DIGITS`
digits; others are skipped with a warning.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.safe_zip import SafeArchive, open_archive
from isp_nlp.interchange.offsets import MAX_POSITION_DIGITS
from isp_nlp.interchange.refi_codebook import (
    CodebookImport,
    codebook_from_root,
    project_root,
    read_refi_root,
)
from isp_nlp.interchange.refi_sources import SourceFinder
from isp_nlp.interchange.refi_state import MAX_STATE_BYTES, STATE_MEMBER
from isp_nlp.records import PROVENANCES

PROJECT_NS = "urn:QDA-XML:project:1.0"
#: Source element -> the kind counted when it is skipped.
OTHER_SOURCES = {"PDFSource": "pdf", "PictureSource": "picture", "AudioSource": "audio",
                 "VideoSource": "video"}
_PROVENANCE = re.compile(r"^\s*isp-nlp:\s*provenance=(\w+)\s*$")
_POSITION = re.compile(rf"\s*[+-]?[0-9]{{1,{MAX_POSITION_DIGITS}}}\s*")
_NAME_SUFFIXES = (".txt", ".docx", ".doc", ".rtf", ".md", ".odt", ".pdf")


@dataclass(frozen=True)
class RefiUser:
    guid: str
    id: str
    name: str

    @property
    def display(self) -> str:
        """The name a coder goes by: the user's name, else id, else GUID."""
        return self.name or self.id or self.guid


@dataclass(frozen=True)
class RefiCoding:
    """One ``<Coding>`` of a selection: the code's GUID and who coded it."""

    guid: str
    code_guid: str
    user: str
    created_at: str = ""


@dataclass(frozen=True)
class RefiSelection:
    """A ``<PlainTextSelection>`` with offsets as the tool wrote them."""

    guid: str
    start: int
    end: int
    user: str
    created_at: str
    codings: tuple[RefiCoding, ...]
    provenance: str = "human"
    description: str = ""


@dataclass(frozen=True)
class RefiSource:
    """A text source: its bytes, or ``missing`` saying why they could not be read."""

    guid: str
    name: str  # a document name, unique within the project file
    path: str  # the plainTextPath (or richTextPath) as written
    raw: bytes | None
    missing: str = ""
    selections: tuple[RefiSelection, ...] = ()
    left_out: bool = False  # a file outside the archive, deliberately not read


@dataclass(frozen=True)
class RefiNote:
    """A ``<Note>``; ``targets`` are GUIDs of the sources/selections it is attached to."""

    guid: str
    title: str
    text: str
    user: str
    created_at: str
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefiProject:
    name: str  # the file's name
    origin: str
    users: tuple[RefiUser, ...]
    codebook: CodebookImport | None
    code_map: Mapping[str, tuple[str, str]]  # guid_key(code GUID) -> (dimension, code id)
    sources: tuple[RefiSource, ...]
    skipped: Mapping[str, int]  # non-text sources by kind
    notes: tuple[RefiNote, ...]
    default_user: str = ""
    warnings: tuple[str, ...] = ()
    #: isp-nlp's state member (:mod:`isp_nlp.interchange.refi_state`) and the SHA-256 of
    #: the project.qde it came with (a .qdpx we wrote; else None and "").
    state: bytes | None = None
    qde_sha256: str = ""
    #: Attribute values, (source GUID, variable name, value) in the file's variable order:
    #: from cases (to each source a case refers to) and from sources' own VariableValues.
    attributes: tuple[tuple[str, str, str], ...] = ()


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1] if text.startswith("{") else text


def _children(element: ET.Element, local: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == local]


def _child_text(element: ET.Element, local: str) -> str | None:
    found = _children(element, local)
    return None if not found else (found[0].text or "")


def guid_key(guid: str) -> str:
    """``guid`` as compared: case and braces (``{...}``, as some tools write) ignored."""
    return guid.strip().strip("{}").lower()


def _guid(element: ET.Element, attr: str = "guid") -> str:
    return (element.get(attr) or "").strip()


# --------------------------------------------------------------------------- elements


def _document_name(element: ET.Element, path: str, taken: set[str]) -> str:
    name = (element.get("name") or "").strip()
    if not name:
        tail = re.split(r"[/\\]", path.partition("://")[2] or path)[-1]
        name = Path(tail).stem if tail else _guid(element) or "source"
    elif name.lower().endswith(_NAME_SUFFIXES):
        name = name.rsplit(".", 1)[0].strip() or name
    unique, n = name, 2
    while unique.casefold() in taken:
        unique, n = f"{name} ({n})", n + 1
    taken.add(unique.casefold())
    return unique


def _selection(element: ET.Element, where: str, warnings: list[str]) -> RefiSelection | None:
    written = (element.get("startPosition", ""), element.get("endPosition", ""))
    if not all(_POSITION.fullmatch(p) for p in written):
        warnings.append(f"{where}: selection {_guid(element)[:40]} has no whole-number "
                        f"startPosition/endPosition (of at most {MAX_POSITION_DIGITS} digits); "
                        "it is skipped.")
        return None
    start, end = int(written[0]), int(written[1])
    user = _guid(element, "creatingUser")
    start, end = min(start, end), max(start, end)
    codings = tuple(
        RefiCoding(guid=_guid(c), code_guid=_guid(ref, "targetGUID"),
                   user=_guid(c, "creatingUser") or user,
                   created_at=c.get("creationDateTime") or element.get("creationDateTime") or "")
        for c in _children(element, "Coding") for ref in _children(c, "CodeRef"))
    description = (_child_text(element, "Description") or "").strip()
    provenance = "human"
    m = _PROVENANCE.match(description)
    if m is not None and m.group(1) in PROVENANCES:
        provenance, description = m.group(1), ""
    return RefiSelection(guid=_guid(element), start=start, end=end, user=user,
                         created_at=element.get("creationDateTime") or "",
                         codings=codings, provenance=provenance, description=description)


def _text_source(element: ET.Element, finder: SourceFinder, taken: set[str],
                 note_refs: dict[str, list[str]]) -> RefiSource:
    plain = (element.get("plainTextPath") or "").strip()
    rich = (element.get("richTextPath") or "").strip()
    inline = _child_text(element, "PlainTextContent")
    raw: bytes | None = None
    missing, left_out = "", False
    if plain:
        found = finder.find(plain)
        raw, missing, left_out = found.raw, found.why, found.left_out
    elif rich:
        twin = re.sub(r"\.[^./\\]+$", ".txt", rich)
        found = finder.find(twin)
        raw, left_out = found.raw, found.left_out
        missing = found.why if left_out else (
            f"only rich text {rich} is given and its plain-text twin {twin} is absent; "
            "selection offsets point into the plain text")
    if raw is None and inline is not None:
        raw, missing, left_out = inline.encode("utf-8"), "", False
    if raw is None and not (plain or rich):
        missing = "it has neither a plainTextPath nor <PlainTextContent>"
    name = _document_name(element, plain or rich, taken)
    selections: list[RefiSelection] = []
    for sel in _children(element, "PlainTextSelection"):
        parsed = _selection(sel, f"{finder.name}: source '{name}'", finder.warnings)
        if parsed is not None:
            selections.append(parsed)
            for ref in _children(sel, "NoteRef"):
                note_refs.setdefault(guid_key(_guid(ref, "targetGUID")), []).append(parsed.guid)
    for ref in _children(element, "NoteRef"):
        note_refs.setdefault(guid_key(_guid(ref, "targetGUID")), []).append(_guid(element))
    return RefiSource(guid=_guid(element), name=name, path=plain or rich, raw=raw,
                      missing="" if raw is not None else missing, selections=tuple(selections),
                      left_out=left_out and raw is None)


def _notes(root: ET.Element, finder: SourceFinder, note_refs: dict[str, list[str]]
           ) -> tuple[RefiNote, ...]:
    for links in _children(root, "Links"):
        for link in _children(links, "Link"):
            origin, target = _guid(link, "originGUID"), _guid(link, "targetGUID")
            note_refs.setdefault(guid_key(origin), []).append(target)
            note_refs.setdefault(guid_key(target), []).append(origin)
    out: list[RefiNote] = []
    for notes in _children(root, "Notes"):
        for note in _children(notes, "Note"):
            text = _child_text(note, "PlainTextContent")
            path = (note.get("plainTextPath") or "").strip()
            if text is None and path:
                found = finder.find(path)
                raw = found.raw
                text = raw.decode("utf-8", errors="replace").lstrip("\ufeff") if raw else None
                if found.left_out:
                    finder.warnings.append(f"{finder.name}: the text of note "
                                           f"'{(note.get('name') or '')[:60]}' was left out "
                                           f"({found.why}).")
            if text is None:
                text = _child_text(note, "Description") or ""
            guid = _guid(note)
            out.append(RefiNote(guid=guid, title=(note.get("name") or "").strip(),
                                text=text.strip(), user=_guid(note, "creatingUser"),
                                created_at=note.get("creationDateTime") or "",
                                targets=tuple(note_refs.get(guid_key(guid), ()))))
    return tuple(out)


def _code_note_refs(element: ET.Element, note_refs: dict[str, list[str]]) -> None:
    """Record each code's ``<NoteRef>`` (a memo on the code), through the hierarchy."""
    stack = list(_children(element, "Code"))
    while stack:
        code = stack.pop()
        for ref in _children(code, "NoteRef"):
            note_refs.setdefault(guid_key(_guid(ref, "targetGUID")), []).append(_guid(code))
        stack.extend(_children(code, "Code"))


#: The elements a ``<VariableValue>`` holds its value in.
_VALUE_TAGS = ("TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue",
               "DateTimeValue")


def _variable_values(element: ET.Element, variables: Mapping[str, str]
                     ) -> list[tuple[str, str]]:
    """(variable name, value) of each ``<VariableValue>`` of ``element`` naming a known
    variable and holding a value, in the order written."""
    out: list[tuple[str, str]] = []
    for vv in _children(element, "VariableValue"):
        refs = _children(vv, "VariableRef")
        name = variables.get(guid_key(_guid(refs[0], "targetGUID"))) if refs else None
        value = next(((c.text or "").strip() for c in vv if _local(c.tag) in _VALUE_TAGS),
                     "")
        if name is not None and value:
            out.append((name, value))
    return out


def _attributes(root: ET.Element, name: str, warnings: list[str]
                ) -> tuple[tuple[str, str, str], ...]:
    """Attribute values of text sources: each case's values given to every source it
    refers to (``<SourceRef>``), then sources' own ``<VariableValue>``s; variables in the
    file's order."""
    variables: dict[str, str] = {}
    for group in _children(root, "Variables"):
        for v in _children(group, "Variable"):
            label = (v.get("name") or "").strip()
            if label and _guid(v):
                variables.setdefault(guid_key(_guid(v)), label)
    if not variables:
        return ()
    found: list[tuple[str, str, str]] = []
    unlinked = 0
    for group in _children(root, "Cases"):
        for case in _children(group, "Case"):
            values = _variable_values(case, variables)
            sources = [_guid(ref, "targetGUID") for ref in _children(case, "SourceRef")]
            if values and not sources:
                unlinked += 1
            found += [(source, n, v) for source in sources for n, v in values]
    for group in _children(root, "Sources"):
        for source in group:
            found += [(_guid(source), n, v) for n, v in _variable_values(source, variables)]
    if unlinked:
        warnings.append(f"{name}: {unlinked} case(s) with variable values refer to no "
                        "source; their values are not imported (isp-nlp keeps attributes "
                        "per document).")
    order = {n: i for i, n in enumerate(variables.values())}
    return tuple(sorted(found, key=lambda item: order[item[1]]))


# --------------------------------------------------------------------------- reading


def _root(path: Path, digest: Any = None) -> tuple[ET.Element, SafeArchive | None]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputFileError(f"'{path}' does not exist or is a folder; check the path.")
    if suffix == ".qdpx":
        archive = open_archive(path)
        try:
            return project_root(archive, digest), archive
        except BaseException:
            archive.archive.close()
            raise
    if suffix != ".qde":
        raise InputFileError(f"{path.name}: expected a REFI-QDA project (.qdpx or .qde) "
                             "or codebook (.qdc); export the project again from your QDA tool.")
    return read_refi_root(path, "REFI-QDA project")[0], None


def read_refi_project(path: str | Path, sources_dir: str | Path | None = None) -> RefiProject:
    """Read a ``.qdpx`` or ``.qde`` project file (see the module docstring); files outside
    the archive are read only from ``sources_dir``."""
    path = Path(path)
    folder = _sources_dir(sources_dir)
    digest = hashlib.sha256()
    root, archive = _root(path, digest)
    try:
        if _local(root.tag) != "Project":
            raise InputFileError(
                f"{path.name} is XML whose root element is <{_local(root.tag)}>, not a "
                "REFI-QDA <Project>; export the project again from your QDA tool.")
        finder = SourceFinder(path.name, archive, path.parent,
                              (root.get("basePath") or "").strip(), folder)
        project = _project(root, path, finder)
        info = archive.find(STATE_MEMBER) if archive is not None else None
        if archive is None or info is None:
            return project
        return replace(project, state=archive.read(info, MAX_STATE_BYTES),
                       qde_sha256=digest.hexdigest())
    finally:
        if archive is not None:
            archive.archive.close()


def _sources_dir(sources_dir: str | Path | None) -> Path | None:
    if sources_dir is None:
        return None
    folder = Path(sources_dir)
    if not folder.is_dir():
        raise InputFileError(f"--sources-dir '{folder}' is not a folder; give the folder "
                             "holding the project's source files.")
    return folder


def _project(root: ET.Element, path: Path, finder: SourceFinder) -> RefiProject:
    users = tuple(RefiUser(guid=_guid(u), id=(u.get("id") or "").strip(),
                           name=(u.get("name") or "").strip())
                  for users in _children(root, "Users") for u in _children(users, "User"))
    codebook: CodebookImport | None = None
    code_map: dict[str, tuple[str, str]] = {}
    if _children(root, "CodeBook"):
        codebook, guids = codebook_from_root(root, path.name)
        code_map = {guid_key(g): v for g, v in guids.items()}
    sources: list[RefiSource] = []
    skipped: dict[str, int] = {}
    taken: set[str] = set()
    note_refs: dict[str, list[str]] = {}
    for group in _children(root, "Sources"):
        for element in group:
            kind = _local(element.tag)
            if kind == "TextSource":
                sources.append(_text_source(element, finder, taken, note_refs))
            else:
                label = OTHER_SOURCES.get(kind, kind.lower())
                skipped[label] = skipped.get(label, 0) + 1
    for book in _children(root, "CodeBook"):
        for codes in _children(book, "Codes"):
            _code_note_refs(codes, note_refs)
    notes = _notes(root, finder, note_refs)
    attributes = _attributes(root, finder.name, finder.warnings)
    return RefiProject(name=path.name, origin=(root.get("origin") or "").strip(), users=users,
                       codebook=codebook, code_map=code_map, sources=tuple(sources),
                       skipped=skipped, notes=notes,
                       default_user=_guid(root, "creatingUserGUID"),
                       warnings=tuple(finder.warnings), attributes=attributes)
