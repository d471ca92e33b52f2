"""The REFI-QDA project file itself: ``project.qde`` XML and the ``.qdpx`` archive.

Pure writing from plain data (:class:`QdpxContent`): deterministic bytes (no clock),
Project.xsd-valid elements in the order the schema wants, provenance in each selection's
description, notes on their span, source or the project.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.etree import ElementTree as ET

from isp_nlp.interchange.offsets import to_units
from isp_nlp.interchange.refi_codebook import (
    PROJECT_NS,
    codes_element,
    dimension_code_guids,
)
from isp_nlp.interchange.refi_ids import (
    coding_guid,
    is_guid,
    source_guid,
    stable_guid,
)
from isp_nlp.records import (
    CODE_DIMENSION,
    Codebook,
    Coder,
    Note,
)
from isp_nlp.store.files import atomic_path

PROVENANCE_PREFIX = "isp-nlp: provenance="
#: In double quotes, as the QDA tools write it (some parsers want exactly this).
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the archive's bytes do not depend on the clock
#: Characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Selection:
    """One PlainTextSelection: a coder's span with one provenance and its codes.

    ``codings`` holds (code GUID, creationDateTime or "") in codebook order.
    """

    guid: str
    document: str
    start: int
    end: int
    coder: str
    provenance: str
    codings: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class QdpxContent:
    """Everything a .qdpx holds, as plain data (``texts``: document -> stored text)."""

    name: str
    origin: str
    codebook: Codebook
    users: tuple[Coder, ...]
    texts: Mapping[str, str]
    selections: tuple[Selection, ...]
    notes: tuple[Note, ...] = ()
    #: The units selection positions are written in: "codepoints" (as stored) or "utf16".
    positions: str = "codepoints"
    #: Document attributes (document -> name -> value), written as one case per document
    #: with a text variable per attribute name, in this order.
    attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    attribute_names: tuple[str, ...] = ()


def project_qde(content: QdpxContent) -> bytes:
    """The ``project.qde`` XML of ``content`` (Project.xsd-valid, deterministic)."""
    root = ET.Element("Project", {"xmlns": PROJECT_NS, "name": content.name,
                                  "origin": content.origin})
    users = {u.name: u for u in content.users}
    if content.users:
        users_el = ET.SubElement(root, "Users")
        for user in content.users:
            attrs = {"guid": user.guid, "name": user.name}
            if user.initials:
                attrs["id"] = user.initials
            ET.SubElement(users_el, "User", attrs)
    ET.SubElement(root, "CodeBook").append(codes_element(content.codebook))
    _code_note_refs(root, content)
    _cases(root, content)
    by_doc: dict[str, list[Selection]] = {}
    for sel in content.selections:
        by_doc.setdefault(sel.document, []).append(sel)
    if content.texts:
        sources_el = ET.SubElement(root, "Sources")
        for document in content.texts:
            guid = source_guid(document)
            source_el = ET.SubElement(sources_el, "TextSource", {
                "guid": guid, "name": document, "plainTextPath": f"internal://{guid}.txt"})
            text = content.texts[document]
            for sel in by_doc.get(document, ()):
                start, end = to_units(text, (sel.start, sel.end), content.positions)
                _selection_element(source_el, replace(sel, start=start, end=end),
                                   users[sel.coder].guid)
            _note_refs(source_el, content, document, users)
    if content.notes:
        notes_el = ET.SubElement(root, "Notes")
        for note in content.notes:
            attrs = {"guid": note_guid(note), "name": note.title or "Note"}
            if note.coder in users:
                attrs["creatingUser"] = users[note.coder].guid
            if note.created_at:
                attrs["creationDateTime"] = note.created_at
            ET.SubElement(ET.SubElement(notes_el, "Note", attrs),
                          "PlainTextContent").text = note.text
    for element in root.iter():  # names and definitions from hostile files stay well-formed
        if element.text:
            element.text = _NOT_XML.sub("", element.text)
        for key, value in element.attrib.items():
            element.attrib[key] = _NOT_XML.sub("", value)
    ET.indent(root)
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")


def variable_guid(name: str) -> str:
    """The GUID of the variable of attribute ``name``."""
    return stable_guid("variable", name)


def case_guid(document: str) -> str:
    """The GUID of the case holding ``document``'s attributes."""
    return stable_guid("case", document)


#: REFI-QDA variable types with the element holding a value and the form every value
#: must have, in canonical form only, so that another tool reading it as that type
#: shows it as written ("007" stays text: as an integer it would read 7).
VARIABLE_TYPES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("Boolean", "BooleanValue", re.compile(r"true|false")),
    ("Integer", "IntegerValue", re.compile(r"-?(?:0|[1-9]\d{0,17})")),
    ("Float", "FloatValue", re.compile(r"-?(?:0|[1-9]\d{0,17})\.\d{1,15}")),
    ("Date", "DateValue", re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])")),
    ("DateTime", "DateTimeValue", re.compile(
        r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:"
        r"[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?")),
)


def variable_type(values: list[str]) -> tuple[str, str]:
    """(typeOfVariable, value element) of an attribute with ``values``: the first of
    :data:`VARIABLE_TYPES` every value fits, else Text."""
    for kind, tag, form in VARIABLE_TYPES:
        if values and all(form.fullmatch(v) for v in values):
            if kind.startswith("Date") and not all(_real_date(v[:10]) for v in values):
                continue
            return kind, tag
    return "Text", "TextValue"


