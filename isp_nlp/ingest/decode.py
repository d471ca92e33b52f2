"""Read transcript files as bytes and decode them to normalised text.

Every text-like reader (plain text, Markdown, WebVTT, SRT, SBV) goes through
:func:`load_text`, so encoding problems are reported the same way for all of
them: UTF-8 (with or without BOM) first, UTF-16 when a BOM says so, then
Windows-1252 with a warning, else a one-line :class:`InputFileError`.
"""

from __future__ import annotations

import codecs
import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from isp_nlp.errors import InputFileError

# Leading bytes of common binary formats someone might save with a text suffix.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (for example a Word .docx file)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (for example a Word .doc file)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "a Rich Text Format (.rtf) document"),
)
#: Transcript files larger than this are refused before they are read.
MAX_TRANSCRIPT_BYTES = 50_000_000
_UTF16_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


@dataclass(frozen=True)
class DecodedText:
    """The raw bytes of a file, their hash, the decoded text and any warnings."""

    raw: bytes
    sha256: str
    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def read_bytes(path: Path) -> bytes:
    """Return the bytes of ``path``; missing files, folders and empty files raise."""
    name = path.name or str(path)
    if not path.exists():
        raise InputFileError(
            f"{path} does not exist; expected a transcript file; check the path and spelling."
        )
    if path.is_dir():
        raise InputFileError(
            f"{path} is a folder, not a file; expected a transcript file; "
            "pass the path of one transcript inside it."
        )
    if not path.is_file():
        raise InputFileError(
            f"{name} is not a regular file (a device, pipe or socket); expected a saved "
            "transcript file; pass the path of the file itself."
        )
    size = path.stat().st_size
    if size > MAX_TRANSCRIPT_BYTES:
        raise InputFileError(
            f"{name} is {size:,} bytes; transcript files over "
            f"{MAX_TRANSCRIPT_BYTES:,} bytes are refused (an hour of talk is well under "
            "1 MB); split it, or check that it is a transcript."
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputFileError(
            f"{name} cannot be read ({reason}); expected a readable file; "
            "check its permissions and that it is not open elsewhere."
        ) from None
    if not raw:
        raise InputFileError(
            f"{name} is empty (0 bytes); expected transcript text; "
            "check that the file was saved or exported completely."
        )
    return raw


def _line_of(raw: bytes, pos: int) -> int:
    """1-based line number of byte offset ``pos`` counting LF, CRLF and CR endings."""
    prefix = raw[:pos].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return prefix.count(b"\n") + 1


def _binary_kind(raw: bytes) -> str | None:
    """Describe ``raw`` if it looks like a binary file, else None."""
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    if b"\x00" in raw:
        return "a binary file (it contains NUL bytes)"
    return None


def normalise_newlines(text: str) -> str:
    """Turn CRLF and lone CR line endings into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_bytes(raw: bytes, name: str) -> tuple[str, str, tuple[str, ...]]:
    """Decode ``raw`` and return ``(text, encoding, warnings)``.

    The text has its BOM removed, LF line endings and Unicode NFC form.
    """
    warnings: list[str] = []
    text: str | None = None
    encoding = "utf-8"
    for bom, codec in _UTF16_BOMS:
        if raw.startswith(bom) and not raw.startswith(codecs.BOM_UTF32_LE):
            try:
                text = raw[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                raise InputFileError(
                    f"{name} starts with a UTF-16 byte order mark but is not valid UTF-16; "
                    "expected a readable text file; re-save it as UTF-8."
                ) from None
            encoding = "utf-16"
            break
    if text is None:
        kind = _binary_kind(raw)
        if kind is not None:
            raise InputFileError(
                f"{name} is {kind}, not text; expected a plain-text transcript; "
                "export or save the transcript as UTF-8 text (or use the matching suffix)."
            )
        try:
            text = raw.decode("utf-8-sig")
            encoding = "utf-8"
        except UnicodeDecodeError:
            text = _decode_cp1252(raw, name)
            encoding = "cp1252"
            warnings.append(
                f"{name} is not UTF-8; read it as Windows-1252 (cp1252); "
                "re-save it as UTF-8 to silence this warning"
            )
    text = unicodedata.normalize("NFC", normalise_newlines(text.lstrip("\ufeff")))
    if not text.strip():
        raise InputFileError(
            f"{name} contains only whitespace; expected transcript text; "
            "check that the file was saved or exported completely."
        )
    return text, encoding, tuple(warnings)


def _decode_cp1252(raw: bytes, name: str) -> str:
    """Decode as Windows-1252 or raise naming the first byte it cannot map."""
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        line = _line_of(raw, exc.start)
        raise InputFileError(
            f"{name} line {line}: byte 0x{byte:02X} is neither UTF-8 nor Windows-1252 text; "
            "expected a text file in a known encoding; re-save the file as UTF-8."
        ) from None


def load_text(path: Path) -> DecodedText:
    """Read and decode a text-like transcript file."""
    raw = read_bytes(path)
    text, encoding, warnings = decode_bytes(raw, path.name)
    return DecodedText(
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        text=text,
        encoding=encoding,
        warnings=warnings,
    )
