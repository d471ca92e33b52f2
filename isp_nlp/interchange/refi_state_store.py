"""A project's state in and out of our own ``.qdpx``: which of its tables the export
carries (:func:`project_state`), and which of a file's documents an import restores from
the state (:func:`read_project_state`, :func:`restorable_documents`). The format itself is
:mod:`isp_nlp.interchange.refi_state`."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from isp_nlp.interchange.refi_project import RefiProject
from isp_nlp.interchange.refi_state import (
    STATE_MEMBER,
    DocumentState,
    LogEntry,
    ProjectState,
    read_state,
    state_bytes,
)
from isp_nlp.interchange.refi_xml import QdpxContent
from isp_nlp.store.database import Store


def project_state(store: Store, content: QdpxContent, qde: bytes) -> bytes:
    """The isp-nlp state member of the archive: documents whose exported text is their
    stored text, with their segments, coded spans, active annotations and the log rows
    about them (or about no segment)."""
    docs: list[DocumentState] = []
    for document, text in content.texts.items():
        record = store.transcript_record(document)
        if record is None or record[0].text != text:
            continue
        docs.append(DocumentState(record[0], record[1],
                                  tuple(store.segments(document=document))))
    held = {d.transcript.document for d in docs}
    segment_ids = {s.id for d in docs for s in d.segments}
    rows = store.log_rows()
    kept = [r for r in rows if r[4] is None or r[4] in segment_ids]
    index = {r[0]: i for i, r in enumerate(kept)}
    log = tuple(LogEntry(coder=r[1], action=r[2], item_key=r[3], segment_id=r[4],
                         model_id=r[5], detail=r[6], undoes=index.get(r[7]), at=r[8])
                for r in kept)
    return state_bytes(
        qde=qde, positions=content.positions, codebook=content.codebook, documents=docs,
        codings=[c for c in store.codings() if c.document in held],
        annotations=[a for a in store.annotations() if a.segment_id in segment_ids],
        log=log, coders=store.coders(added_only=True))


def read_project_state(project: RefiProject, texts: Mapping[str, str], warnings: list[str]
                       ) -> ProjectState | None:
    """Our own export's state, when the file holds one that fits its project.qde
    (``texts``: the file's documents as they will be stored)."""
    if project.state is None:
        return None
    state = read_state(project.state, project.qde_sha256, texts, project.name)
    if state is None:
        warnings.append(f"{project.name}: project.qde was changed after isp-nlp wrote it, "
                        f"so its isp-nlp state ({STATE_MEMBER}) is ignored and the codings "
                        "are read from the REFI-QDA part alone.")
    return state


def restorable_documents(store: Store, name: str, state: ProjectState | None,
                         new: Collection[str], warnings: list[str]
                         ) -> dict[str, DocumentState]:
    """The state's documents this import restores: the ``new`` ones, and those the project
    holds with the same segments (one segmented otherwise here is read from the XML)."""
    if state is None:
        return {}
    out: dict[str, DocumentState] = {}
    for document, held in state.documents.items():
        if document not in new:
            here = [(s.start, s.end) for s in store.segments(document=document)]
            if here != [(s.start, s.end) for s in held.segments]:
                warnings.append(f"{name}: '{document}' is segmented differently "
                                "in this project, so its codings are placed on its segments "
                                "as for any tool's file.")
                continue
        out[document] = held
    return out