def _real_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _cases(root: ET.Element, content: QdpxContent) -> None:
    """``<Variables>`` (one variable per attribute name, typed by
    :func:`variable_type`) and ``<Cases>`` (one case per exported document with
    attributes, named by it, its values and a SourceRef)."""
    documents = [d for d in content.texts if content.attributes.get(d)]
    names = [n for n in content.attribute_names
             if any(n in content.attributes[d] for d in documents)]
    if not documents or not names:
        return
    variables = ET.SubElement(root, "Variables")
    tags: dict[str, str] = {}
    for name in names:
        kind, tags[name] = variable_type([content.attributes[d][name] for d in documents
                                          if name in content.attributes[d]])
        ET.SubElement(variables, "Variable", {"guid": variable_guid(name), "name": name,
                                              "typeOfVariable": kind})
    cases = ET.SubElement(root, "Cases")
    for document in documents:
        case = ET.SubElement(cases, "Case", {"guid": case_guid(document), "name": document})
        values = content.attributes[document]
        for name in names:
            if name in values:
                value = ET.SubElement(case, "VariableValue")
                ET.SubElement(value, "VariableRef", {"targetGUID": variable_guid(name)})
                ET.SubElement(value, tags[name]).text = values[name]
        ET.SubElement(case, "SourceRef", {"targetGUID": source_guid(document)})


def _code_note_refs(root: ET.Element, content: QdpxContent) -> None:
    """A ``<NoteRef>`` in each code a memo is on (after its Description, before its child
    codes, as Project.xsd orders them)."""
    guids = dimension_code_guids(content.codebook)
    on: dict[str, list[str]] = {}
    for note in content.notes:
        key = (note.dimension or CODE_DIMENSION, note.code or "")
        if note.code is not None and key in guids:
            on.setdefault(guids[key], []).append(note_guid(note))
    if not on:
        return
    for element in root.iter("Code"):
        for guid in on.get(element.get("guid", ""), ()):
            at = sum(1 for child in element if child.tag in ("Description", "NoteRef"))
            element.insert(at, ET.Element("NoteRef", {"targetGUID": guid}))


def note_guid(note: Note) -> str:
    """The note's own GUID when it has a valid one, else a stable one from its content."""
    on_code = () if note.code is None else (note.dimension, note.code)
    return note.guid if is_guid(note.guid) else stable_guid(
        "note", note.title, note.text, note.document or "", note.start, note.end, *on_code)


def _note_refs(source_el: ET.Element, content: QdpxContent, document: str,
               users: Mapping[str, Coder]) -> None:
    """Attach ``document``'s notes: on a span, through a selection holding only a NoteRef
    (the span in the units of the codings); else on the source itself."""
    text = content.texts[document]
    whole: list[str] = []
    for note in content.notes:
        if note.document != document:
            continue
        guid = note_guid(note)
        if note.start is not None and note.end is not None and (
                0 <= note.start < note.end <= len(text)):
            start, end = to_units(text, (note.start, note.end), content.positions)
            attrs = {"guid": stable_guid("note-span", guid), "startPosition": str(start),
                     "endPosition": str(end)}
            if note.coder in users:
                attrs["creatingUser"] = users[note.coder].guid
            sel = ET.Element("PlainTextSelection", attrs)
            ET.SubElement(sel, "NoteRef", {"targetGUID": guid})
            codings_end = [i for i, el in enumerate(source_el) if el.tag == "PlainTextSelection"]
            source_el.insert(codings_end[-1] + 1 if codings_end else 0, sel)
        else:
            whole.append(guid)
    for guid in whole:
        ET.SubElement(source_el, "NoteRef", {"targetGUID": guid})


def _selection_element(parent: ET.Element, sel: Selection, user: str) -> None:
    attrs = {"guid": sel.guid, "startPosition": str(sel.start), "endPosition": str(sel.end),
             "creatingUser": user}
    dates = sorted(d for _, d in sel.codings if d)
    if dates:
        attrs["creationDateTime"] = dates[0]
    element = ET.SubElement(parent, "PlainTextSelection", attrs)
    ET.SubElement(element, "Description").text = PROVENANCE_PREFIX + sel.provenance
    for target, created in sel.codings:
        coding_attrs = {"guid": coding_guid(sel.guid, target), "creatingUser": user}
        if created:
            coding_attrs["creationDateTime"] = created
        coding = ET.SubElement(element, "Coding", coding_attrs)
        ET.SubElement(coding, "CodeRef", {"targetGUID": target})


def write_qdpx_file(out: Path, qde: bytes, texts: Mapping[str, str],
                    extra: Mapping[str, bytes] | None = None) -> int:
    """Write the archive atomically (a temporary file in ``out``'s folder, then replaced);
    on any failure the temporary file is removed and ``out`` is untouched. ``extra``
    holds further members by name (isp-nlp's own state). Returns its size."""
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        _member(archive, "project.qde", qde)
        for document, text in texts.items():
            _member(archive, f"sources/{source_guid(document)}.txt", text.encode("utf-8"))
        for name, data in (extra or {}).items():
            _member(archive, name, data)
    return out.stat().st_size


def _member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
