"""Coded segments in context: every segment coded X, every segment saying TEXT, or a
whole document, each with its previous turn, every coder's labels (with their source)
and the notes on its span; memos on a whole document come with its first segment shown.
Read-only; :mod:`isp_nlp.cli.analysis` prints it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from isp_nlp.errors import IspNlpError, closest
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
    #: Memos on the whole document, given with the first segment shown of it.
    document_notes: tuple[Note, ...] = ()


def label_filter(codebook: Codebook, code: str) -> tuple[str, str]:
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
        close = closest(code, codebook.code_ids)
        hint = f"did you mean '{close}'?" if close is not None else "see `isp-nlp codebook show`."
        raise IspNlpError(f"--code {code!r} is not a code of codebook {codebook.name!r}; "
                          f"{hint}")
    return CODE_DIMENSION, by_name[code.strip().lower()]


def find_document(store: Store, name: str, what: str = "--document") -> str:
    """The project's document ``name`` names (its document name, the file name it was
    ingested from, either without a suffix such as ``.docx``); else one sentence naming
    the closest document."""
    names = store.document_names()
    found = match_document(names, name)
    if found is not None:
        return found
    hint = document_hint(name, names.values())
    raise IspNlpError(f"{what} '{name}' is not in the project; {hint}"
                      f"{' S' if hint.endswith('?') else '; s'}ee `isp-nlp status` for the "
                      "documents.")


#: File suffixes a document may be named with (a QDA tool's source name, a file name).
_SUFFIXES = (".txt", ".docx", ".doc", ".rtf", ".md", ".odt", ".pdf", ".vtt", ".srt", ".sbv")


def match_document(names: Mapping[str, str], name: str) -> str | None:
    """The document ``name`` names in ``names`` (:meth:`Store.document_names`): exactly,
    else without surrounding spaces or a file suffix such as ``.docx``; or None."""
    for candidate in (name, name.strip()):
        if candidate in names:
            return names[candidate]
        stem, dot, suffix = candidate.rpartition(".")
        if dot and f".{suffix.lower()}" in _SUFFIXES and stem in names:
            return names[stem]
    return None


def document_hint(name: str, documents: Iterable[str]) -> str:
    """"did you mean 'X'?" for the document closest to ``name``, else a few documents."""
    known = sorted(set(documents))
    close = closest(name, known)
    if close is not None:
        return f"did you mean '{close}'?"
    return (f"expected one of {', '.join(known[:5]) or '(none ingested)'}"
            + (f" and {len(known) - 5} more" if len(known) > 5 else ""))


def show_segments(store: Store, *, code: str | None = None, search: str | None = None,
                  document: str | None = None, limit: int | None = None) -> list[Shown]:
    """The segments coded ``code`` (a code id or name, or ``DIM=VALUE``) by any coder,
    saying ``search`` (case-insensitive), and of ``document``, in document order; every
    given filter must hold. At least one filter is required."""
    if not (code or search or document):
        raise IspNlpError("show needs --code CODE, --search TEXT or --document DOC; give "
                          "at least one.")
    codebook = require_codebook(store)
    wanted = label_filter(codebook, code) if code else None
    if document is not None:
        document = find_document(store, document)
    labels: dict[str, list[Annotation]] = defaultdict(list)
    for a in store.annotations():
        labels[a.segment_id].append(a)
    notes: dict[str, list[Note]] = defaultdict(list)
    whole: dict[str, list[Note]] = defaultdict(list)
    for n in store.notes():
        if n.document is not None and n.code is None:
            (whole if n.start is None or n.end is None else notes)[n.document].append(n)
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
                        if n.start is not None and n.end is not None
                        and n.start < seg.end and seg.start < n.end)
        ordered = sorted(mine, key=lambda a: (a.dimension != CODE_DIMENSION, a.coder,
                                              a.dimension, a.label or ""))
        first = not out or out[-1].segment.document != seg.document
        out.append(Shown(seg, previous, tuple(ordered), on_span,
                         tuple(whole.get(seg.document, ())) if first else ()))
        if limit is not None and len(out) >= limit:
            break
    return out
