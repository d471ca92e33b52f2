"""The wave's shared files, each stating first whether to trust the model.

``suggestions.csv`` opens with note lines (``# ...``, one cell each) before the
``export-sheet`` table; ``wave.qdpx`` carries the statement as a project note (REFI-QDA
``<Note>``) of the model's user, first of its notes (written into the archive, not
kept in the wave project, so a later run carries only its own model's). The statement
is :func:`isp_nlp.suggest.trust.trust_paragraphs`.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from pathlib import Path

from isp_nlp.coded.safe_csv import safe_csv_rows
from isp_nlp.interchange.refi_export import model_user, write_qdpx
from isp_nlp.interchange.refi_ids import stable_guid
from isp_nlp.interchange.sheet_export import export_sheet
from isp_nlp.records import Note, Suggestion
from isp_nlp.store.database import Store
from isp_nlp.store.files import atomic_path
from isp_nlp.store.registry import now
from isp_nlp.suggest.trust import ModelTrust, trust_paragraphs

#: Marks the note lines that open the wave's CSV (skip them to read it as a table).
CSV_NOTE = "# "
NOTE_TITLE = "Model trust: read before using these suggestions"


def trust_note(trust: ModelTrust) -> Note:
    """The statement as a project note by the model's user (a stable GUID per model and
    statement, so a re-run adds no second copy)."""
    text = "\n\n".join(trust_paragraphs(trust))
    return Note(title=NOTE_TITLE, text=text,
                guid=stable_guid("model-trust", trust.model_id or "", text),
                coder=model_user(trust.model_id or "").name if trust.model_id else "",
                created_at=now())


def write_wave_qdpx(wave: Store, out: Path, documents: Sequence[str],
                    suggestions: Sequence[Suggestion], trust: ModelTrust) -> Path:
    """``wave.qdpx`` of ``documents`` with the suggestions and, first of its notes, the
    trust note (written into the archive only: a later run writes its own model's)."""
    written = write_qdpx(wave, out, include_suggestions=True, documents=documents,
                         suggestions=suggestions, notes=[trust_note(trust)])
    return Path(written.path)


def csv_notes(trust: ModelTrust) -> str:
    """The note lines that open the wave's CSV: one quoted cell per paragraph."""
    return safe_csv_rows([CSV_NOTE + paragraph] for paragraph in trust_paragraphs(trust))


def write_wave_csv(wave: Store, out: Path, suggestions: Sequence[Suggestion],
                   trust: ModelTrust) -> Path:
    """``suggestions.csv``: the trust notes, then the ``export-sheet`` table (UTF-8 with a
    BOM); written to a temporary file and moved into place."""
    with atomic_path(out) as tmp:
        export_sheet(wave, tmp, fmt="csv", include_suggestions=True, suggestions=suggestions)
        table = tmp.read_bytes().removeprefix(codecs.BOM_UTF8)
        tmp.write_bytes(codecs.BOM_UTF8 + csv_notes(trust).encode("utf-8") + table)
    return out
