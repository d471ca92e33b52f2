"""The pre-coded wave at a glance: one row per transcript, as one self-contained HTML file.

:func:`summarise_transcript` is pure: from a transcript's segments and the model's
suggestions it counts what was suggested and where the model abstained, and writes
the stage sequence along the transcript. :func:`render_wave_summary` renders, after
whether to trust the model, the rows and the files that could not be read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from isp_nlp.analysis.pathways import default_pathway
from isp_nlp.records import CODE_DIMENSION, Segment, Suggestion
from isp_nlp.report.html import format_stage_runs, template_environment

#: The stage sequence shows an abstained segment as this mark.
ABSTAINED = "?"


@dataclass(frozen=True)
class TranscriptSummary:
    """What the model suggested for one transcript of the wave."""

    document: str
    name: str
    segments: int
    codable: int
    code_counts: tuple[tuple[str, int], ...]  # (code name, segments), most frequent first
    no_code_share: float | None  # codable segments with no code suggested
    stage_abstained_share: float | None  # codable segments whose stage the model left open
    stage_sequence: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class FailedFile:
    """A wave file that could not be read, with the one-line reason."""

    path: str
    reason: str


def summarise_transcript(
    document: str,
    name: str,
    segments: Sequence[Segment],
    suggestions: Sequence[Suggestion],
    code_names: Mapping[str, str],
    warnings: Sequence[str] = (),
    dimension: str | None = None,
) -> TranscriptSummary:
    """Summarise the model's suggestions over ``segments`` (one transcript, in order); the
    sequence is of ``dimension`` (an id: the codebook's pathway dimension; by default the
    default codebook's stage)."""
    dimension = default_pathway().id if dimension is None else dimension
    codable = [s for s in segments if s.codable]
    ids = {s.id for s in codable}
    codes: dict[str, set[str]] = {}
    stage: dict[str, str] = {}
    for s in suggestions:
        if s.segment_id not in ids or not s.suggested:
            continue
        if s.dimension == CODE_DIMENSION:
            codes.setdefault(s.segment_id, set()).add(s.label)
        elif s.dimension == dimension:
            stage[s.segment_id] = s.label
    counts = Counter(code_names.get(c, c) for labels in codes.values() for c in labels)
    n = len(codable)
    return TranscriptSummary(
        document=document,
        name=name,
        segments=len(segments),
        codable=n,
        code_counts=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        no_code_share=(sum(s.id not in codes for s in codable) / n) if n else None,
        stage_abstained_share=(sum(s.id not in stage for s in codable) / n) if n else None,
        stage_sequence=format_stage_runs([stage.get(s.id, ABSTAINED) for s in codable]),
        warnings=tuple(warnings),
    )


def render_wave_summary(
    *,
    wave: str,
    model_id: str,
    generated_at: str,
    transcripts: Sequence[TranscriptSummary],
    failed: Sequence[FailedFile],
    code_threshold: float,
    stage_threshold: float,
    trust: Sequence[str] = (),
) -> str:
    """The wave summary as one HTML string (escaped; no external resources); ``trust``
    (:func:`isp_nlp.suggest.trust.trust_paragraphs`) opens it, before anything else."""
    return template_environment().get_template("wave.html.j2").render(
        wave=wave, model_id=model_id, generated_at=generated_at, transcripts=transcripts,
        failed=failed, code_threshold=code_threshold, stage_threshold=stage_threshold,
        abstained=ABSTAINED, trust=trust,
    )
