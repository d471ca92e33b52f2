"""Plain data that flows between the library's functions.

All objects are frozen dataclasses: readers return them, the store persists
them, and the suggesters and agreement functions consume them.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: The dimension of multi-label codes; every other dimension is a codebook's single-choice one.
CODE_DIMENSION = "code"
#: What a document without a value of an attribute (site, role ...) is grouped under.
NO_VALUE = "(none)"
#: The single-choice dimension a codebook without ``dimensions:`` has (implementation-support
#: stages); only :mod:`isp_nlp.codebook` builds it, every other module reads the codebook.
STAGE_DIMENSION = "stage"
STAGES = ("push", "push_pull", "exchange", "none")


@dataclass(frozen=True)
class Turn:
    """One speaker turn; ``start``/``end`` are code-point offsets of the
    utterance (without the speaker label) in ``Transcript.text``."""

    index: int
    speaker: str | None
    start: int
    end: int
    t_start: float | None = None  # seconds, for timed formats (VTT/SRT)
    t_end: float | None = None
    line: int | None = None  # 1-based line in the source file, when known


@dataclass(frozen=True)
class Transcript:
    """A normalised transcript: canonical text plus its speaker turns.

    ``document`` is the name used in CSV exchange (the file stem);
    ``name`` the original file name; ``sha256`` the hash of the raw bytes.
    """

    document: str
    name: str
    sha256: str
    text: str
    turns: tuple[Turn, ...]
    source_format: str
    warnings: tuple[str, ...] = ()

    def turn_text(self, turn: Turn) -> str:
        return self.text[turn.start : turn.end]


#: Namespace of segment ids; never change it, or every stored id changes.
SEGMENT_NAMESPACE = uuid.UUID("f9688d60-17c1-5312-a0a7-5c5dc4f5e06c")


def segment_id(document: str, start: int, end: int) -> str:
    """Stable id of the span ``start:end`` of ``document`` (uuid5 of both)."""
    return str(uuid.uuid5(SEGMENT_NAMESPACE, f"{document}:{start}:{end}"))


@dataclass(frozen=True)
class Segment:
    """A codable (or context-only) span of a transcript."""

    id: str
    document: str
    index: int  # position of the segment in its document, 0-based
    turn_index: int
    unit: str  # turn | sentence | paragraph
    speaker: str | None
    start: int
    end: int
    text: str
    codable: bool = True


@dataclass(frozen=True)
class Code:
    """A codebook entry: a code (``dimension`` is ``code``) or a value of a single-choice
    dimension (``dimension`` is that dimension's id).

    ``color`` is ``#RRGGBB`` (or empty) as REFI-QDA tools exchange it.
    """

    id: str
    name: str
    parent: str | None = None
    definition: str = ""
    include: str = ""
    exclude: str = ""
    examples: tuple[str, ...] = ()
    dimension: str = CODE_DIMENSION
    color: str = ""
    #: The GUID a QDA tool gave the code (REFI-QDA), kept for the way back; "" if none.
    guid: str = ""
    #: A parent whose children are mutually exclusive: a segment takes at most one of
    #: them (open vs closed question), so they are never suggested or accepted together.
    exclusive: bool = False


@dataclass(frozen=True)
class Dimension:
    """A single-choice dimension: a coder gives a segment at most one of its values.

    ``values`` are Codes whose ``dimension`` is this ``id``, in the codebook's order. When
    ``ordered``, that order is a scale (ordinal agreement, pathways), and ``unordered``
    names values that stand outside it (such as "none"). ``pathway`` marks the dimension
    pathways follow (at most one per codebook).
    """

    id: str
    name: str
    values: tuple[Code, ...]
    ordered: bool = False
    pathway: bool = False
    unordered: tuple[str, ...] = ()
    definition: str = ""
    #: The GUID of the dimension's parent code in a QDA tool (REFI-QDA); "" if none.
    guid: str = ""

    @property
    def value_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.values)

    @property
    def scale(self) -> tuple[str, ...]:
        """The ordered values, lowest first (empty when the dimension is not ordered)."""
        if not self.ordered:
            return ()
        return tuple(v.id for v in self.values if v.id not in self.unordered)


@dataclass(frozen=True)
class Codebook:
    """Codes (multi-label, a hierarchy) plus zero or more single-choice dimensions."""

    name: str
    codes: tuple[Code, ...]
    dimensions: tuple[Dimension, ...] = ()

    @property
    def code_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.codes)

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dimensions)

    def dimension(self, dimension_id: str) -> Dimension | None:
        """The dimension with id ``dimension_id``, or None."""
        return next((d for d in self.dimensions if d.id == dimension_id), None)

    @property
    def pathway(self) -> Dimension | None:
        """The dimension pathways follow, or None when the codebook marks none."""
        return next((d for d in self.dimensions if d.pathway), None)

    @property
    def exclusive_groups(self) -> tuple[tuple[str, ...], ...]:
        """The children of each parent marked ``exclusive``, in codebook order: sets of
        codes of which a segment takes at most one."""
        groups = []
        for parent in self.codes:
            if parent.exclusive:
                kids = tuple(c.id for c in self.codes if c.parent == parent.id)
                if len(kids) > 1:
                    groups.append(kids)
        return tuple(groups)

    def exclusive_with(self, code: str) -> tuple[str, ...]:
        """The codes that cannot go on a segment together with ``code`` (its siblings
        under an ``exclusive`` parent); empty when none."""
        out: list[str] = []
        for group in self.exclusive_groups:
            if code in group:
                out += [c for c in group if c != code and c not in out]
        return tuple(out)

    def conflicts(self, codes: Iterable[str]) -> list[tuple[str, str]]:
        """Pairs of ``codes`` that the codebook declares mutually exclusive, in order."""
        chosen = list(dict.fromkeys(codes))
        return [(a, b) for i, a in enumerate(chosen) for b in chosen[i + 1:]
                if b in self.exclusive_with(a)]


@dataclass(frozen=True)
class Annotation:
    """One coder's label for one segment on one dimension.

    ``label`` is None for a code-dimension row meaning "seen, no code".
    ``source`` is human | assisted | consensus | blind.
    """

    segment_id: str
    coder: str
    dimension: str
    label: str | None
    source: str = "human"


#: Where a coding or annotation came from: a person coding freely, a person deciding
#: on a suggestion, blind double-coding, an agreed consensus, or the model itself.
PROVENANCES = ("human", "assisted", "blind", "consensus", "model")

# The provenance policy: what a label of each source may be used for.
#: Coded spans of these sources become segment annotations (never the model's).
CODER_SOURCES = ("human", "assisted", "blind", "consensus")
#: Labels that train the suggester: free human codes and their consensus; never codes a
#: coder accepted from a suggestion ("assisted"), blind audit codes or the model's.
TRAINING_SOURCES = ("human", "consensus")
#: Labels the model's suggestions are certified against: the seeds' certificate (train) on
#: the independent codes it learns from, out of fold; a wave's certificate (certify) on the
#: blind codes of an audit. Never an "assisted" code.
CERTIFYING_SOURCES = (*TRAINING_SOURCES, "blind")
#: Labels that count as a coder in agreement tables, human–human and model vs coders: free
#: human codes and blind codes (a coder's independent work: no suggestion, no one else's
#: codes in view). Never "assisted" (depends on the model) nor "consensus" (derived from
#: the coders compared).
AGREEMENT_SOURCES = ("human", "blind")
#: Labels ``isp-nlp train`` fits on: the training sources plus the codes a coder accepted
#: or relabelled in review ("assisted"), so the review loop teaches the model; out-of-fold
#: calibration and certification still score only :data:`CERTIFYING_SOURCES` rows.
LEARNING_SOURCES = ("human", "consensus", "assisted")


@dataclass(frozen=True)
class Coding:
    """A span a coder highlighted and coded, kept exactly as the coder drew it.

    ``start``/``end`` are code-point offsets into the stored text of
    ``document`` (``Transcript.text``); ``code`` is a code id on ``dimension``.
    ``guid`` is the selection's REFI-QDA GUID when it came from a QDA tool.
    """

    document: str
    start: int
    end: int
    code: str
    coder: str
    dimension: str = CODE_DIMENSION
    source: str = "human"
    guid: str = ""
    created_at: str = ""


@dataclass(frozen=True)
class Coder:
    """A person (a REFI-QDA ``User``) whose codings the project holds."""

    name: str
    guid: str = ""
    initials: str = ""


@dataclass(frozen=True)
class Note:
    """A memo or note, kept as written; it may point at a span of a document, a whole
    document (no span) or a code."""

    title: str
    text: str
    guid: str = ""
    coder: str = ""
    document: str | None = None
    start: int | None = None
    end: int | None = None
    created_at: str = ""
    #: A memo on a code: the code's dimension ("code" for the codebook's codes) and id.
    dimension: str | None = None
    code: str | None = None


def segment_memo(segment: Segment, text: str, coder: str = "") -> Note:
    """A memo on ``segment``: a note on its span, titled by its document and index."""
    return Note(title=f"memo on {segment.document} #{segment.index}", text=text, coder=coder,
                document=segment.document, start=segment.start, end=segment.end)


@dataclass(frozen=True)
class Evidence:
    """A nearest human-coded exemplar behind a suggestion."""

    segment_id: str
    similarity: float
    text: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    """A model's suggestion for one segment on one dimension."""

    segment_id: str
    model_id: str
    dimension: str
    label: str
    probability: float
    suggested: bool  # False when below the abstain threshold
    evidence: tuple[Evidence, ...] = field(default=())


class SuggestionRow(NamedTuple):
    """A stored suggestion without its evidence: the light form a review queue of many
    thousand segments is built from (see :class:`Suggestion`)."""

    segment_id: str
    dimension: str
    label: str
    probability: float
    suggested: bool


# -- text edits ---------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """One edit of a stored text (a replaced name): old span, new span (code points),
    and what was replaced."""

    old_start: int
    old_end: int
    new_start: int
    new_end: int
    name: str


class OffsetMap:
    """Carries old offsets into the new text through a document's edits (in order)."""

    def __init__(self, edits: Sequence[Edit]) -> None:
        self.edits = tuple(edits)
        self._starts = [e.old_start for e in self.edits]

    def offset(self, pos: int, *, end: bool = False) -> int:
        """The new offset of ``pos``. An offset inside a replaced name moves to the
        pseudonym's start (a span's ``start``) or its end (``end=True``), so a span that
        cut a name now covers the whole pseudonym."""
        i = bisect.bisect_right(self._starts, pos) - 1
        if i < 0:
            return pos
        e = self.edits[i]
        if pos >= e.old_end:
            return pos + e.new_end - e.old_end
        if pos == e.old_start:
            return e.new_start
        return e.new_end if end else e.new_start

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The new ``(start, end)`` of the old span ``start:end``."""
        return self.offset(start), self.offset(end, end=True)


# -- review decisions -----------------------------------------------------------
def item_key(segment_id: str, text: str, model_id: str, suggested_codes: Sequence[str],
             suggested_values: Mapping[str, str | None]) -> str:
    """sha256 of what a review decision is about: segment, text, model and its suggestion
    (codes and the value suggested per single-choice dimension, None where the model
    abstains; no probabilities: the same suggestion rescored keeps its key).

    With zero or one dimension the payload's last element is that single value (or null),
    so keys of decisions logged before dimensions were user-defined (when it was the
    stage) still match; with two or more it is the sorted [dimension, value] pairs.
    """
    if len(suggested_values) <= 1:
        last: Any = next(iter(suggested_values.values()), None)
    else:
        last = [[dim, value] for dim, value in sorted(suggested_values.items())]
    payload = json.dumps([segment_id, text, model_id, sorted(suggested_codes), last],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Decision:
    """One coder's verdict on one suggestion.

    ``codes``/``values`` are what the coder asserts: the suggestion on accept (its codes
    and every value it did not abstain on), the chosen labels on relabel, nothing on
    reject and skip. ``values`` are (dimension id, value id) pairs, sorted by dimension.
    ``suggestion`` is a JSON-safe snapshot of what was shown, for the audit trail.
    """

    coder: str
    item_key: str
    segment_id: str
    action: str
    codes: tuple[str, ...]
    model_id: str
    values: tuple[tuple[str, str], ...] = ()
    suggestion: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        pairs = self.values.items() if isinstance(self.values, Mapping) else self.values
        object.__setattr__(self, "values", tuple(sorted((str(d), str(v)) for d, v in pairs)))

    def value(self, dimension: str) -> str | None:
        """The value asserted on ``dimension``, or None."""
        return dict(self.values).get(dimension)
