"""Parse XML from a stranger incrementally, with limits checked while it is read.

:func:`parse_capped` feeds the parser a chunk at a time (never the whole file in one
string), refuses DTDs and entities (defusedxml's parser: no "billion laughs", no
external files), and stops with one line as soon as the document holds more than
:data:`MAX_ELEMENTS` elements, :data:`MAX_ATTRIBUTES` attributes, nests deeper than
:data:`MAX_DEPTH`, or leaves a tag open for more than :data:`MAX_TAG_BYTES`.

Why these numbers: a large real REFI-QDA project (50 sources, 100,000 codings, a few
thousand codes and notes) is about 400,000 elements with 2 to 7 attributes each; the
caps allow 2.5 times that. Measured on a hostile file at the caps (1,000,000 elements
carrying 8,000,000 attributes), the parsed tree peaks near 1 GB, under the 1.5 GB a
laptop can spare. No QDA tool nests XML beyond a few dozen levels; 256 leaves room for
deep code hierarchies while keeping later recursive steps (export, indentation) far
below Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast
from xml.etree import ElementTree as ET

import defusedxml
from defusedxml.ElementTree import DefusedXMLParser

from isp_nlp.errors import InputFileError

MAX_ELEMENTS = 1_000_000
MAX_ATTRIBUTES = 8_000_000
MAX_DEPTH = 256
#: Bytes one tag (from ``<`` to its ``>``) may run: expat re-reads an unclosed tag as it
#: grows, so a huge one takes quadratic time (200 MB: 15 s). Text content is not a tag;
#: no attribute a QDA tool writes comes near this.
MAX_TAG_BYTES = 16 * 1024**2


def parse_capped(chunks: Iterable[bytes], name: str) -> ET.Element:
    """The root element of the XML in ``chunks`` (``name`` names it in messages).

    Raises one-line :class:`InputFileError` for a DTD or entity, bad XML, or a document
    beyond the caps of the module docstring (read from the module at call time).
    """
    parser = ET.XMLPullParser(
        events=("start", "end"),
        _parser=DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=True,
                                 forbid_entities=True, forbid_external=True))
    max_elements, max_attributes, max_depth = MAX_ELEMENTS, MAX_ATTRIBUTES, MAX_DEPTH
    elements = attributes = depth = 0
    open_tag: int | None = None  # bytes fed since a '<' whose '>' has not come yet
    root: ET.Element | None = None
    try:
        for chunk in chunks:
            open_tag = _open_tag(open_tag, chunk)
            if open_tag is not None and open_tag > MAX_TAG_BYTES:
                raise InputFileError(
                    f"{name} has an XML tag running over {MAX_TAG_BYTES:,} bytes without "
                    "its closing '>', which no QDA tool writes; refusing it (a hostile or "
                    "damaged file); export it again.")
            parser.feed(chunk)
            for pair in parser.read_events():
                event, element = cast("tuple[str, ET.Element]", pair)
                if event == "end":
                    depth -= 1
                    continue
                elements += 1
                depth += 1
                attributes += len(element.attrib)
                if root is None:
                    root = element
                if depth > max_depth:
                    raise InputFileError(
                        f"{name} nests its XML elements more than {max_depth} levels deep "
                        f"(at <{_local(element.tag)}>), which no QDA tool writes; refusing it "
                        "(a hostile or damaged file); export it again.")
                if elements > max_elements or attributes > max_attributes:
                    raise InputFileError(
                        f"{name} holds more than {max_elements:,} XML elements or "
                        f"{max_attributes:,} attributes, beyond what isp-nlp reads; refusing "
                        "it (a hostile file, or a project too large to import at once: "
                        "export fewer sources at a time).")
        parser.close()
        for _ in parser.read_events():
            pass
    except defusedxml.DefusedXmlException:
        raise InputFileError(f"{name} declares a DTD or entities, which REFI-QDA files never "
                             "need; refusing it (remove the DOCTYPE and try again).") from None
    except ET.ParseError as exc:
        raise InputFileError(f"{name} is not well-formed XML ({exc}); export it again "
                             "from your QDA tool.") from None
    if root is None:
        raise InputFileError(f"{name} is not well-formed XML (no element found); export it "
                             "again from your QDA tool.")
    return root


def _open_tag(open_tag: int | None, chunk: bytes) -> int | None:
    """Bytes since the last '<' not yet closed by a '>', after ``chunk`` (None: none open).
    In well-formed XML a raw '<' always starts markup, so text content never counts."""
    lt, gt = chunk.rfind(b"<"), chunk.rfind(b">")
    if lt > gt:
        return len(chunk) - lt
    if gt >= 0:
        return None
    return None if open_tag is None else open_tag + len(chunk)


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1][:40]
