"""Participants' pathways through the values of the codebook's pathway dimension
(:attr:`isp_nlp.records.Codebook.pathway`; by default the stages push → push_pull →
exchange).

Each participant (document) has a sequence of labels of that dimension, one per
codable segment in interview order. Consecutive equal labels collapse into runs;
values outside the dimension's scale (the stage's ``none``) and unknown labels are
dropped first (they say nothing about the pathway, so a stray "?" does not split a
run). A value *counts* for the participant from its first run of at least ``min_run``
segments, and the pathway is the counted values in order of first appearance, e.g.
``push → push_pull → exchange`` or the leap-frog ``push → exchange``. Internally a
value of the pathway dimension is called a *stage* whatever the dimension is named.

The functions up to :func:`summarize_pathways` are pure; :func:`segment_labels`
and :func:`project_pathways` read a project.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from isp_nlp.agreement.tables import MODEL_CODER, default_dimensions, dimension_title
from isp_nlp.errors import ProjectError
from isp_nlp.records import CODE_DIMENSION, Dimension
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook

UNKNOWN = "?"
ARROW = " → "
FORWARD, LEAP_FROG, BACKWARD = "forward", "leap-frog", "backward"
#: Whose label a segment gets, best first. A consensus label resolves a human
#: disagreement, so it outranks the individual coders. Blind (audit) codes vote with the
#: human coders; a label only blind coders gave is reported as from "blind".
SOURCE_PRIORITY = ("consensus", "human", "assisted", "model")
BLIND = "blind"
DEFAULT_MIN_RUN = 2
DEFAULT_TOP_CODES = 3
#: The ``min_run`` values a pathway is read with to tell whether its reading is stable.
STABILITY_RUNS = (1, 2, 3)


# --------------------------------------------------------------------------- data


def default_pathway() -> Dimension:
    """The pathway dimension of a codebook without ``dimensions:`` (the stage)."""
    return next(d for d in default_dimensions() if d.pathway)


def _scale(dimension: Dimension | None) -> tuple[str, ...]:
    return (default_pathway() if dimension is None else dimension).scale


def with_article(word: str) -> str:
    """``a stage``, ``an emotion``."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


@dataclass(frozen=True)
class LabelledSegment:
    """One codable segment with its resolved value of the pathway dimension (``stage``)
    and codes (and where they came from)."""

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
    """One participant's values in order of first (long enough) appearance."""

    document: str
    stages: tuple[str, ...]
    runs: tuple[StageRun, ...]
    n_segments: int
    n_staged: int  # segments with a value on the scale (push, push_pull or exchange)
    #: The pathway dimension's name in words (:func:`dimension_title`).
    title: str = "stage"
    #: The pathway read with each ``min_run`` of :data:`STABILITY_RUNS`, when any differs
    #: from the others (empty: the reading is stable).
    readings: tuple[tuple[int, tuple[str, ...]], ...] = ()
    #: How many of the ``n_staged`` segments got their value from each source (consensus,
    #: human, assisted, model), most first.
    sources: tuple[tuple[str, int], ...] = ()

    @property
    def text(self) -> str:
        return ARROW.join(self.stages) if self.stages else f"no {self.title}"

    @property
    def stable(self) -> bool:
        """Whether ``min_run`` 1 to 3 all read the same pathway."""
        return not self.readings

    @property
    def sources_text(self) -> str:
        """``20 human, 7 model``; ``none`` when no segment has a value."""
        return ", ".join(f"{n} {source}" for source, n in self.sources) or "none"

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
    """Pathways of all participants, their counts and the transitions between values of
    the pathway ``dimension``."""

    pathways: tuple[Pathway, ...]
    transitions: tuple[Transition, ...]
    min_run: int
    notes: tuple[str, ...] = field(default=())
    dimension: Dimension = field(default_factory=default_pathway)
    #: The same summary over the participants whose pathway is stable (see
    #: :attr:`Pathway.stable`), for a diagram that shows only those; None when all are.
    stable_only: PathwaySummary | None = None

    @property
    def unstable(self) -> tuple[Pathway, ...]:
        """Participants whose pathway reads differently with ``min_run`` 1 to 3."""
        return tuple(p for p in self.pathways if not p.stable and p.n_staged)

    @property
    def title(self) -> str:
        """The dimension's name in words ("stage", "phase")."""
        return dimension_title(self.dimension)

    @property
    def counts(self) -> list[tuple[str, int]]:
        """Each distinct pathway with its number of participants, most common first."""
        tally = Counter(p.text for p in self.pathways)
        return sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension.id,
            "scale": list(self.dimension.scale),
            "min_run": self.min_run,
            "participants": [
                {"document": p.document, "pathway": list(p.stages), "text": p.text,
                 "segments": p.n_segments, "staged_segments": p.n_staged,
                 "sources": dict(p.sources), "stable": p.stable,
                 "readings": {str(n): list(r) for n, r in p.readings},
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


def stage_runs(labels: Sequence[str], dimension: Dimension | None = None
               ) -> tuple[StageRun, ...]:
    """Runs of the values on ``dimension``'s scale (by default push/push_pull/exchange);
    other values (``none``) and unknown labels are skipped, not breaks."""
    scale = _scale(dimension)
    runs: list[StageRun] = []
    for position, label in enumerate(labels):
        if label not in scale:
            continue
        if runs and runs[-1].stage == label:
            runs[-1] = StageRun(label, (*runs[-1].positions, position))
        else:
            runs.append(StageRun(label, (position,)))
    return tuple(runs)


def _stages(runs: Sequence[StageRun], min_run: int) -> tuple[str, ...]:
    stages: list[str] = []
    for run in runs:
        if run.length >= min_run and run.stage not in stages:
            stages.append(run.stage)
    return tuple(stages)


def pathway_of(document: str, labels: Sequence[str], *, min_run: int = DEFAULT_MIN_RUN,
               dimension: Dimension | None = None,
               sources: Sequence[str] | None = None) -> Pathway:
    """A participant's pathway: values of ``dimension`` (by default the stage) in order of
    their first run of ``min_run``+ segments, with the readings at each of
    :data:`STABILITY_RUNS` when they differ, and (given ``sources``, parallel to
    ``labels``) where the values on the scale came from."""
    if min_run < 1:
        raise ValueError("min_run must be at least 1")
    dimension = default_pathway() if dimension is None else dimension
    runs = stage_runs(labels, dimension)
    readings = tuple((n, _stages(runs, n)) for n in STABILITY_RUNS)
    stable = len({r for _, r in readings}) == 1
    scale = set(dimension.scale)
    tally = Counter(src for label, src in zip(labels, sources or (), strict=False)
                    if label in scale)
    return Pathway(document=document, stages=_stages(runs, min_run), runs=runs,
                   n_segments=len(labels), n_staged=sum(r.length for r in runs),
                   title=dimension_title(dimension), readings=() if stable else readings,
                   sources=tuple(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))))


