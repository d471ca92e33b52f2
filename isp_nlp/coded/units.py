"""Coded units read from a coded-segments CSV for evaluation studies.

A unit is (document, segment): the segment id, else the start/end offsets, else the
text. Each unit carries its text, its context (the ``previous_text`` column, else the
previous unit of the document) and every coder's labels; embeddings are attached later.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from isp_nlp.codebook.check import normalise_value, stage_dimension
from isp_nlp.codebook.load import MAX_TABLE_BYTES, read_text_file
from isp_nlp.coded.batch import HISTORY_TURNS, ContextHistory, SegmentBatch
from isp_nlp.coded.read import choose_delimiter, csv_header, iter_coded_csv, rows_with_lines
from isp_nlp.embed import embed_texts
from isp_nlp.errors import InputFileError, IspNlpError
from isp_nlp.records import AGREEMENT_SOURCES, CODE_DIMENSION, STAGE_DIMENSION, Dimension

NO_CODE = "(no code)"


class EvaluationError(IspNlpError):
    """An evaluation cannot run on the given data or settings."""


@dataclass
class CodedUnits:
    """Coded units of one CSV: text, previous-unit context and each coder's labels.

    ``codings[i]`` maps coder -> labels (one label in single-label mode, a possibly
    empty tuple of codes in multi-label mode).
    """

    name: str
    keys: list[str]
    documents: list[str]
    texts: list[str]
    contexts: list[str]
    codings: list[dict[str, tuple[str, ...]]]
    multi_label: bool
    embeddings: np.ndarray | None = None
    context_embeddings: np.ndarray | None = None
    history: ContextHistory | None = None
    #: Each unit's speaker (the optional ``speaker`` column; "" = unknown).
    speakers: list[str] | None = None
    #: One sentence on how the file was read (scoring mode, no-code rows, missing coders).
    reading: str = ""
    #: A shared subset (:meth:`subset` with ``share``): the embedded units it selects rows
    #: of, so its vectors are not copied (folds of a large file).
    parent: CodedUnits | None = None
    rows: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def coders(self) -> list[str]:
        return sorted({c for unit in self.codings for c in unit})

    @property
    def labels(self) -> list[str]:
        return sorted({lab for unit in self.codings for labs in unit.values() for lab in labs})

    def reference(self) -> list[Any]:
        """Majority label per unit (ties: first coder alphabetically); for multi-label,
        the codes applied by at least half of the unit's coders."""
        return [majority(unit, self.multi_label) for unit in self.codings]

    def batch(self, index: Sequence[int] | np.ndarray | None = None) -> SegmentBatch:
        if self.parent is not None and self.rows is not None:
            chosen = self.rows if index is None else self.rows[np.asarray(index, dtype=int)]
            return self.parent.batch(chosen)
        if self.embeddings is None or self.context_embeddings is None:
            raise EvaluationError(f"{self.name}: units are not embedded yet; call embed_units.")
        idx = list(range(len(self))) if index is None else [int(i) for i in index]
        return SegmentBatch(
            segment_ids=tuple(self.keys[i] for i in idx),
            texts=tuple(self.texts[i] for i in idx),
            embeddings=self.embeddings[idx],
            context_texts=tuple(self.contexts[i] for i in idx),
            context_embeddings=self.context_embeddings[idx],
            history=None if self.history is None else self.history.subset(np.asarray(idx)),
        )

    def subset(self, index: Sequence[int] | np.ndarray, *, share: bool = False) -> CodedUnits:
        """The units ``index``; with ``share`` their vectors stay in this object's arrays
        (read through :meth:`batch`) instead of being copied."""
        idx = [int(i) for i in index]
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        if share and self.embeddings is not None:
            root = self.parent if self.parent is not None else self
            rows = np.asarray(idx, dtype=int) if self.rows is None else self.rows[idx]
            return CodedUnits(self.name, pick(self.keys), pick(self.documents),
                              pick(self.texts), pick(self.contexts), pick(self.codings),
                              self.multi_label,
                              speakers=None if self.speakers is None else pick(self.speakers),
                              reading=self.reading, parent=root, rows=rows)
        return CodedUnits(
            self.name, pick(self.keys), pick(self.documents), pick(self.texts),
            pick(self.contexts), pick(self.codings), self.multi_label,
            None if self.embeddings is None else self.embeddings[idx],
            None if self.context_embeddings is None else self.context_embeddings[idx],
            None if self.history is None else self.history.subset(np.asarray(idx, dtype=int)),
            None if self.speakers is None else pick(self.speakers),
            self.reading,
        )


def majority(unit: dict[str, tuple[str, ...]], multi_label: bool) -> Any:
    coders = sorted(unit)
    if multi_label:
        counts = Counter(c for coder in coders for c in set(unit[coder]))
        return tuple(sorted(c for c, n in counts.items() if 2 * n >= len(coders)))
    votes = [unit[c][0] for c in coders if unit[c]]
    counts = Counter(votes)
    top = max(counts.values())
    return next(v for v in votes if counts[v] == top)


