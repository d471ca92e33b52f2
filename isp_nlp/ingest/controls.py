"""Control characters: removed from transcripts at ingest, made visible on the terminal.

Transcripts come from strangers. An escape sequence (``ESC ]0;...``, colours) or a
bidirectional override (U+202E) in a transcript, a coder name or a code must not reach a
coder's terminal and act there. Tabs and line breaks are text; every other C0/C1 control
character, DEL, and the bidi embedding/override/isolate characters are controls.

On the terminal, :func:`terminal_text` is the one rule every line the CLI prints passes
through (the CLI wraps stdout and stderr with it): controls are shown as ``<U+001B>``,
and so is a carriage return that could overwrite the line it is in. :func:`one_line`
also shows line breaks, for text that must stay on one line (error messages).
"""

from __future__ import annotations

import re

CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

#: Controls, plus a carriage return not followed by a line feed (it would let the rest of
#: the text overwrite the start of its line, forging what the line says).
_TERMINAL = re.compile(CONTROLS.pattern + r"|\r(?!\n)")
_LINE = re.compile(CONTROLS.pattern + r"|[\r\n]")

#: What click's progress bar writes around its line on a terminal (hide, show cursor).
_BAR_START = "\r\x1b[?25l"
_BAR_END = "\x1b[?25h\n"


def strip_controls(text: str) -> str:
    """``text`` without control characters (tabs and line breaks kept)."""
    return CONTROLS.sub("", text)


def count_controls(text: str) -> int:
    return len(CONTROLS.findall(text))


def _show(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def visible(text: str) -> str:
    """``text`` safe to print: each control character shown as ``<U+001B>``."""
    return CONTROLS.sub(_show, text)


def one_line(text: str) -> str:
    """``text`` as one line: controls and line breaks shown as ``<U+000A>``."""
    return _LINE.sub(_show, text)


def terminal_text(text: str) -> str:
    """One write to the terminal, safe: controls and a line-overwriting CR made visible.

    A carriage return is kept only where it cannot forge text: before a line feed, and at
    the very start of a write that holds no line feed (a progress bar redrawing its own
    line; click's bar also hides the cursor there and shows it again when done). The
    result holds no control character, so applying it twice changes nothing.
    """
    if text == _BAR_END:
        return text
    if "\n" not in text:
        for lead in (_BAR_START, "\r"):
            if text.startswith(lead):
                return lead + _TERMINAL.sub(_show, text[len(lead):])
    return _TERMINAL.sub(_show, text)