def transition_kind(from_stage: str, to_stage: str, dimension: Dimension | None = None) -> str:
    """forward (one step up the scale), leap-frog (more than one, push → exchange) or
    backward."""
    scale = _scale(dimension)
    step = scale.index(to_stage) - scale.index(from_stage)
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
    dimension: Dimension | None = None,
    sources: Mapping[str, Sequence[str]] | None = None,
) -> PathwaySummary:
    """Pathways per document, transitions across documents and the codes around each.

    ``stages[doc]`` are the document's labels of the pathway ``dimension`` (by default the
    stage); ``codes[doc]`` and ``sources[doc]`` (where each label came from) run parallel
    to them (None where a segment has no codes).
    """
    dimension = default_pathway() if dimension is None else dimension
    codes = codes or {}
    for doc, seq in codes.items():
        if doc in stages and len(seq) != len(stages[doc]):
            raise ValueError(f"codes for {doc} do not run parallel to its stages")
    sources = sources or {}
    pathways = tuple(pathway_of(doc, seq, min_run=min_run, dimension=dimension,
                                sources=sources.get(doc))
                     for doc, seq in stages.items())
    overall = [c for doc in stages for c in codes.get(doc, ())]
    by_move: dict[tuple[str, str], list[Pathway]] = {}
    for pathway in pathways:
        for move in pathway.transitions:
            by_move.setdefault(move, []).append(pathway)
    order = {s: i for i, s in enumerate(dimension.scale)}
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
            from_stage=a, to_stage=b, kind=transition_kind(a, b, dimension),
            documents=tuple(p.document for p in members),
            n_window_segments=sum(c is not None for c in window),
            top_codes=code_lifts(window, overall, top=top),
        ))
    notes = _notes(pathways, min_run, dimension)
    return PathwaySummary(pathways=pathways, transitions=tuple(transitions), min_run=min_run,
                          notes=notes, dimension=dimension)


