"""Read and write a REFI-QDA codebook: ``.qdc``, or the ``<CodeBook>`` in a ``.qde``/``.qdpx``.

Mapping onto :class:`~isp_nlp.records.Codebook`:

- code id: a slug of the code's name (``"Didactic training"`` -> ``didactic_training``);
  a clash is resolved by prefixing the parent's id, then by a number suffix.
  Ids are readable and, since they depend only on names and nesting, stable.
- ``<Description>`` -> ``definition``; ``color`` -> ``Code.color``; parent from nesting.
- single-choice dimensions: a top-level code named "Stage" whose children are stage
  names (``push``, ``Push-pull``, ...; any case) becomes the default stage dimension
  (:func:`isp_nlp.codebook.check.stage_dimension`; missing stages take the defaults, the
  tool's GUIDs are kept). Every other tree stays codes: REFI-QDA has no single-choice
  dimensions, so a dimension of our own export comes back as a dimension only through
  isp-nlp's state member (:mod:`isp_nlp.interchange.refi_state`); without it, its
  parent and values are read as ordinary codes. A codebook without such a tree has no
  dimension (none is made up).
- writing: GUIDs are uuid5 over a fixed namespace and the code id, so two exports of
  the same codebook are identical (a GUID a QDA tool gave is kept). Each dimension goes
  under a non-codable parent code named by the dimension's name, one codable child per
  value (:func:`dimension_guid`); a codebook without dimensions gets no such tree.

XML is parsed incrementally with the caps of :mod:`isp_nlp.ingest.safe_xml` (no
DTDs, no entities, element count and depth capped); sizes are checked before reading: a
``.qdc`` up to :data:`MAX_CODEBOOK_BYTES` (20 MB, as YAML codebooks), a ``.qde`` up to
:data:`MAX_QDE_BYTES`; from a ``.qdpx`` only ``project.qde`` is read, streamed from the
archive after the checks of :mod:`isp_nlp.ingest.safe_zip`. Codes may nest at most
:data:`MAX_CODE_DEPTH` levels, so that whatever is imported can be exported again.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from isp_nlp.codebook.check import (
    COLOR,
    DEFAULT_STAGES,
    MAX_CODE_DEPTH,
    MAX_CODES,
    normalise_value,
    stage_dimension,
)
from isp_nlp.codebook.load import MAX_CODEBOOK_BYTES
from isp_nlp.errors import InputFileError
from isp_nlp.ingest.safe_xml import parse_capped
from isp_nlp.ingest.safe_zip import SafeArchive, describe_bytes, open_archive
from isp_nlp.records import CODE_DIMENSION, STAGES, Code, Codebook, Dimension
from isp_nlp.store.files import atomic_write_bytes, read_regular

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_NS = "urn:QDA-XML:project:1.0"
NAMESPACES = (CODEBOOK_NS, PROJECT_NS)
SUFFIXES = (".qdc", ".qde", ".qdpx")
#: The name of a foreign tool's top-level tree read as the default stage dimension.
STAGE_PARENT = "Stage"
#: Fixed namespace of the uuid5 GUIDs we write (never change it: GUIDs must stay stable).
GUID_NAMESPACE = uuid.UUID("6f1d4c1e-8a51-5b0e-9a47-2f0c3d1b7e55")
#: A bare .qde on disk, or project.qde in a .qdpx: 256 MB holds about the 1,000,000 XML
#: elements safe_xml allows (real projects are a few MB; the NVivo sample is 0.3 MB),
#: and the raw bytes plus the parsed tree at that size stay under 1.5 GB.
MAX_QDE_BYTES = 256 * 1024**2
_CHUNK = 1024 * 1024
_DEFAULT_STAGE = stage_dimension()
_DEFAULT_STAGE_BY_ID = {s.id: s for s in DEFAULT_STAGES}
#: The GUIDs our export gives the default stage dimension's values (see :func:`code_guid`),
#: so a stage renamed in the codebook ("No stage evident") is still recognised when the
#: file is read back without its state.
_STAGE_BY_GUID = {str(uuid.uuid5(GUID_NAMESPACE, f"{_DEFAULT_STAGE.id}:{s}")): s
                  for s in _DEFAULT_STAGE.value_ids}


@dataclass(frozen=True)
class CodebookImport:
    """A codebook read from a REFI-QDA file and what could not be read cleanly."""

    codebook: Codebook
    warnings: tuple[str, ...] = ()


def is_refi_file(path: str | Path) -> bool:
    """True when ``path`` has a REFI-QDA suffix (.qdc, .qde, .qdpx)."""
    return Path(path).suffix.lower() in SUFFIXES


# --------------------------------------------------------------------------- reading


def read_refi_root(path: Path, what: str = "REFI-QDA file") -> tuple[ET.Element, bool]:
    """The parsed root of a .qdc, .qde or the ``project.qde`` of a .qdpx at ``path``, and
    whether it came from a .qdpx; sizes and XML caps are checked (module docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".qdpx":
        with open_archive(path) as archive:
            return project_root(archive), True
    limit = MAX_CODEBOOK_BYTES if suffix == ".qdc" else MAX_QDE_BYTES
    kind = "REFI-QDA codebook" if suffix == ".qdc" else what
    data = read_regular(path, kind, limit)
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and not data.startswith(
            (b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(f"{path.name} is not XML, so not a {kind}: it looks like "
                             f"{describe_bytes(data[:2048])}; export it again from your QDA "
                             "tool.")
    return parse_xml(data, path.name), False


def project_root(archive: SafeArchive, digest: Any = None) -> ET.Element:
    """The parsed ``project.qde`` of a checked .qdpx archive, streamed from the archive;
    ``digest`` (a hashlib object), when given, is updated with its bytes."""
    info = archive.find("project.qde") or archive.find_nested("project.qde")
    if info is None:
        raise InputFileError(f"{archive.path.name} has no project.qde, so it is not a "
                             "REFI-QDA .qdpx; export the project again from your QDA tool.")
    chunks = archive.chunks(info, MAX_QDE_BYTES)
    if digest is not None:
        chunks = _hashed(chunks, digest)
    return parse_capped(chunks, archive.path.name)


def _hashed(chunks: Iterator[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def parse_xml(data: bytes, name: str) -> ET.Element:
    """Parse REFI-QDA XML incrementally; DTDs, entities, bad XML and documents beyond the
    caps of :mod:`isp_nlp.ingest.safe_xml` are one-line errors."""
    view = memoryview(data)
    return parse_capped((bytes(view[i:i + _CHUNK]) for i in range(0, len(data), _CHUNK)),
                        name)


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _is(element: ET.Element, local: str) -> bool:
    ns, name = _local(element.tag)
    return name == local and ns in (*NAMESPACES, "")


def _child(element: ET.Element, local: str) -> ET.Element | None:
    return next((c for c in element if _is(c, local)), None)


def _find_codebook(root: ET.Element) -> ET.Element | None:
    if _is(root, "CodeBook"):
        return root
    if _is(root, "Project"):
        return _child(root, "CodeBook")
    return None


def slug(text: str) -> str:
    """A lower-case id for ``text``: letters and digits joined by ``_``, accents dropped
    (``Oltás`` -> ``oltas``); other scripts are kept (``Доверие`` -> ``доверие``);
    ``code`` when nothing is left."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return re.sub(r"[\W_]+", "_", unicodedata.normalize("NFC", bare)).strip("_") or "code"


@dataclass
class _Reader:
    name: str
    codes: list[Code]
    warnings: list[str]
    ids: set[str]
    not_codable: int = 0
    guids: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The next number suffix to try per id stem, so many equal names stay linear.
    _next: dict[str, int] = field(default_factory=dict)
    seen_guids: set[str] = field(default_factory=set)

    def new_id(self, name: str, parent: str | None) -> str:
        base = slug(name)
        candidates = [base] + ([f"{parent}__{base}"] if parent else [])
        for cand in candidates:
            if cand not in self.ids:
                break
        else:
            stem = candidates[-1]
            n = self._next.get(stem, 2)
            while f"{stem}_{n}" in self.ids:
                n += 1
            self._next[stem] = n + 1
            cand = f"{stem}_{n}"
        self.ids.add(cand)
        return cand

    def code(self, element: ET.Element, parent: str | None, depth: int = 1) -> None:
        name = (element.get("name") or "").strip()
        if depth > MAX_CODE_DEPTH:
            raise InputFileError(
                f"{self.name}: code '{name[:60]}' is nested more than {MAX_CODE_DEPTH} levels "
                "deep, beyond what isp-nlp can export again; flatten the code hierarchy in "
                "your QDA tool and export again.")
        if len(self.codes) >= MAX_CODES:
            raise InputFileError(
                f"{self.name}: the codebook holds more than {MAX_CODES:,} codes, beyond what "
                "isp-nlp reads; check that it is the right file, or split the codebook.")
        if not name:
            name = element.get("guid") or "unnamed"
            self.warnings.append(f"{self.name}: a code without a name is kept as '{name}'.")
        color = (element.get("color") or "").strip()
        if color and not COLOR.fullmatch(color):
            self.warnings.append(f"{self.name}: code '{name}' has colour '{color}', not "
                                 "#RRGGBB; the colour is dropped.")
            color = ""
        if element.get("isCodable", "true").strip().lower() in ("false", "0"):
            self.not_codable += 1
        guid = (element.get("guid") or "").strip()
        code = Code(id=self.new_id(name, parent), name=name, parent=parent,
                    definition=_description(element), color=color,
                    guid=guid if is_guid(guid) else "")
        self.codes.append(code)
        if guid:
            if guid.strip("{}").lower() in self.seen_guids:
                raise InputFileError(
                    f"{self.name}: two codes share the GUID {guid[:40]} (the second is "
                    f"'{name[:60]}'), so codings cannot tell them apart; the file is damaged: "
                    "export it again from your QDA tool.")
            self.seen_guids.add(guid.strip("{}").lower())
            self.guids[guid] = (CODE_DIMENSION, code.id)
        for child in element:
            if _is(child, "Code"):
                self.code(child, code.id, depth + 1)


def _description(element: ET.Element) -> str:
    desc = _child(element, "Description")
    return (desc.text or "").strip() if desc is not None else ""


def _stage_id(element: ET.Element) -> str | None:
    """A stage code's id: from its name, else from the GUID our export gives that stage."""
    sid = normalise_value(_DEFAULT_STAGE, element.get("name"))
    if sid in STAGES:
        return sid
    return _STAGE_BY_GUID.get((element.get("guid") or "").strip("{} ").lower(), sid)


def _stage_children(element: ET.Element) -> list[ET.Element] | None:
    """The stage children of a top-level "Stage" code, or None when it is an ordinary code."""
    if (element.get("name") or "").strip().casefold() != STAGE_PARENT.casefold():
        return None
    kids = [c for c in element if _is(c, "Code")]
    ids = [_stage_id(c) for c in kids]
    if not kids or any(i not in STAGES for i in ids) or len(set(ids)) != len(ids):
        return None
    if any(_is(g, "Code") for c in kids for g in c):
        return None
    return kids


def _stage_tree(parent: ET.Element, kids: list[ET.Element],
                guids: dict[str, tuple[str, str]]) -> Dimension:
    """The default stage dimension from a foreign "Stage" tree: its values named, described
    and coloured as the tool has them, with the tool's GUIDs (kept for the way back)."""
    by_id: dict[str, Code] = {}
    for kid in kids:
        sid = str(_stage_id(kid))
        guid = (kid.get("guid") or "").strip()
        if guid:
            guids[guid] = (_DEFAULT_STAGE.id, sid)
        base = _DEFAULT_STAGE_BY_ID[sid]
        color = (kid.get("color") or "").strip()
        by_id[sid] = replace(base, name=(kid.get("name") or "").strip() or base.name,
                             definition=_description(kid) or base.definition,
                             color=color if COLOR.fullmatch(color) else "",
                             guid=guid if is_guid(guid) else "")
    guid = (parent.get("guid") or "").strip()
    return replace(stage_dimension(tuple(by_id.get(s, _DEFAULT_STAGE_BY_ID[s])
                                         for s in STAGES)),
                   guid=guid if is_guid(guid) else "")


def read_refi_codebook(path: str | Path) -> CodebookImport:
    """Read the codebook of a .qdc, .qde or .qdpx file; named after the file's stem."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"codebook file '{path}' does not exist or is a folder; "
                             "check the path and try again.")
    return codebook_from_root(read_refi_root(path)[0], path.name)[0]


def codebook_from_root(root: ET.Element, name: str
                       ) -> tuple[CodebookImport, dict[str, tuple[str, str]]]:
    """The codebook of a parsed .qdc/.qde root (``name`` is the file's name), with the map
    from each code's GUID to its ``(dimension, code id)`` (a value of a dimension maps to
    the dimension's id)."""
    path = Path(name)
    element = _find_codebook(root)
    codes_el = _child(element, "Codes") if element is not None else None
    if element is None or codes_el is None:
        raise InputFileError(f"{path.name} holds no REFI-QDA <CodeBook> with <Codes>; "
                             "export the codebook (.qdc) or project (.qdpx) again.")
    reader = _Reader(path.name, [], [], set())
    stage: Dimension | None = None
    for top in codes_el:
        if not _is(top, "Code"):
            continue
        kids = _stage_children(top) if stage is None else None
        if kids is not None:
            stage = _stage_tree(top, kids, reader.guids)
        else:
            reader.code(top, None)
    if not reader.codes:
        reader.warnings.append(f"{path.name}: the codebook has no codes besides the stages.")
    if reader.not_codable:
        reader.warnings.append(f"{path.name}: {reader.not_codable} code(s) marked "
                               "isCodable=false are kept as ordinary codes.")
    sets = _child(element, "Sets")
    if sets is not None:
        count = sum(1 for s in sets if _is(s, "Set"))
        reader.warnings.append(
            f"{path.name}: empty <Sets/> (the schema wants at least one Set); ignored."
            if count == 0 else f"{path.name}: {count} code set(s) in <Sets> are not imported.")
    book = Codebook(name=path.stem, codes=tuple(reader.codes),
                    dimensions=(stage,) if stage is not None else ())
    return CodebookImport(book, tuple(reader.warnings)), reader.guids


# --------------------------------------------------------------------------- writing


#: REFI-QDA ``GUIDType``: 8-4-4-4-12 hex digits, optionally in braces.
GUID = re.compile(r"\{?[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}?")


def is_guid(value: str) -> bool:
    """True when ``value`` is a REFI-QDA GUID (braces balanced or absent)."""
    return bool(GUID.fullmatch(value)) and value.startswith("{") == value.endswith("}")


def code_guid(code: Code) -> str:
    """The GUID written for ``code``: the one its QDA tool gave it (kept, so the tool
    knows the code again), else uuid5 over our namespace, dimension and id."""
    if code.guid and is_guid(code.guid):
        return code.guid
    return str(uuid.uuid5(GUID_NAMESPACE, f"{code.dimension}:{code.id}"))


def _code_element(parent: ET.Element, code: Code, guid: str, codable: bool) -> ET.Element:
    attrs = {"guid": guid, "name": code.name or code.id,
             "isCodable": "true" if codable else "false"}
    if code.color and COLOR.fullmatch(code.color):
        attrs["color"] = code.color
    element = ET.SubElement(parent, "Code", attrs)
    if code.definition:
        ET.SubElement(element, "Description").text = code.definition
    return element


def dimension_guid(dimension: Dimension) -> str:
    """The GUID written for ``dimension``'s parent code: the one a QDA tool gave it, else
    uuid5 over our namespace and ``<id>-parent`` (``stage-parent`` for the default stage
    dimension, as exports always had)."""
    if dimension.guid and is_guid(dimension.guid):
        return dimension.guid
    return str(uuid.uuid5(GUID_NAMESPACE, f"{dimension.id}-parent"))


def dimension_code_guids(codebook: Codebook) -> dict[tuple[str, str], str]:
    """The GUID written for every code and every dimension value, by ``(dimension, id)``,
    in the order they are written."""
    return {(c.dimension, c.id): code_guid(c)
            for c in (*codebook.codes, *(v for d in codebook.dimensions for v in d.values))}


def codes_element(codebook: Codebook) -> ET.Element:
    """The ``<Codes>`` of ``codebook`` (the hierarchy, then one non-codable parent per
    dimension, named by the dimension's name, holding its values), unqualified: it takes
    the namespace of the root it is put under (a .qdc ``<CodeBook>`` or a .qde
    ``<Project>``)."""
    codes_el = ET.Element("Codes")
    known = {c.id for c in codebook.codes}
    kids: dict[str | None, list[Code]] = {}
    for code in codebook.codes:
        kids.setdefault(code.parent if code.parent in known else None, []).append(code)

    def add(parent_el: ET.Element, parent_id: str | None) -> None:
        for code in kids.get(parent_id, []):
            add(_code_element(parent_el, code, code_guid(code), True), code.id)

    add(codes_el, None)
    for dim in codebook.dimensions:  # a codebook without dimensions gets no such tree
        parent = Code(id=dim.id, name=dim.name or dim.id, definition=dim.definition or
                      f"Single-choice {dim.id} dimension (one per segment).")
        dim_el = _code_element(codes_el, parent, dimension_guid(dim), False)
        for value in dim.values:
            _code_element(dim_el, value, code_guid(value), True)
    return codes_el


def codebook_to_qdc(codebook: Codebook) -> bytes:
    """The codebook as REFI-QDA .qdc bytes (Codebook.xsd-valid; no <Sets>)."""
    root = ET.Element("CodeBook", {"xmlns": CODEBOOK_NS, "origin": "isp-nlp"})
    root.append(codes_element(codebook))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_qdc(codebook: Codebook, path: str | Path) -> Path:
    """Write ``codebook`` as a .qdc file at ``path`` (whole or not at all); return it."""
    path = Path(path)
    if path.suffix.lower() != ".qdc":
        raise InputFileError(f"{path.name}: a REFI-QDA codebook is written as .qdc; "
                             "give an output path ending in .qdc.")
    atomic_write_bytes(path, codebook_to_qdc(codebook), what="the codebook export")
    return path

