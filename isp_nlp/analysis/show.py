"""Coded segments in context: every segment coded X, every segment saying TEXT, or a
whole document, each with its previous turn, every coder's labels (with their source)
and the notes on its span. Read-only; :mod:`isp_nlp.cli.analysis` prints it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from isp_nlp.errors import IspNlpError
from isp_nlp.records import CODE_DIMENSION, Annotation, Codebook, Note, Segment
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook


@dataclass(frozen=True)
class Shown:
    """One segment as ``show`` prints it."""

    segment: Segment
    previous: Segment | None
    labels: tuple[Annotation, ...]  # every coder's active labels, codes then dimensions
    notes: tuple[Note, ...]  # notes whose span overlaps the segment


def _label_filter(codebook: Codebook, code: str) -> tuple[str, str]:
    """(dimension, label) that ``code`` names: a code id or name, or ``DIM=VALUE``."""
    if "=" in code:
        dim_id, _, value = (p.strip() for p in code.partition("="))
        dim = codebook.dimension(dim_id)
        if dim is None:
            raise IspNlpError(f"--code {code!r}: the codebook has no dimension {dim_id!r}; "
                              f"expected one of {', '.join(codebook.dimension_ids) or '(none)'}.")
        by_name = {v.id.lower(): v.id for v in dim.values} | {
            v.name.lower(): v.id for v in dim.values}
        if value.lower() not in by_name:
            raise IspNlpError(f"--code {code!r}: {value!r} is not a value of {dim_id}; "
                              f"expected one of {', '.join(dim.value_ids)}.")
        return dim.id, by_name[value.lower()]
    by_name = {c.id.lower(): c.id for c in codebook.codes} | {
        c.name.lower(): c.id for c in codebook.codes}
    if code.strip().lower() not in by_name:
        import difflib

        close = difflib.get_close_matches(code, list(codebook.code_ids), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "see `isp-nlp codebook show`."
        raise IspNlpError(f"--code {code!r} is not a code of codebook {codebook.name!r}; "
                          f"{hint}")
    return CODE_DIMENSION, by_name[code.strip().lower()]


def show_segments(store: Store, *, code: str | None = None, search: str | None = None,
                  document: str | None = None, limit: int | None = None) -> list[Shown]:
    """The segments coded ``code`` (a code id or name, or ``DIM=VALUE``) by any coder,
    saying ``search`` (case-insensitive), and of ``document``, in document order; every
    given filter must hold. At least one filter is required."""
    if not (code or search or document):
        raise IspNlpError("show needs --code CODE, --search TEXT or --document DOC; give "
                          "at least one.")
    codebook = require_codebook(store)
    wanted = _label_filter(codebook, code) if code else None
    if document is not None and document not in {t["document"] for t in store.transcripts()}:
        raise IspNlpError(f"document {document!r} is not in the project; see `isp-nlp "
                          "status` for the documents.")
    labels: dict[str, list[Annotation]] = defaultdict(list)
    for a in store.annotations():
        labels[a.segment_id].append(a)
    notes: dict[str, list[Note]] = defaultdict(list)
    for n in store.notes():
        if n.document is not None:
            notes[n.document].append(n)
    needle = search.casefold() if search else None
    out: list[Shown] = []
    last: Segment | None = None
    for seg in store.segments(document=document):
        previous = last if last is not None and last.document == seg.document else None
        last = seg
        mine = labels.get(seg.id, [])
        if wanted and not any((a.dimension, a.label) == wanted for a in mine):
            continue
        if needle and needle not in seg.text.casefold():
            continue
        if not (mine or needle or document):
            continue
        on_span = tuple(n for n in notes.get(seg.document, ())
                        if n.start is None or n.end is None
                        or (n.start < seg.end and seg.start < n.end))
        ordered = sorted(mine, key=lambda a: (a.dimension != CODE_DIMENSION, a.coder,
                                              a.dimension, a.label or ""))
        out.append(Shown(seg, previous, tuple(ordered), on_span))
        if limit is not None and len(out) >= limit:
            break
    return out
