"""The wave certificate's maths (pure): the fixed-sequence test on an audit, the comparison
with the seeds, and "more segments needed", checked against scipy as an oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta, binomtest

from isp_nlp.records import Annotation, Suggestion
from isp_nlp.suggest.certify import min_covered, segments_needed
from isp_nlp.suggest.wave_certify import (
    WaveEvidence,
    certify_wave_evidence,
    code_evidence,
    value_evidence,
)
from isp_nlp.suggest.wave_text import wave_sentences


def _clears(share: float, n: int, target: float, level: float) -> bool:
    """Oracle: the exact one-sided test at floor(share * n) successes rejects
    "agreement < target" (scipy's binomtest), and the Clopper-Pearson lower bound (beta
    quantile) agrees."""
    k = math.floor(share * n + 1e-9)
    by_test = binomtest(k, n, target, alternative="greater").pvalue <= 1 - level
    by_bound = k > 0 and beta.ppf(1 - level, k, n - k + 1) >= target
    assert by_test == by_bound or abs(beta.ppf(1 - level, k, n - k + 1) - target) < 1e-9
    return by_test


@pytest.mark.parametrize(("share", "target", "level"), [
    (0.9, 0.8, 0.9), (0.85, 0.8, 0.9), (0.95, 0.75, 0.95), (1.0, 0.8, 0.9), (0.82, 0.8, 0.8),
])
def test_segments_needed_is_the_fewest_that_clear_the_target(share: float, target: float,
                                                             level: float) -> None:
    n = segments_needed(share, target, level)
    assert n is not None
    assert _clears(share, n, target, level)
    assert not any(_clears(share, m, target, level)
                   for m in range(min_covered(target, level), n))


def test_no_number_of_segments_clears_a_target_at_or_above_the_agreement() -> None:
    assert segments_needed(0.8, 0.8) is None
    assert segments_needed(0.7, 0.8) is None


def _seeds(threshold: float | None, agreement: float, target: float = 0.8) -> dict:
    return {"threshold": threshold, "agreement": agreement, "target": target,
            "confidence": 0.9}


def test_a_wave_below_the_seeds_differs_by_points_and_says_how_many_more() -> None:
    # 40 blind-coded audit segments, all above the seeds' threshold 0.6; 34 agree (85 %).
    agree = np.array([1.0] * 34 + [0.0] * 6)
    evidence = WaveEvidence(np.full(40, 0.9), agree, ("zoe",))
    cert, cmp = certify_wave_evidence(evidence, 0.8, _seeds(0.6, 0.95))
    assert not cert.certified  # 34/40 cannot show >= 80 % with 90 % confidence
    assert not _clears(0.85, 40, 0.8, 0.9)
    assert cmp.differs and cmp.covered == 40 and cmp.agreement == pytest.approx(0.85)
    assert cmp.points == pytest.approx(10.0)
    needed = segments_needed(0.85, 0.8, 0.9)
    assert needed is not None and _clears(0.85, needed, 0.8, 0.9)
    assert cmp.more_needed == needed - 40 and not cmp.never
    text = " ".join(wave_sentences({"target": "code", "audit_id": 3, "coded": 40,
                                    "audit_size": 50, "confidence": 0.9,
                                    "target_agreement": 0.8, "threshold": None,
                                    "reason": "not enough", "seeds": _seeds(0.6, 0.95),
                                    "comparison": cmp.__dict__}))
    assert "the wave differs from the seeds" in text
    assert "10.0 points below the seeds' 95.0%" in text
    assert f"about {needed - 40} more blind-coded audit segments" in text


def test_more_needed_scales_by_the_share_the_threshold_covers() -> None:
    # Half the coded segments reach the seeds' threshold: twice the covered n is coded.
    # (The less confident half disagrees, so no lower threshold is certified either.)
    conf = np.array([0.9] * 20 + [0.3] * 20)
    agree = np.array([1.0] * 17 + [0.0] * 3 + [0.0] * 20)
    _, cmp = certify_wave_evidence(WaveEvidence(conf, agree), 0.8, _seeds(0.6, 0.9))
    needed = segments_needed(0.85, 0.8, 0.9)
    assert needed is not None
    assert cmp.covered == 20 and cmp.more_needed == math.ceil(needed * 40 / 20) - 40


def test_at_or_below_the_target_it_never_settles() -> None:
    agree = np.array([1.0] * 15 + [0.0] * 5)  # 75 % against an 80 % target
    cert, cmp = certify_wave_evidence(WaveEvidence(np.full(20, 0.9), agree), 0.8,
                                      _seeds(0.5, 0.9))
    assert not cert.certified and cmp.differs and cmp.never and cmp.more_needed is None
    text = " ".join(wave_sentences({"target": "stage", "name": "Stage", "audit_id": 1,
                                    "coded": 20, "audit_size": 20, "threshold": None,
                                    "reason": "r", "target_agreement": 0.8,
                                    "seeds": _seeds(0.5, 0.9), "comparison": cmp.__dict__}))
    assert "no number of blind-coded segments clears the 80.0% target" in text


def test_a_wave_as_good_as_the_seeds_is_certified_and_settled() -> None:
    evidence = WaveEvidence(np.full(60, 0.95), np.ones(60))
    cert, cmp = certify_wave_evidence(evidence, 0.8, _seeds(0.9, 0.97))
    assert cert.certified and cert.threshold is not None and cert.threshold <= 0.9
    assert cert.lower_bound == pytest.approx(beta.ppf(0.1, 60, 1))
    assert not cmp.differs and cmp.more_needed == 0


def test_evidence_reads_confidence_and_agreement_like_train() -> None:
    sug = [Suggestion("s1", "m", "code", "a", 0.9, True),
           Suggestion("s1", "m", "code", "b", 0.2, False),
           Suggestion("s2", "m", "code", "a", 0.4, False),
           Suggestion("s2", "m", "code", "b", 0.7, True),
           Suggestion("s1", "m", "stage", "push", 0.8, True)]
    blind = [Annotation("s1", "zoe", "code", "a", "blind"),
             Annotation("s1", "yan", "code", "a", "blind"),
             Annotation("s1", "yan", "code", "b", "blind"),
             Annotation("s2", "zoe", "code", None, "blind"),
             Annotation("s1", "zoe", "stage", "push", "blind"),
             Annotation("s1", "yan", "stage", "exchange", "blind")]
    codes = code_evidence(sug, blind, {"a": 0.5, "b": 0.5})
    assert codes.confidence.tolist() == pytest.approx([0.8, 0.6])  # min max(p, 1-p)
    assert codes.agreement.tolist() == [0.5, 0.0]  # s1: zoe {a} matches, yan {a,b} not
    assert codes.coders == ("yan", "zoe")
    stage = value_evidence("stage", sug, blind)
    assert stage.confidence.tolist() == [0.8] and stage.agreement.tolist() == [0.5]
