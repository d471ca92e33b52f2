"""Mutually exclusive codes are never suggested together.

The rule (the one place it is applied; :class:`~isp_nlp.suggest.bundle.SuggesterModel`,
the out-of-fold suggestions and the evaluation's predicted sets all call it): among the
codes of one exclusive group (the children of a codebook code marked ``exclusive: true``,
:attr:`isp_nlp.records.Codebook.exclusive_groups`) that pass their thresholds on a
segment, only the most probable stays suggested; a tie goes to the code listed first in
the codebook. The others keep their probabilities (the review shows them below the
suggestion, and agreement and calibration still see them); only ``suggested`` changes.
Codes of no group, and groups of which at most one code passes, are left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from isp_nlp.records import CODE_DIMENSION, Suggestion

Groups = Sequence[Sequence[str]]


def exclusive_mask(proba: np.ndarray, passed: np.ndarray, labels: Sequence[str],
                   groups: Groups) -> np.ndarray:
    """``passed`` (n, len(labels)) with, per row and exclusive group, only the most
    probable passing code left True (a copy; ``proba`` gives the probabilities)."""
    out = np.array(passed, dtype=bool, copy=True)
    if not groups or out.size == 0:
        return out
    column = {lab: j for j, lab in enumerate(labels)}
    P = np.asarray(proba, dtype=np.float64)
    for group in groups:
        cols = [column[c] for c in group if c in column]
        if len(cols) < 2:
            continue
        sub = out[:, cols]
        clash = sub.sum(axis=1) > 1
        if not clash.any():
            continue
        scores = np.where(sub, P[:, cols], -np.inf)[clash]
        best = scores.argmax(axis=1)  # first maximum: codebook order breaks ties
        keep = np.zeros_like(sub[clash])
        keep[np.arange(len(best)), best] = True
        sub[clash] = keep
        out[:, cols] = sub
    return out


def exclusive_suggestions(suggestions: Sequence[Suggestion],
                          groups: Groups) -> list[Suggestion]:
    """``suggestions`` with the rule applied per segment to the code suggestions (those of
    other dimensions, and the order, unchanged)."""
    out = list(suggestions)
    if not groups:
        return out
    where: dict[str, dict[str, int]] = defaultdict(dict)
    for i, s in enumerate(out):
        if s.dimension == CODE_DIMENSION and s.suggested:
            where[s.segment_id][s.label] = i
    for by_label in where.values():
        for group in groups:
            hits = [by_label[c] for c in group if c in by_label]
            if len(hits) < 2:
                continue
            best = max(hits, key=lambda i: out[i].probability)  # first maximum wins
            for i in hits:
                if i != best:
                    s = out[i]
                    out[i] = Suggestion(s.segment_id, s.model_id, s.dimension, s.label,
                                        s.probability, False, s.evidence)
    return out