# --------------------------------------------------------------------------- reading


def _extra_column(path: Path, column: str) -> dict[int, str]:
    """Values of an optional column by 1-based file line (read_coded_csv ignores it)."""

    text = read_text_file(path, "coded-segments CSV", MAX_TABLE_BYTES)
    delimiter = choose_delimiter(text)
    first = next((r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                  if any(f.strip() for f in r)), [])
    if column not in [h.strip().casefold() for h in first]:
        return {}  # the usual case: no need to hold every record
    records = [(n, r) for n, r in rows_with_lines(text, delimiter, path.name)
               if any(f.strip() for f in r)]
    header = [h.strip().casefold() for h in records[0][1]]
    i = header.index(column)
    return {n: (r[i].strip() if i < len(r) else "") for n, r in records[1:]}


def load_units(path: str | Path, *, label_column: str = "code",
               multi_label: bool | None = None,
               dimension: Dimension | None = None) -> CodedUnits:
    """Read a coded-segments CSV into units with each coder's labels.

    Only independent codes are read: a row whose ``provenance`` is given and is not one of
    :data:`~isp_nlp.records.AGREEMENT_SOURCES` (human, blind) is left out (an assisted
    code depends on the model; a consensus is derived from the coders), and ``reading``
    says how many.

    ``multi_label`` None decides from the file: multi-label when some coder gave one
    segment more than one code. A row with an empty code is that coder's "no code" (in
    single-label mode the label :data:`NO_CODE`; in multi-label mode the empty set); a
    coder with no row for a segment did not code it (missing, not "no code").

    Any other ``label_column`` is a single-choice dimension's column (one value per
    segment and coder; an empty cell is "not given"). Its spellings are normalised by
    ``dimension`` when given (by the default stage dimension for ``stage``).
    """

    path = Path(path)
    label_column = label_column.strip().casefold()
    single = label_column != CODE_DIMENSION
    if multi_label and single:
        raise EvaluationError(
            f"the {label_column} column holds one value per segment, so --multi-label needs "
            "--label-column code; drop --multi-label or use the code column.")
    if not path.is_file():
        raise InputFileError(f"{path} does not exist; expected a coded-segments CSV file.")
    if single:
        header = csv_header(path)
        if label_column not in header:
            found = ", ".join(h for h in header if h) or "none"
            raise EvaluationError(
                f"{path.name} has no column '{label_column}' (found: {found}); name the "
                "column that holds the labels with --label-column.")
        if dimension is None and label_column == STAGE_DIMENSION:
            dimension = stage_dimension()
    previous = _extra_column(path, "previous_text")
    order: dict[str, int] = {}
    doc_of, text_of, ctx_of, start_of, speaker_of = {}, {}, {}, {}, {}
    codings: dict[str, dict[str, list[str]]] = {}
    problem: str | None = None  # held until the stream ends: the reader's problems come first
    left_out: Counter[str] = Counter()
    for row in iter_coded_csv(path):
        if problem is not None:
            continue
        if row.provenance and row.provenance not in AGREEMENT_SOURCES:
            left_out[row.provenance] += 1  # assisted, consensus, model: not independent
            continue
        if not row.document:
            problem = (f"{path.name} line {row.line}: document is empty; "
                       "give every row the transcript's document name.")
            continue
        if not row.coder:
            problem = f"{path.name} line {row.line}: coder is empty; fill in who coded the row."
            continue
        if row.segment:
            uid = row.segment
        elif row.start is not None:
            uid = f"{row.start}-{row.end}"
        elif row.text.strip():
            uid = "text:" + " ".join(row.text.split())
        else:
            problem = (f"{path.name} line {row.line}: segment, start/end and text are all "
                       "empty; fill in at least one to identify the unit.")
            continue
        key = f"{row.document}\x1f{uid}"
        if key not in order:
            order[key] = len(order)
            doc_of[key], text_of[key], start_of[key] = row.document, row.text, row.start
            ctx_of[key] = previous.get(row.line)
            speaker_of[key] = row.speaker
        elif not text_of[key] and row.text:
            text_of[key] = row.text
        if not single:
            value = row.code
        else:
            cell = row.value(label_column)
            value = (normalise_value(dimension, cell) if dimension else cell) or ""
            if not value:
                continue  # no value given by this row
        labels = codings.setdefault(key, {}).setdefault(row.coder, [])
        if value and value not in labels:
            labels.append(value)
    if problem is not None:
        raise EvaluationError(problem)
    keys = [k for k in sorted(order, key=order.__getitem__) if k in codings]
    several = sum(1 for k in keys for v in codings[k].values() if len(v) > 1)
    if multi_label is None:
        multi_label = label_column == "code" and several > 0
    units: list[dict[str, tuple[str, ...]]]
    if not multi_label:  # single label: first label given; an empty code is "no code"
        units = [{c: (v[0] if v else NO_CODE,) for c, v in codings[k].items()} for k in keys]
    else:
        units = [{c: tuple(sorted(v)) for c, v in codings[k].items()} for k in keys]
    if not any(lab != NO_CODE for u in units for labs in u.values() for lab in labs):
        raise EvaluationError(f"{path.name} has no row with a {label_column} label; fill in the "
                              f"{label_column} column.")
    contexts = _contexts(keys, doc_of, text_of, ctx_of, start_of)
    out = CodedUnits(path.name, keys, [doc_of[k] for k in keys], [text_of[k] for k in keys],
                     contexts, units, multi_label, speakers=[speaker_of[k] for k in keys])
    out.reading = _reading(out, label_column, several) + _sources(left_out)
    return out


