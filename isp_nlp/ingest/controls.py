"""Control characters: removed from transcripts at ingest, made visible on the terminal.

Transcripts come from strangers. An escape sequence (``ESC ]0;...``, colours) or a
bidirectional override (U+202E) in a transcript, a coder name or a code must not reach a
coder's terminal and act there. Tabs and line breaks are text; every other C0/C1 control
character, DEL, and the bidi embedding/override/isolate characters are controls.
"""

from __future__ import annotations

import re

CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tabs and line breaks kept)."""
    return CONTROLS.sub("", text)


def count_controls(text: str) -> int:
    return len(CONTROLS.findall(text))


def visible(text: str) -> str:
    """``text`` safe to print: each control character shown as ``<U+001B>``."""
    return CONTROLS.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
