"""Stable REFI-QDA GUIDs for what isp-nlp exports: uuid5 over the fixed namespace of
:mod:`isp_nlp.interchange.refi_codebook` and a key made of stable names, so two exports
of the same project (or of two projects built the same way) carry the same GUIDs.

A GUID a QDA tool gave (a coder's, a coding's) is kept when it is a well-formed GUID.
"""

from __future__ import annotations

import uuid

from isp_nlp.interchange.refi_codebook import GUID_NAMESPACE, is_guid


def stable_guid(kind: str, *parts: object) -> str:
    """uuid5 of ``kind`` and ``parts`` (joined with NUL, which no name holds)."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\x00".join([kind, *map(str, parts)])))


def source_guid(document: str) -> str:
    """The TextSource GUID of a document (also its ``sources/<guid>.txt`` name)."""
    return stable_guid("source", document)


def user_guid(name: str, stored: str = "") -> str:
    """A coder's GUID: the stored one (from a QDA tool) if well-formed, else uuid5 of the name."""
    return stored if stored and is_guid(stored) else stable_guid("user", name)


def selection_guid(document: str, start: int, end: int, coder: str, provenance: str) -> str:
    """The GUID of the PlainTextSelection of one coder's span with one provenance."""
    return stable_guid("selection", document, start, end, coder, provenance)


def coding_guid(selection: str, code: str) -> str:
    """The GUID of the Coding of code GUID ``code`` in selection GUID ``selection``."""
    return stable_guid("coding", selection.strip("{}").lower(), code)