def _either(values: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join([", ".join(values[:-1]), values[-1]] if len(values) > 1 else values)


def _notes(pathways: Sequence[Pathway], min_run: int, dimension: Dimension
           ) -> tuple[str, ...]:
    notes = []
    title = dimension_title(dimension)
    if not pathways:
        notes.append("The project has no participants with codable segments, so there are "
                     "no pathways.")
    elif not any(p.n_staged for p in pathways):
        notes.append(f"No codable segment has {with_article(_either(dimension.scale))} label "
                     "yet (from a coder or the model), so no pathway can be traced.")
    elif not any(p.transitions for p in pathways):
        notes.append(f"No participant moved between two {title}s that each lasted at least "
                     f"{min_run} segment(s), so there are no transitions.")
    unstable = [p for p in pathways if not p.stable and p.n_staged]
    if unstable:
        notes.append(f"{len(unstable)} of {len(pathways)} pathways read differently with "
                     f"--min-run {STABILITY_RUNS[0]} to {STABILITY_RUNS[-1]} (marked ~): "
                     f"too few segments carry {with_article(title)} to settle them.")
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


def segment_labels(store: Store, *, use_model: bool = True,
                   dimension: Dimension | None = None) -> dict[str, list[LabelledSegment]]:
    """Every codable segment per document, in order, with its resolved value of
    ``dimension`` (by default the codebook's pathway dimension; unknown without one) and
    its codes.

    The value and codes come from the best source present (``SOURCE_PRIORITY``): the
    consensus, else the human coders (majority; blind audit coders among them, and the
    source is "blind" when only blind coders voted), else model-assisted coders, else the
    model's suggestion when it did not abstain (if ``use_model``), else unknown.
    """
    if dimension is None:
        dimension = require_codebook(store).pathway
    wanted = None if dimension is None else dimension.id
    stage_votes: dict[str, dict[str, dict[str, str]]] = {}
    code_votes: dict[str, dict[str, dict[str, set[str]]]] = {}
    blind: set[tuple[str, str, bool]] = set()  # (segment, coder, is a code) coded blind
    for a in store.annotations():
        source = a.source if a.source in SOURCE_PRIORITY else "human"
        if a.source == BLIND:
            blind.add((a.segment_id, a.coder, a.dimension == CODE_DIMENSION))
        if a.dimension == wanted and a.label:
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
            if s.dimension == wanted and s.suggested:
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
        if stage_source == "human" and all((seg.id, c, False) in blind
                                           for c in stage_votes[seg.id]["human"]):
            stage_source = BLIND
        if codes_source == "human" and all((seg.id, c, True) in blind
                                           for c in code_votes[seg.id]["human"]):
            codes_source = BLIND
        out.setdefault(seg.document, []).append(LabelledSegment(
            segment_id=seg.id, document=seg.document, index=seg.index, stage=stage,
            stage_source=stage_source, codes=codes, codes_source=codes_source))
    return out


def pathway_dimension(store: Store) -> Dimension:
    """The codebook's pathway dimension; a one-sentence error when it marks none."""
    codebook = require_codebook(store)
    if codebook.pathway is None:
        if not codebook.dimensions:
            raise ProjectError(
                "the project's codebook has no stage dimension, so there are no pathways "
                "(it declares no dimension at all); give it an ordered dimension marked "
                "`pathway: true` (or leave out `dimensions:` for the default stages) and "
                "load it again with `isp-nlp codebook load FILE.yaml`"
            )
        raise ProjectError(
            f"the project's codebook marks none of its dimensions "
            f"({', '.join(codebook.dimension_ids)}) `pathway: true`, so there are no "
            "pathways to trace; mark the ordered dimension participants move through with "
            "`pathway: true` and load it again with `isp-nlp codebook load FILE.yaml`"
        )
    return codebook.pathway


def project_pathways(store: Store, *, min_run: int = DEFAULT_MIN_RUN,
                     top: int = DEFAULT_TOP_CODES,
                     labels: Mapping[str, Sequence[LabelledSegment]] | None = None
                     ) -> PathwaySummary:
    """Pathways of a project's participants through its codebook's pathway dimension (see
    :func:`segment_labels` for the labels); a one-sentence error without one."""
    dimension = pathway_dimension(store)
    labels = segment_labels(store, dimension=dimension) if labels is None else labels
    stages = {doc: [s.stage for s in segs] for doc, segs in labels.items()}
    codes = {doc: [s.codes for s in segs] for doc, segs in labels.items()}
    sources = {doc: [s.stage_source for s in segs] for doc, segs in labels.items()}
    summary = summarize_pathways(stages, codes, min_run=min_run, top=top,
                                 dimension=dimension, sources=sources)
    unstable = {p.document for p in summary.unstable}
    if not unstable:
        return summary
    keep = [doc for doc in stages if doc not in unstable]
    stable = summarize_pathways({d: stages[d] for d in keep}, {d: codes[d] for d in keep},
                                min_run=min_run, top=top, dimension=dimension,
                                sources={d: sources[d] for d in keep})
    return replace(summary, stable_only=stable)
