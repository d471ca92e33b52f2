"""Plain data that flows between the library's functions.

All objects are frozen dataclasses: readers return them, the store persists
them, and the suggesters and agreement functions consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGE_DIMENSION = "stage"
CODE_DIMENSION = "code"
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
    """A codebook entry; ``dimension`` is ``code`` or ``stage``.

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


@dataclass(frozen=True)
class Codebook:
    """Codes (a hierarchy) plus the single-choice stage dimension."""

    name: str
    codes: tuple[Code, ...]
    stages: tuple[Code, ...]

    @property
    def code_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.codes)

    @property
    def stage_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages)


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
    """A memo or note, kept as written; it may point at a span of a document."""

    title: str
    text: str
    guid: str = ""
    coder: str = ""
    document: str | None = None
    start: int | None = None
    end: int | None = None
    created_at: str = ""


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
