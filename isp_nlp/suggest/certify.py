"""Certified abstention: the confidence threshold above which suggestions agree with the
coders at least as often as a target, with stated confidence, chosen from seed codes only.

Method: fixed-sequence testing over thresholds (as in "Trust or Escalate", Jung, Brahman
& Choi, ICLR 2025). Thresholds are visited from high to low; at each, the covered
out-of-fold predictions (confidence >= threshold) test H0 "agreement < target" with a
one-sided exact binomial test at level ``delta``; the walk stops at the first threshold
that fails, and the certified threshold is the last one that passed. Because the order is
fixed before the labels are looked at (the walk starts at the first threshold covering
at least :data:`MIN_START` segments, and enough to pass at all, which depends on
confidences only), the chance that the
certified threshold's true agreement is below the target is at most ``delta``.
Agreement per segment may be fractional (several seed coders); the successes counted are
the sum rounded down, which only makes the test stricter.

Weighted seeds (seeds whose label mix differs from the segments the suggestions are for,
e.g. K seeds per label drawn from a skewed pool): each covered seed counts with the weight
population share / seed share of its label; the test uses the weighted agreement and the
Kish effective number of seeds in the exact (Clopper-Pearson) bound, as Korn & Graubard
(1998) do for survey proportions. The confidence then holds approximately.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binom

from isp_nlp.errors import IspNlpError

#: 1 - delta: the confidence with which the certified threshold meets its target.
CONFIDENCE = 0.9
METHOD = ("fixed-sequence testing over thresholds (high to low) with a one-sided exact "
          "binomial test on out-of-fold predictions of the seed codes")
#: Thresholds tried, high to low.
GRID = tuple(round(1.0 - 0.01 * i, 2) for i in range(101))
#: The walk starts at the first threshold covering this many seed segments (or all of
#: them, if fewer): a test on a handful of segments would fail by chance and stop the walk.
MIN_START = 30


class CertificationError(IspNlpError):
    """A target agreement or confidence level that cannot be used."""


@dataclass(frozen=True)
class Certificate:
    """The outcome of :func:`certify_threshold` (``threshold`` None: nothing certified)."""

    target: float
    confidence: float
    threshold: float | None
    n_seeds: int
    n_covered: int
    coverage: float
    agreement: float | None
    lower_bound: float | None
    reason: str
    more_seeds_needed: int | None = None
    method: str = METHOD
    #: Kish effective number of covered seeds when seeds were weighted (None: unweighted).
    effective_n: float | None = None

    @property
    def certified(self) -> bool:
        return self.threshold is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_target(target: float, confidence: float = CONFIDENCE) -> None:
    """Raise CertificationError unless 0 < target <= 1 and 0 < confidence < 1."""
    if not (isinstance(target, int | float) and 0.0 < float(target) <= 1.0):
        raise CertificationError(
            f"the target agreement is {target}; expected a share above 0 and at most 1 "
            "(e.g. 0.8 for 80 % agreement); fix --target-agreement.")
    if not 0.0 < confidence < 1.0:
        raise CertificationError(f"the confidence level is {confidence}; expected a value "
                                 "strictly between 0 and 1, e.g. 0.9.")


def min_covered(target: float, confidence: float = CONFIDENCE) -> int:
    """Fewest covered segments that can pass at all (every one agreeing)."""
    return math.ceil(math.log(1 - confidence) / math.log(target) - 1e-12)


def lower_bound(successes: float, n: float, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower confidence bound of a binomial share."""
    if n == 0 or successes <= 0:
        return 0.0
    return _beta_lower(successes, n, confidence)


def _passes(successes: float, n: float, target: float, delta: float) -> bool:
    """H0 "agreement < target" rejected at ``delta`` (integer counts: exact binomial
    test; effective counts: the equivalent Clopper-Pearson bound)."""
    if n <= 0:
        return False
    if float(successes).is_integer() and float(n).is_integer():
        return float(binom.sf(int(successes) - 1, int(n), target)) <= delta
    return successes > 0 and _beta_lower(successes, n, 1 - delta) >= target


def _beta_lower(successes: float, n: float, confidence: float) -> float:
    from scipy.stats import beta

    return float(beta.ppf(1 - confidence, successes, n - successes + 1))


def _evidence(agree: np.ndarray, weights: np.ndarray | None) -> tuple[float, float, float]:
    """(share, successes, n) of covered seeds: unweighted, the sum of agreements rounded
    down and the count; weighted, the weighted share times the Kish effective n."""
    if weights is None:
        return float(agree.mean()), math.floor(agree.sum() + 1e-9), len(agree)
    share = float((weights * agree).sum() / weights.sum())
    n_eff = float(weights.sum() ** 2 / (weights ** 2).sum())
    return share, share * n_eff, n_eff


def _needed(share: float, target: float, delta: float, limit: int = 100_000) -> int | None:
    """Covered segments needed to pass at an observed agreement ``share`` (None: never)."""
    return segments_needed(share, target, 1 - delta, limit=limit)