def _sources(left_out: Counter[str]) -> str:
    """Which rows were compared: independent codes only (" " + one sentence), and the rows
    of other provenances left out; "" when every row is independent."""
    if not left_out:
        return ""
    rows = ", ".join(f"{n} {source}" for source, n in sorted(left_out.items()))
    return (" Model vs coders: blind and independent codes only (provenance human or "
            f"blind); rows left out: {rows}.")


def _reading(units: CodedUnits, label_column: str, several: int) -> str:
    """How the file was read, in one sentence."""
    n_coders = len(units.coders)
    partial = sum(1 for u in units.codings if len(u) < n_coders)
    mode = (f"multi-label ({several} segment-coder pairs have more than one code)"
            if units.multi_label and several else "multi-label" if units.multi_label
            else "single-label (one code per segment and coder)" if label_column == "code"
            else f"single-label (the {label_column} column)")
    no_code = ("; a row with an empty code counts as the label '(no code)'"
               if not units.multi_label and label_column == "code"
               else "; a row with an empty code is 'no code'" if units.multi_label else "")
    return (f"{units.name}: {len(units)} segments, {n_coders} coder(s), read as {mode}"
            f"{no_code}; a coder without a row for a segment did not code it"
            f"{f' ({partial} segments miss some coder)' if partial else ''}.")


def _contexts(keys, doc_of, text_of, ctx_of, start_of) -> list[str]:
    """previous_text when given, else the previous unit of the document (by start or order)."""
    by_doc: dict[str, list[str]] = {}
    for k in keys:
        by_doc.setdefault(doc_of[k], []).append(k)
    prev: dict[str, str] = {}
    for doc_keys in by_doc.values():
        if all(start_of[k] is not None for k in doc_keys):
            doc_keys = sorted(doc_keys, key=lambda k: start_of[k])
        for before, k in zip([None, *doc_keys[:-1]], doc_keys, strict=True):
            prev[k] = "" if before is None else text_of[before]
    return [ctx_of[k] if ctx_of[k] is not None else prev[k] for k in keys]


def embed_units(units: CodedUnits, embedder, cache=None) -> CodedUnits:
    """Attach text and context embeddings (context "" -> zero vector) and the history."""

    vectors = embed_texts(list(units.texts) + list(units.contexts), embedder, cache)
    n = len(units)
    units.embeddings = vectors[:n]
    # views into one table (the history's rows too); no context -> zero vector, a row the
    # history never points at
    vectors[n:][np.array([not t.strip() for t in units.contexts], dtype=bool)] = 0.0
    units.context_embeddings = vectors[n:]
    units.history = ContextHistory(*_history(units), vectors)
    return units


def _history(units: CodedUnits) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's previous turns as rows of [unit embeddings; context embeddings]: in
    CSV order within its document, the unit's context, the unit before, that unit's
    context, ... (a context equal to the turn after it is not repeated). For alternating
    turns with a previous_text column this is the conversation. A previous unit with the
    unit's (known) speaker is "same speaker"; a context's speaker is unknown."""
    n = len(units)
    speakers = units.speakers or [""] * n
    index = np.full((n, HISTORY_TURNS), -1, dtype=np.int64)
    same = np.zeros_like(index, dtype=bool)
    turns: dict[str, list[tuple[int, str]]] = {}
    for i, (doc, text, ctx) in enumerate(zip(units.documents, units.texts, units.contexts,
                                             strict=True)):
        seq = turns.setdefault(doc, [])
        if ctx.strip() and (not seq or seq[-1][1] != ctx):
            seq.append((n + i, ctx))
        back = [row for row, _ in seq[-HISTORY_TURNS:]][::-1]
        index[i, :len(back)] = back
        same[i, :len(back)] = [r < n and bool(speakers[i]) and speakers[r] == speakers[i]
                               for r in back]
        seq.append((i, text))
    return index, same
