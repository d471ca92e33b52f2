"""Read transcript files into :class:`~isp_nlp.records.Transcript` objects.

:func:`read_transcript` picks a reader by file suffix from a small registry.
Every reader renders its turns the same way (see :mod:`isp_nlp.ingest.render`)
and reports user mistakes as one-line :class:`~isp_nlp.errors.InputFileError`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.controls import strip_controls
from isp_nlp.ingest.docx import read_docx
from isp_nlp.ingest.render import RawTurn, build_transcript
from isp_nlp.ingest.text import read_text
from isp_nlp.ingest.timed import read_timed
from isp_nlp.records import Transcript

Reader = Callable[..., Transcript]

READERS: dict[str, Reader] = {
    ".txt": read_text,
    ".text": read_text,
    ".md": read_text,
    ".vtt": partial(read_timed, fmt="vtt"),
    ".srt": partial(read_timed, fmt="srt"),
    ".sbv": partial(read_timed, fmt="sbv"),
    ".docx": read_docx,
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(READERS)

__all__ = [
    "READERS",
    "SUPPORTED_SUFFIXES",
    "RawTurn",
    "build_transcript",
    "read_transcript",
]


def read_transcript(path: str | Path, *, document: str | None = None) -> Transcript:
    """Read one transcript file; ``document`` defaults to the file stem."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise InputFileError(
            f"{path.name} has {found}; expected one of {', '.join(SUPPORTED_SUFFIXES)}; "
            "save or export the transcript in one of these formats."
        )
    if document is not None and not document.strip():
        raise InputFileError(
            f"{path.name}: the document name is empty; expected a non-empty name; "
            "leave it out to use the file stem."
        )
    if document is None:  # a file name may hold a newline or an escape sequence
        document = " ".join(strip_controls(path.stem.replace("\n", " ")).split()) or "document"
    return reader(path, document=document)