def segments_needed(share: float, target: float, level: float = CONFIDENCE, *,
                    limit: int = 100_000) -> int | None:
    """The fewest segments n whose exact binomial test at ``level`` passes with
    floor(``share`` * n) of them agreeing (the one-sided Clopper-Pearson lower bound at the
    observed agreement clears ``target``); None when it never does (``share`` at or below
    the target, or beyond ``limit`` segments)."""
    if share <= target:
        return None
    start = min_covered(target, level)
    for low in range(start, limit + 1, 20_000):
        n = np.arange(low, min(low + 20_000, limit + 1))
        k = np.floor(share * n + 1e-9)
        ok = np.flatnonzero(binom.sf(k - 1, n, target) <= 1 - level)
        if len(ok):
            return int(n[ok[0]])
    return None


def certify_threshold(confidence: np.ndarray, agreement: np.ndarray, target: float, *,
                      level: float = CONFIDENCE, grid: tuple[float, ...] = GRID,
                      weights: np.ndarray | None = None) -> Certificate:
    """The lowest threshold of ``grid`` reached by fixed-sequence testing.

    ``confidence[i]`` is the out-of-fold confidence of seed segment i and
    ``agreement[i]`` in [0, 1] the share of its coders the out-of-fold suggestion agrees
    with; ``weights[i]`` > 0 its weight (None or all equal: unweighted).
    """
    check_target(target, level)
    conf = np.asarray(confidence, dtype=np.float64)
    agree = np.clip(np.asarray(agreement, dtype=np.float64), 0.0, 1.0)
    if conf.shape != agree.shape or conf.ndim != 1:
        raise ValueError(f"confidence has shape {conf.shape} and agreement {agree.shape}; "
                         "expected equal 1-D shapes")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if w is not None:
        if w.shape != conf.shape or not (np.isfinite(w).all() and (w > 0).all()):
            raise ValueError(f"weights have shape {w.shape}; expected {conf.shape}, all > 0")
        if np.allclose(w, w[0] if len(w) else 1.0, rtol=1e-9, atol=0.0):
            w = None
    delta = 1 - level
    n_all = len(conf)
    if target >= 1.0:
        return Certificate(target, level, None, n_all, 0, 0.0, None, None,
                           "a target of 100 % agreement cannot be certified from a sample of "
                           "seeds; give a lower --target-agreement")
    need = min_covered(target, level)
    start = max(need, min(MIN_START, n_all))
    order = sorted(grid, reverse=True)
    best: tuple[float, int, float, float, float] | None = None
    last_tested: tuple[int, float, float] | None = None
    for t in order:
        covered = conf >= t - 1e-12
        n = int(covered.sum())
        if n < start:
            continue  # too few to test: decided by confidences alone
        share, hits, n_test = _evidence(agree[covered], None if w is None else w[covered])
        last_tested = (n, share, n / n_test)
        if not _passes(hits, n_test, target, delta):
            break
        best = (t, n, share, hits, n_test)
    weighting = "" if w is None else " (seeds weighted to the label mix of the segments)"
    if best is not None:
        t, n, share, hits, n_test = best
        return Certificate(target, level, t, n_all, n, n / n_all if n_all else 0.0, share,
                           lower_bound(hits, n_test, level),
                           f"{n} of {n_all} seed segments are covered at confidence >= {t:.2f}; "
                           f"they agree with the coders {share:.1%} of the time{weighting} "
                           f"(at least {target:.1%} with {level:.0%} confidence)",
                           effective_n=None if w is None else n_test)
    return _not_certified(conf, agree, target, level, need, last_tested)


def _not_certified(conf: np.ndarray, agree: np.ndarray, target: float, level: float,
                   need: int, last_tested: tuple[int, float, float] | None) -> Certificate:
    """``last_tested``: (covered seeds, their agreement, design effect n / effective n)
    at the first threshold that failed."""
    n_all = len(conf)
    delta = 1 - level
    if last_tested is None:
        more = need - n_all if n_all < need else None
        reason = (f"{n_all} seed segments were scored out of fold; certifying {target:.0%} "
                  f"agreement with {level:.0%} confidence needs at least {need} covered "
                  "segments that all agree")
        if more is not None:
            reason += f", so code at least {more} more segments"
        return Certificate(target, level, None, n_all, 0, 0.0, None, None, reason, more)
    n, share, design_effect = last_tested
    needed = _needed(share, target, delta)
    more = None if needed is None else max(
        1, math.ceil(needed * design_effect * n_all / max(n, 1)) - n_all)
    if more is None:
        reason = (f"out of fold, the model agrees with the seed coders {share:.1%} of the "
                  f"time on its {n} most confident seed segments, below the target "
                  f"{target:.1%}: nothing can be certified; lower --target-agreement or code "
                  "more seeds")
    else:
        reason = (f"out of fold, the model agrees with the seed coders {share:.1%} of the "
                  f"time on its {n} most confident seed segments; certifying {target:.1%} "
                  f"with {level:.0%} confidence needs about {more} more coded segments")
    return Certificate(target, level, None, n_all, 0, 0.0, share, None, reason, more)
