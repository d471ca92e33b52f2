"""Certified abstention, risk–coverage and calibration error: pure functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from isp_nlp.agreement import coverage
from isp_nlp.suggest.calibration import (
    apply_platt,
    apply_temperature,
    expected_calibration_error,
    fit_proba_platt,
    fit_proba_temperature,
)
from isp_nlp.suggest.certify import (
    CertificationError,
    certify_threshold,
    check_target,
    lower_bound,
    min_covered,
)


def _synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Confidence uniform in [0.3, 1]; agreement ~ Bernoulli(confidence)."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.3, 1.0, n)
    return conf, (rng.random(n) < conf).astype(float)


def test_min_covered_is_the_smallest_all_agree_sample_that_passes() -> None:
    n = min_covered(0.8, 0.9)
    assert binom.sf(n - 1, n, 0.8) <= 0.1 < binom.sf(n - 2, n - 1, 0.8)
    assert n == 11


def test_certified_threshold_meets_the_target_on_the_seeds() -> None:
    conf, agree = _synthetic(2000)
    cert = certify_threshold(conf, agree, 0.8)
    assert cert.certified and 0.6 <= cert.threshold < 0.7  # true agreement above t: (1 + t) / 2
    covered = conf >= cert.threshold
    assert cert.n_covered == covered.sum()
    assert cert.agreement == pytest.approx(agree[covered].mean())
    assert cert.lower_bound >= 0.8 and cert.agreement > cert.lower_bound
    assert math.isclose(cert.coverage, covered.mean())
    # a lower target covers more
    assert certify_threshold(conf, agree, 0.6).coverage > cert.coverage


def test_certificate_holds_with_stated_confidence_on_fresh_data() -> None:
    """Over repeated seed samples, the true agreement above the certified threshold is at
    least the target in >= 90 % of runs (true agreement above t is (1 + t) / 2 here)."""
    misses = 0
    runs = 200
    for seed in range(runs):
        conf, agree = _synthetic(150, seed)
        cert = certify_threshold(conf, agree, 0.8)
        if cert.certified:
            t = max(cert.threshold, 0.3)
            misses += (1 + t) / 2 < 0.8
    assert misses / runs <= 0.1


def test_too_few_seeds_says_how_many_more() -> None:
    cert = certify_threshold(np.array([0.9, 0.95, 0.99]), np.ones(3), 0.8)
    assert not cert.certified and cert.more_seeds_needed == min_covered(0.8) - 3
    assert "at least 8 more segments" in cert.reason
    conf, agree = _synthetic(30, 1)
    weak = certify_threshold(conf, agree, 0.9)
    assert not weak.certified and weak.threshold is None
    assert "more coded segments" in weak.reason or "below the target" in weak.reason


def test_out_of_reach_target_and_bad_targets() -> None:
    conf = np.linspace(0.5, 1.0, 100)
    cert = certify_threshold(conf, np.zeros(100), 0.7)
    assert not cert.certified and "below the target" in cert.reason
    assert not certify_threshold(conf, np.ones(100), 1.0).certified
    for bad in (0.0, -0.2, 1.5, float("nan")):
        with pytest.raises(CertificationError, match="target agreement"):
            check_target(bad)


def test_lower_bound_is_clopper_pearson() -> None:
    assert lower_bound(10, 10, 0.9) == pytest.approx(0.1 ** (1 / 10))
    assert lower_bound(0, 10) == 0.0


def test_risk_coverage_compares_on_the_same_units() -> None:
    # 4 units, 2 coders; the model is right on the confident half, humans disagree on unit 3
    labels = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])
    pred = np.array([0, 1, 1, 1])
    conf = np.array([0.9, 0.8, 0.4, 0.3])
    rows = coverage.risk_coverage(pred, conf, labels, thresholds=(0.0, 0.5))
    full, top = rows
    assert full["coverage"] == 1.0 and full["human_human_agreement"] == 0.5
    assert full["model_human_agreement"] == pytest.approx((3 / 4 + 3 / 4) / 2)
    assert full["parity"] is True
    assert top["coverage"] == 0.5 and top["model_human_agreement"] == 1.0
    assert top["human_human_agreement"] == 1.0 and top["parity"] is True
    assert top["model_human_kappa"] == pytest.approx(1.0)
    assert coverage.parity_coverage(rows) == 1.0
    one = coverage.risk_coverage(pred, conf, labels[:, :1], thresholds=(0.0,))
    assert one[0]["human_human_agreement"] is None and one[0]["parity"] is None
    assert coverage.parity_coverage(one) is None


def test_kappa_matches_sklearn() -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    b[:120] = a[:120]
    assert coverage.kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    a[:5] = -1  # missing rows are left out
    assert coverage.kappa(a, b) == pytest.approx(cohen_kappa_score(a[5:], b[5:]))


def test_temperature_and_platt_improve_calibration() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3))
    logits[np.arange(n), y] += 1.0
    over = np.exp(logits * 4)  # overconfident
    over /= over.sum(axis=1, keepdims=True)
    before = expected_calibration_error(over.max(axis=1), over.argmax(axis=1) == y)
    t = fit_proba_temperature(over, y)
    fixed = apply_temperature(over, t)
    after = expected_calibration_error(fixed.max(axis=1), fixed.argmax(axis=1) == y)
    assert t > 2 and after < before / 3 and after < 0.03
    assert (fixed.argmax(axis=1) == over.argmax(axis=1)).all()
    p = 1 / (1 + np.exp(-(rng.normal(0, 1, n) * 3)))
    truth = (rng.random(n) < 1 / (1 + np.exp(-np.log(p / (1 - p)) / 3))).astype(int)
    maps = fit_proba_platt(p[:, None], truth[:, None])
    q = apply_platt(p[:, None], maps)[:, 0]
    assert 0.2 < maps[0, 0] < 0.5
    ece_p = expected_calibration_error(np.maximum(p, 1 - p), (p >= 0.5) == truth)
    ece_q = expected_calibration_error(np.maximum(q, 1 - q), (q >= 0.5) == truth)
    assert ece_q < ece_p


def test_ece_by_hand() -> None:
    conf = np.array([0.95, 0.95, 0.55, 0.55])
    ok = np.array([1.0, 1.0, 0.0, 1.0])
    assert expected_calibration_error(conf, ok) == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    assert expected_calibration_error(np.array([]), np.array([])) is None


def test_double_coded_agreement_uses_only_rows_two_coders_labelled() -> None:
    rows = [{"a": "x", "b": "x"}, {"a": "x", "b": "y"}, {"a": "z"},
            {"a": ("p", "q"), "b": ("p", "q"), "c": ("p",)}]
    # pairs: row 1 agree; row 2 disagree; row 4: a-b agree, a-c and b-c disagree
    # per coder pair over the rows both coded: a-b 2/3, a-c 0/1, b-c 0/1 -> mean 2/9
    assert coverage.double_coded_agreement(rows) == pytest.approx(2 / 9)
    assert coverage.double_coded_agreement([{"a": "x"}]) is None
