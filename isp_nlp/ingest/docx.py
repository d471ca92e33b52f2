"""Word ``.docx`` transcripts (python-docx).

Paragraphs are read in order and grouped into turns with the same speaker
label rules as plain text; a speaker name in bold at the start of a
paragraph (``Maria:`` or just ``Maria`` before the text) is always a label.
A title or heading before any text is dropped. Line breaks inside a
paragraph separate lines, as in Microsoft Teams transcripts (a
``Jane Doe   0:03`` line, then the text, in one paragraph). A table with two or three
columns whose last two are speaker and text (a first timestamp column is
ignored) gives one turn per row. ``Turn.line`` is the 1-based number of the
paragraph (or table row) among the document's body blocks.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.decode import read_bytes
from isp_nlp.ingest.labels import (
    MAX_LABEL_CHARS,
    accepted_speakers,
    label_lines,
    match_label,
    match_stamp_line,
)
from isp_nlp.ingest.render import RawTurn, build_transcript, clean_line
from isp_nlp.ingest.safe_zip import check_zip_directory, member_problem
from isp_nlp.ingest.text import turns_from_lines
from isp_nlp.records import Transcript

_HEADER_WORDS = {"speaker", "name", "who", "person", "role"}


#: A Word transcript unpacks to a few MB; larger packages are refused before parsing.
MAX_DOCX_MEMBERS = 5_000
MAX_DOCX_UNPACKED = 256 * 1024**2


def _check_package(raw: bytes, name: str) -> None:
    """Refuse a .docx whose members escape, link, or unpack beyond the limits."""
    check_zip_directory(io.BytesIO(raw), name, MAX_DOCX_MEMBERS)  # before zipfile parses it
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as package:
            infos = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # python-docx reports the damage in its own words below
    total = sum(i.file_size for i in infos)
    if len(infos) > MAX_DOCX_MEMBERS or total > MAX_DOCX_UNPACKED:
        raise InputFileError(
            f"{name} unpacks to {total:,} bytes in {len(infos)} parts, beyond the limit of "
            f"{MAX_DOCX_UNPACKED:,} bytes and {MAX_DOCX_MEMBERS} parts for a Word "
            "transcript; refusing it (possibly a zip bomb); save the transcript again from Word."
        )
    for info in infos:
        problem = member_problem(info)
        if problem is not None:
            raise InputFileError(f"{name}: {problem}; refusing it (a hostile or damaged file).")


def _open(raw: bytes, name: str) -> Any:
    """Open the document or raise a one-line error when it is not a valid .docx."""
    import docx

    if not raw.startswith(b"PK\x03\x04"):
        kind = "an old binary Word .doc file" if raw.startswith(b"\xd0\xcf\x11\xe0") else None
        found = kind or "not a ZIP package"
        raise InputFileError(
            f"{name} is not a valid Word .docx file ({found}); expected a .docx saved by Word "
            "or LibreOffice; open it and save it again as .docx (or as plain text)."
        )
    _check_package(raw, name)
    try:
        return docx.Document(io.BytesIO(raw))
    except Exception as exc:  # python-docx raises many types for a damaged package
        detail = clean_line(str(exc))[:80] or type(exc).__name__
        raise InputFileError(
            f"{name} is not a valid Word .docx file ({detail}); expected a .docx saved by Word "
            "or LibreOffice; open it and save it again as .docx (or as plain text)."
        ) from None


def _paragraph_line(paragraph: Any) -> tuple[str, str | None]:
    """Paragraph text, with a leading bold speaker name rewritten as ``Name: ``.

    Returns the line and the bold name when there was one.
    """
    text = paragraph.text
    first = text.split("\n", 1)[0]
    if (found := match_label(first)) is not None and found.stamped:
        return text, None  # a Teams/Otter "Name   0:03" heading, bold or not
    bold = ""
    for run in paragraph.runs:
        if not run.text:
            continue
        if not run.bold:
            break
        bold += run.text
    if not bold.strip() or not text.startswith(bold):
        return text, None
    name = bold.strip().rstrip(":").strip()
    rest = text[len(bold) :].strip()
    if rest.startswith(":"):
        rest = rest[1:].strip()
    if not name or not rest or len(name) > MAX_LABEL_CHARS:
        return text, None
    match = match_label(f"{name}:")
    if match is None or match.speaker != name:
        return text, None
    first, _, after = rest.partition("\n") if "\n" in rest else rest.partition(" ")
    if after.strip() and match_stamp_line(first) is not None:
        rest = f"[{first.strip()}] {after.strip()}"  # bold name, then its time: Teams
    return f"{name}: {rest}", name


def _is_title(paragraph: Any) -> bool:
    style = getattr(paragraph.style, "name", "") or ""
    return style.startswith(("Heading", "Title"))


def _row_turn(cells: list[str], block_no: int) -> RawTurn | None:
    """A turn from a (timestamp,) speaker, text table row, or None for headers/blanks."""
    if len(cells) < 2:
        return None
    speaker, text = clean_line(cells[-2]), cells[-1]
    if speaker.casefold().rstrip(":") in _HEADER_WORDS:
        return None
    return RawTurn(
        speaker=speaker or None,
        paragraphs=[p for p in text.split("\n") if p.strip()],
        line=block_no,
    )


def _is_speaker_table(table: Any) -> bool:
    """True for a 2-3 column table whose speaker cells are short."""
    rows = table.rows
    if not rows or not all(2 <= len(r.cells) <= 3 for r in rows):
        return False
    return all(len(clean_line(r.cells[-2].text)) <= MAX_LABEL_CHARS for r in rows)


def _blocks(doc: Any) -> list[tuple[int, str, Any]]:
    """Body blocks in order as ``(number, kind, content)``; a paragraph with
    line breaks gives one ``line`` block per line, all with its number.

    ``kind`` is ``line`` (content: text), ``bold`` (content: (text, name))
    or ``row`` (content: a RawTurn or None for a header row).
    """
    from docx.table import Table

    blocks: list[tuple[int, str, Any]] = []
    seen_text = False
    number = 0
    for block in doc.iter_inner_content():
        if isinstance(block, Table):
            speaker_table = _is_speaker_table(block)
            for row in block.rows:
                cells = [c.text for c in row.cells]
                number += 1
                if speaker_table:
                    blocks.append((number, "row", _row_turn(cells, number)))
                else:
                    blocks.append((number, "line", " ".join(cells)))
            seen_text = seen_text or bool(block.rows)
            continue
        number += 1
        if not seen_text and _is_title(block):
            blocks.append((number, "line", ""))  # a title at the top is dropped
            continue
        line, name = _paragraph_line(block)
        seen_text = seen_text or bool(line.strip())
        if name:
            blocks.append((number, "bold", (line.replace("\n", " "), name)))
            continue
        # Line breaks inside a paragraph (Teams: "Jane Doe   0:03" <br> text) are lines.
        blocks.extend((number, "line", part) for part in line.split("\n"))
    return blocks


def _turns(blocks: list[tuple[int, str, Any]]) -> list[RawTurn]:
    """Turns from the body blocks; labels are accepted over the whole document."""
    lines = [(n, c if kind == "line" else c[0]) for n, kind, c in blocks if kind != "row"]
    accepted = accepted_speakers(label_lines([text for _, text in lines]))
    accepted |= {c[1].casefold() for _, kind, c in blocks if kind == "bold"}
    accepted |= {c.speaker.casefold() for _, kind, c in blocks if kind == "row" and c and c.speaker}
    turns: list[RawTurn] = []
    pending: list[tuple[int, str]] = []
    for number, kind, content in blocks:
        if kind == "row":
            turns.extend(turns_from_lines(pending, accepted))
            pending = []
            if content is not None:
                turns.append(content)
        else:
            pending.append((number, content if kind == "line" else content[0]))
    turns.extend(turns_from_lines(pending, accepted))
    return turns


def read_docx(path: Path, *, document: str | None = None) -> Transcript:
    """Read a Word ``.docx`` transcript."""
    raw = read_bytes(path)
    doc = _open(raw, path.name)
    try:
        blocks = _blocks(doc)
    except (KeyError, ValueError, AttributeError) as exc:
        raise InputFileError(
            f"{path.name} is not a valid Word .docx file ({type(exc).__name__} while reading "
            "its body); expected a .docx saved by Word or LibreOffice; save it again as .docx."
        ) from None
    return build_transcript(
        _turns(blocks),
        document=document or path.stem,
        name=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        source_format="docx",
    )
