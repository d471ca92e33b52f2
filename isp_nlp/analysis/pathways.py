"""Participants' pathways through the push → push/pull → exchange stages.

Each participant (document) has a sequence of stage labels, one per codable
segment in interview order. Consecutive equal labels collapse into runs;
``none`` and unknown labels are dropped first (they say nothing about the
stage, so a stray "?" does not split a run). A stage *counts* for the
participant from its first run of at least ``min_run`` segments, and the
pathway is the counted stages in order of first appearance, e.g.
``push → push_pull → exchange`` or the leap-frog ``push → exchange``.

The functions up to :func:`summarize_pathways` are pure; :func:`segment_labels`
and :func:`project_pathways` read a project.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from isp_nlp.agreement.tables import MODEL_CODER
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION
from isp_nlp.store.database import Store

PATHWAY_STAGES = ("push", "push_pull", "exchange")
UNKNOWN = "?"
ARROW = " → "
FORWARD, LEAP_FROG, BACKWARD = "forward", "leap-frog", "backward"
#: Whose label a segment gets, best first. A consensus label resolves a human
#: disagreement, so it outranks the individual coders.
SOURCE_PRIORITY = ("consensus", "human", "assisted", "model")
DEFAULT_MIN_RUN = 2
DEFAULT_TOP_CODES = 3


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class LabelledSegment:
    """One codable segment with its resolved stage and codes (and where they came from)."""

    segment_id: str
    document: str
    index: int
    stage: str = UNKNOWN
    stage_source: str = "unknown"
    codes: frozenset[str] | None = None  # None: nobody coded it
    codes_source: str = "unknown"


@dataclass(frozen=True)
class StageRun:
    """Consecutive segments with one stage; ``positions`` index the document's sequence."""

    stage: str
    positions: tuple[int, ...]

    @property
    def length(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class Pathway:
    """One participant's stages in order of first (long enough) appearance."""

    document: str
    stages: tuple[str, ...]
    runs: tuple[StageRun, ...]
    n_segments: int
    n_staged: int  # segments labelled push, push_pull or exchange

    @property
    def text(self) -> str:
        return ARROW.join(self.stages) if self.stages else "no stage"

    @property
    def transitions(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(self.stages, self.stages[1:], strict=False))


@dataclass(frozen=True)
class CodeLift:
    """A code's share of the segments around a transition relative to its overall share."""

    code: str
    n_window: int
    n_overall: int
    lift: float


@dataclass(frozen=True)
class Transition:
    """A move between two stages, with the participants who made it."""

    from_stage: str
    to_stage: str
    kind: str  # forward | leap-frog | backward
    documents: tuple[str, ...]
    n_window_segments: int = 0
    top_codes: tuple[CodeLift, ...] = ()

    @property
    def count(self) -> int:
        return len(self.documents)


@dataclass(frozen=True)
class PathwaySummary:
    """Pathways of all participants, their counts and the transitions between stages."""

    pathways: tuple[Pathway, ...]
    transitions: tuple[Transition, ...]
    min_run: int
    notes: tuple[str, ...] = field(default=())

    @property
    def counts(self) -> list[tuple[str, int]]:
        """Each distinct pathway with its number of participants, most common first."""
        tally = Counter(p.text for p in self.pathways)
        return sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_run": self.min_run,
            "participants": [
                {"document": p.document, "pathway": list(p.stages), "text": p.text,
                 "segments": p.n_segments, "staged_segments": p.n_staged,
                 "runs": [[r.stage, r.length] for r in p.runs]}
                for p in self.pathways
            ],
            "pathway_counts": [{"pathway": t, "participants": n} for t, n in self.counts],
            "transitions": [
                {"from": t.from_stage, "to": t.to_stage, "kind": t.kind,
                 "participants": t.count, "documents": list(t.documents),
                 "window_segments": t.n_window_segments,
                 "top_codes": [{"code": c.code, "segments": c.n_window,
                                "overall": c.n_overall, "lift": round(c.lift, 3)}
                               for c in t.top_codes]}
                for t in self.transitions
            ],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- pure functions


def stage_runs(labels: Sequence[str]) -> tuple[StageRun, ...]:
    """Runs of push/push_pull/exchange; ``none`` and unknown labels are skipped, not breaks."""
    runs: list[StageRun] = []
    for position, label in enumerate(labels):
        if label not in PATHWAY_STAGES:
            continue
        if runs and runs[-1].stage == label:
            runs[-1] = StageRun(label, (*runs[-1].positions, position))
        else:
            runs.append(StageRun(label, (position,)))
    return tuple(runs)


def pathway_of(document: str, labels: Sequence[str], *, min_run: int = DEFAULT_MIN_RUN) -> Pathway:
    """A participant's pathway: stages in order of their first run of ``min_run``+ segments."""
    if min_run < 1:
        raise ValueError("min_run must be at least 1")
    runs = stage_runs(labels)
    stages: list[str] = []
    for run in runs:
        if run.length >= min_run and run.stage not in stages:
            stages.append(run.stage)
    return Pathway(document=document, stages=tuple(stages), runs=runs,
                   n_segments=len(labels), n_staged=sum(r.length for r in runs))


def transition_kind(from_stage: str, to_stage: str) -> str:
    """forward (one step), leap-frog (push → exchange) or backward."""
    step = PATHWAY_STAGES.index(to_stage) - PATHWAY_STAGES.index(from_stage)
    if step == 1:
        return FORWARD
    return LEAP_FROG if step > 1 else BACKWARD


def transition_window(pathway: Pathway, from_stage: str, to_stage: str,
                      min_run: int) -> tuple[int, ...]:
    """Positions around a transition: the last run of ``from_stage`` before the first
    counted run of ``to_stage``, plus that run."""
    to_index = next((i for i, r in enumerate(pathway.runs)
                     if r.stage == to_stage and r.length >= min_run), None)
    if to_index is None:
        return ()
    before = [r for r in pathway.runs[:to_index] if r.stage == from_stage]
    window = list(pathway.runs[to_index].positions)
    if before:
        window = list(before[-1].positions) + window
    return tuple(window)


def code_lifts(window: Sequence[frozenset[str] | None], overall: Sequence[frozenset[str] | None],
               *, top: int = DEFAULT_TOP_CODES, min_count: int = 2) -> tuple[CodeLift, ...]:
    """Codes over-represented in ``window`` compared with ``overall`` (segments with known
    codes only), ranked by lift, then count, then id. Codes seen fewer than ``min_count``
    times in the window, or not over-represented there (lift <= 1), are left out."""
    known_window = [c for c in window if c is not None]
    known_all = [c for c in overall if c is not None]
    if not known_window or not known_all:
        return ()
    in_window = Counter(code for codes in known_window for code in codes)
    in_all = Counter(code for codes in known_all for code in codes)
    lifts = []
    for code, n in in_window.items():
        if n < min_count or not in_all[code]:
            continue
        lift = (n / len(known_window)) / (in_all[code] / len(known_all))
        if lift <= 1.0:
            continue
        lifts.append(CodeLift(code, n, in_all[code], lift))
    lifts.sort(key=lambda c: (-c.lift, -c.n_window, c.code))
    return tuple(lifts[:top])


def summarize_pathways(
    stages: Mapping[str, Sequence[str]],
    codes: Mapping[str, Sequence[frozenset[str] | None]] | None = None,
    *,
    min_run: int = DEFAULT_MIN_RUN,
    top: int = DEFAULT_TOP_CODES,
) -> PathwaySummary:
    """Pathways per document, transitions across documents and the codes around each.

    ``codes[doc]`` runs parallel to ``stages[doc]`` (None where a segment has no codes).
    """
    codes = codes or {}
    for doc, seq in codes.items():
        if doc in stages and len(seq) != len(stages[doc]):
            raise ValueError(f"codes for {doc} do not run parallel to its stages")
    pathways = tuple(pathway_of(doc, seq, min_run=min_run) for doc, seq in stages.items())
    overall = [c for doc in stages for c in codes.get(doc, ())]
    by_move: dict[tuple[str, str], list[Pathway]] = {}
    for pathway in pathways:
        for move in pathway.transitions:
            by_move.setdefault(move, []).append(pathway)
    order = {s: i for i, s in enumerate(PATHWAY_STAGES)}
    transitions = []
    for (a, b), members in sorted(by_move.items(), key=lambda kv: (order[kv[0][0]],
                                                                    order[kv[0][1]])):
        window: list[frozenset[str] | None] = []
        for pathway in members:
            doc_codes = codes.get(pathway.document)
            positions = transition_window(pathway, a, b, min_run)
            if doc_codes:
                window.extend(doc_codes[i] for i in positions)
        transitions.append(Transition(
            from_stage=a, to_stage=b, kind=transition_kind(a, b),
            documents=tuple(p.document for p in members),
            n_window_segments=sum(c is not None for c in window),
            top_codes=code_lifts(window, overall, top=top),
        ))
    notes = _notes(pathways, min_run)
    return PathwaySummary(pathways=pathways, transitions=tuple(transitions), min_run=min_run,
                          notes=notes)


def _notes(pathways: Sequence[Pathway], min_run: int) -> tuple[str, ...]:
    notes = []
    if not pathways:
        notes.append("The project has no participants with codable segments, so there are "
                     "no pathways.")
    elif not any(p.n_staged for p in pathways):
        notes.append("No codable segment has a push, push/pull or exchange label yet (from a "
                     "coder or the model), so no pathway can be traced.")
    elif not any(p.transitions for p in pathways):
        notes.append(f"No participant moved between two stages that each lasted at least "
                     f"{min_run} segment(s), so there are no transitions.")
    return tuple(notes)


# --------------------------------------------------------------------------- project


def _majority(by_coder: Mapping[str, str]) -> str:
    """Most common label; ties go to the label of the alphabetically first coder."""
    votes = Counter(by_coder[c] for c in sorted(by_coder))
    return votes.most_common(1)[0][0]


def _code_majority(by_coder: Mapping[str, set[str]]) -> frozenset[str]:
    """Codes applied by at least half of the coders who coded the segment."""
    counts = Counter(code for codes in by_coder.values() for code in codes)
    return frozenset(c for c, n in counts.items() if 2 * n >= len(by_coder))


def _resolve(votes: Mapping[str, Mapping[str, Any]], combine: Callable[[Any], Any],
             default: Any) -> tuple[Any, str]:
    """(combined votes of the first source in ``SOURCE_PRIORITY`` that has any, source);
    ``(default, "unknown")`` when no source voted."""
    for source in SOURCE_PRIORITY:
        if votes.get(source):
            return combine(votes[source]), source
    return default, "unknown"


def segment_labels(store: Store, *, use_model: bool = True) -> dict[str, list[LabelledSegment]]:
    """Every codable segment per document, in order, with its resolved stage and codes.

    Stage and codes come from the best source present (``SOURCE_PRIORITY``): the
    consensus, else the human coders (majority), else model-assisted coders, else the
    model's suggestion when it did not abstain (if ``use_model``), else unknown.
    """
    stage_votes: dict[str, dict[str, dict[str, str]]] = {}
    code_votes: dict[str, dict[str, dict[str, set[str]]]] = {}
    for a in store.annotations():
        source = a.source if a.source in SOURCE_PRIORITY else "human"
        if a.dimension == STAGE_DIMENSION and a.label:
            stage_votes.setdefault(a.segment_id, {}).setdefault(source, {})[a.coder] = a.label
        elif a.dimension == CODE_DIMENSION:
            labels = code_votes.setdefault(a.segment_id, {}).setdefault(source, {})
            labels.setdefault(a.coder, set())
            if a.label:
                labels[a.coder].add(a.label)
    info = store.latest_model() if use_model else None
    if info is not None:
        coded: dict[str, set[str]] = {}
        for s in store.suggestions(info["id"]):
            if s.dimension == STAGE_DIMENSION and s.suggested:
                votes = stage_votes.setdefault(s.segment_id, {}).setdefault("model", {})
                votes[MODEL_CODER] = s.label
            elif s.dimension == CODE_DIMENSION:
                codes = coded.setdefault(s.segment_id, set())
                if s.suggested:
                    codes.add(s.label)
        for segment_id, codes in coded.items():
            code_votes.setdefault(segment_id, {}).setdefault("model", {})[MODEL_CODER] = codes
    out: dict[str, list[LabelledSegment]] = {t["document"]: [] for t in store.transcripts()}
    for seg in store.segments(codable_only=True):
        stage, stage_source = _resolve(stage_votes.get(seg.id, {}), _majority, UNKNOWN)
        codes, codes_source = _resolve(code_votes.get(seg.id, {}), _code_majority, None)
        out.setdefault(seg.document, []).append(LabelledSegment(
            segment_id=seg.id, document=seg.document, index=seg.index, stage=stage,
            stage_source=stage_source, codes=codes, codes_source=codes_source))
    return out


def project_pathways(store: Store, *, min_run: int = DEFAULT_MIN_RUN,
                     top: int = DEFAULT_TOP_CODES,
                     labels: Mapping[str, Sequence[LabelledSegment]] | None = None
                     ) -> PathwaySummary:
    """Pathways of a project's participants (see :func:`segment_labels` for the labels)."""
    labels = segment_labels(store) if labels is None else labels
    stages = {doc: [s.stage for s in segs] for doc, segs in labels.items()}
    codes = {doc: [s.codes for s in segs] for doc, segs in labels.items()}
    return summarize_pathways(stages, codes, min_run=min_run, top=top)
