"""Where the report's labels come from: each codable segment's value source (human,
consensus, blind, assisted, model, or none), counted, and the humans-only view that
drops every label a person did not give on their own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from isp_nlp.report.palette import HUMAN_SOURCES, SOURCES, UNKNOWN

NO_LABEL = "unknown"
#: What each source means, for the report's source legend.
SOURCE_MEANING = {
    "human": "a coder's own label, coded freely (the majority when coders differ)",
    "consensus": "the coders' agreed label after a disagreement (isp-nlp resolve)",
    "blind": "a coder's label on an audit sample, coded with no suggestion in view",
    "assisted": "a coder's decision on a model suggestion (accepted or relabelled in review)",
    "model": "the model's suggestion, which no person has checked",
    NO_LABEL: "no label: nobody coded the segment and the model abstained",
}
SOURCE_DRAWING = {"human": "solid", "consensus": "solid", "blind": "solid",
                  "assisted": "dotted", "model": "hatched", NO_LABEL: "white, cross-hatched"}


def source_sequences(labels: Mapping[str, Sequence[Any]]) -> dict[str, list[str]]:
    """Each document's value sources, parallel to its value sequence."""
    return {doc: [s.stage_source for s in segs] for doc, segs in labels.items()}


def humans_only(labels: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """``labels`` with every value a person did not give on their own (assisted, model)
    turned into unknown."""
    return {doc: [s if s.stage_source in HUMAN_SOURCES else
                  replace(s, stage=UNKNOWN, stage_source=NO_LABEL) for s in segs]
            for doc, segs in labels.items()}


def humans_only_sequences(sequences: Mapping[str, Sequence[str]],
                          sources: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The value sequences with "?" wherever the source is not a person's own label."""
    return {doc: [label if src in HUMAN_SOURCES else UNKNOWN
                  for label, src in zip(seq, sources.get(doc, ()), strict=False)]
            + [UNKNOWN] * max(0, len(seq) - len(sources.get(doc, ())))
            for doc, seq in sequences.items()}


def source_counts(sources: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Segments per source, in :data:`SOURCES` order then no label (zeros left out)."""
    tally = Counter(s for seq in sources.values() for s in seq)
    known = [s for s in (*SOURCES, NO_LABEL) if tally.get(s)]
    other = sorted(set(tally) - set(known))
    return {s: tally[s] for s in [*known, *other]}


def counts_text(counts: Mapping[str, int]) -> str:
    """``120 human, 5 consensus, 221 model (hatched)``; words for a figure caption."""
    parts = [f"{n} {s if s != NO_LABEL else 'no label'}"
             + (f" ({SOURCE_DRAWING[s]})" if SOURCE_DRAWING.get(s, "solid") != "solid" else "")
             for s, n in counts.items()]
    return ", ".join(parts) or "none"


def legend_rows(counts: Mapping[str, int]) -> list[dict[str, str]]:
    """The source legend: every source with its meaning, drawing and count here."""
    total = sum(counts.values())
    return [{"source": "no label" if s == NO_LABEL else s, "meaning": SOURCE_MEANING[s],
             "drawing": SOURCE_DRAWING[s], "count": str(counts.get(s, 0)),
             "share": f"{100 * counts.get(s, 0) / total:.1f}%" if total else "—"}
            for s in (*SOURCES, NO_LABEL)]


def model_share(counts: Mapping[str, int]) -> tuple[int, int]:
    """(segments whose value only the model gave, all segments counted)."""
    return counts.get("model", 0), sum(counts.values())
