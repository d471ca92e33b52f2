"""Domain exceptions.

Every message is one plain sentence that names what was found (file, line,
field), what was expected, and how to fix it. The CLI turns any
:class:`IspNlpError` into a one-line error and exit status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class IspNlpError(Exception):
    """Base class for errors caused by the user's input or project state."""


class InputFileError(IspNlpError):
    """A transcript, codebook or CSV file cannot be read or parsed."""


class CodebookError(IspNlpError):
    """The codebook is invalid (duplicate ids, unknown parents, cycles)."""


class ImportCodesError(IspNlpError):
    """A coded-segments CSV has rows that cannot be imported."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ProjectError(IspNlpError):
    """The project folder or its database is missing or in the wrong state."""


class ModelError(IspNlpError):
    """A model cannot be trained, loaded or used."""


class AlreadyDecided(IspNlpError):
    """The coder settled this item in another review session that ran at the same time."""

    def __init__(self, coder: str, action: str) -> None:
        super().__init__(
            f"{coder} already decided this segment ({action}) in another review session "
            "running at the same time; that decision is kept and this one was not recorded."
        )
        self.action = action


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` (case aside, as the choice is spelt), or None when
    none is close enough to suggest: what every did-you-mean hint names."""
    by_fold = {c.casefold(): c for c in choices}
    close = difflib.get_close_matches(word.strip().casefold(), list(by_fold), n=1, cutoff=0.6)
    return by_fold[close[0]] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` with the choice closest to ``word`` (case aside), or ""
    when none is close: the hint an error message about a mistyped name ends with."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close is not None else ""
