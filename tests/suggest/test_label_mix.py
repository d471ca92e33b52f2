"""Confidence under the coded segments' label mix, and certification with seeds weighted
to it (seeds drawn K per label from a skewed pool)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from isp_nlp.coded.units import embed_units, load_units
from isp_nlp.embed import HashingEmbedder
from isp_nlp.suggest import out_of_fold as oof
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.calibration import (
    balancing_weights,
    fit_proba_temperature,
    label_mix,
    top_label_confidence,
)
from isp_nlp.suggest.certify import certify_threshold
from isp_nlp.suggest.study_fit import fit_calibrated, predict, sample_seeds


def test_label_mix_is_smoothed_and_ignores_unknown_labels() -> None:
    mix = label_mix(["a", "a", "a", "b", "zzz"], ["a", "b", "c"])
    assert mix == pytest.approx(np.array([3.5, 1.5, 0.5]) / 5.5)
    w = balancing_weights(np.array([0, 0, 0, 1]), 2)
    assert w == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0])  # each class weighs 1 in total


def test_top_label_keeps_the_balanced_argmax_and_moves_its_confidence() -> None:
    P = np.array([[0.6, 0.4], [0.2, 0.8], [0.5, 0.5]])
    top, conf = top_label_confidence(P, None)
    assert top.tolist() == [0, 1, 0] and conf == pytest.approx([0.6, 0.8, 0.5])
    # label 1 is three times as common in the population as in training
    top, conf = top_label_confidence(P, np.array([1.0, 3.0]))
    assert top.tolist() == [0, 1, 0]  # the suggestion does not change
    assert conf == pytest.approx([0.6 / 1.8, 2.4 / 2.6, 0.25])
    assert top_label_confidence(np.zeros((0, 2)), np.array([1.0, 2.0]))[1].shape == (0,)


def test_weighted_temperature_fit_follows_the_weights() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    logits = np.column_stack([np.zeros(n), np.where(y == 1, 2.0, -2.0) + rng.normal(0, 1, n)])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    plain = fit_proba_temperature(proba, y)
    assert fit_proba_temperature(proba, y, np.ones(n)) == pytest.approx(plain)
    # rows given no weight do not count: only their own class's rows shape T
    wrong = np.where(y == 1, 0, 1)
    t_w = fit_proba_temperature(proba, np.where(np.arange(n) < 200, y, wrong),
                                np.where(np.arange(n) < 200, 1.0, 1e-9))
    assert t_w == pytest.approx(fit_proba_temperature(proba[:200], y[:200]), rel=1e-3)


def test_equal_weights_give_the_unweighted_certificate() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.3, 1.0, 300)
    agree = (rng.random(300) < conf).astype(float)
    plain = certify_threshold(conf, agree, 0.8)
    assert certify_threshold(conf, agree, 0.8, weights=np.full(300, 2.5)) == plain
    assert plain.effective_n is None
    with pytest.raises(ValueError, match="weights"):
        certify_threshold(conf, agree, 0.8, weights=np.zeros(300))


def _shifted_seeds(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """75 seeds of label A (agreement ~ conf) and 75 of B (agreement ~ conf - 0.2)."""
    rng = np.random.default_rng(seed)
    label = np.repeat([0, 1], 75)
    conf = rng.uniform(0.3, 1.0, 150)
    p = np.clip(conf - 0.2 * label, 0, 1)
    return conf, (rng.random(150) < p).astype(float), label


def test_weighting_to_the_population_keeps_the_stated_confidence() -> None:
    """Population: 20 % A, 80 % B, so its true agreement above t is (1 + t) / 2 - 0.16.
    Balanced seeds flatter the model (their mix has half A); weighted seeds do not."""
    weights = np.array([0.2 / 0.5, 0.8 / 0.5])
    target = 0.75

    def true_agreement(t: float) -> float:
        return (1 + t) / 2 - 0.16

    misses = {"plain": 0, "weighted": 0}
    runs = 200
    for seed in range(runs):
        conf, agree, label = _shifted_seeds(seed)
        for kind, w in (("plain", None), ("weighted", weights[label])):
            cert = certify_threshold(conf, agree, target, weights=w)
            if cert.certified and true_agreement(cert.threshold) < target:
                misses[kind] += 1
    assert misses["weighted"] / runs <= 0.15  # 10 % stated; Kish's n is an approximation
    assert misses["plain"] > 2 * misses["weighted"]


def test_weighted_certificate_reports_effective_n_and_says_so() -> None:
    conf, agree, label = _shifted_seeds(3)
    cert = certify_threshold(conf, agree, 0.7, weights=np.array([1.6, 0.4])[label])
    assert cert.certified
    covered = conf >= cert.threshold - 1e-12
    w = np.array([1.6, 0.4])[label][covered]
    assert cert.agreement == pytest.approx((w * agree[covered]).sum() / w.sum())
    assert cert.effective_n == pytest.approx(w.sum() ** 2 / (w ** 2).sum())
    assert cert.effective_n < cert.n_covered
    assert "weighted to the label mix" in cert.reason


def test_seed_weights() -> None:
    assert oof.seed_weights(["a", "b"], None, ["a", "b"]) is None
    assert oof.seed_weights(["a", "b"], ["b", "a"], ["a", "b"]) is None
    w = oof.seed_weights(["a", "a", "b", "b"], ["a"] * 9 + ["b"] * 3, ["a", "b"])
    assert w is not None
    assert w[0] / w[2] == pytest.approx((9.5 / 3.5) / 1.0)


# -------------------------------------------------------------------------- in a study

PHRASES = {
    "common": ["we talked about the weather", "it was an ordinary week", "nothing new at work",
               "the meeting ran as usual", "we had lunch together", "the day went fine"],
    "rare": ["I really want to change this", "I am ready to stop now",
             "I will quit next month", "change matters to me"],
}


def _skewed_csv(path: Path) -> Path:
    """Six documents, 'common' five times as frequent as 'rare'."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "segment", "text", "coder", "code"])
        n = 0
        for d in range(6):
            for label, phrases in PHRASES.items():
                times = 5 if label == "common" else 2
                for rep in range(times):
                    for phrase in phrases[: 3 if label == "common" else 2]:
                        n += 1
                        w.writerow([f"doc{d}", f"s{n}", f"{phrase} ({d}.{rep})", "ann", label])
    return path


def test_study_confidence_refers_to_the_pool_the_seeds_came_from(tmp_path: Path) -> None:
    units = embed_units(load_units(_skewed_csv(tmp_path / "coded.csv")), HashingEmbedder(128))
    ref = units.reference()
    labels = ["common", "rare"]
    idx = sample_seeds(units, 12, np.random.default_rng(0), labels)  # balanced seeds
    model, cert = fit_calibrated(units, idx, labels, target=0.6)
    assert model.dimension().prior_weights is not None
    pool = label_mix(ref, model.value_classes())
    weights = model.dimension().prior_weights
    assert weights / weights.sum() == pytest.approx(pool)
    assert cert is not None and (cert.effective_n is not None or not cert.certified)
    got = predict(model, units.batch())
    proba = model.predict_value_proba(units.batch())
    top, conf = top_label_confidence(proba, model.dimension().prior_weights)
    assert got.labels == [model.value_classes()[i] for i in top]
    assert got.confidence == pytest.approx(conf)
    # suggestions carry the same confidence, and the weights survive save/load
    ids = [f"u{i}" for i in range(len(units))]
    sugg = [s for s in model.suggest(units.batch(), ids) if s.dimension != "code"]
    assert [s.probability for s in sugg] == pytest.approx(conf.tolist())
    path = model.save(tmp_path / "bundle")
    again = SuggesterModel.load(path)
    assert again.dimension().prior_weights == pytest.approx(model.dimension().prior_weights)
    assert again.content_hash() == model.content_hash()


def test_natural_seeds_are_not_reweighted_but_confidence_still_uses_their_mix(
        tmp_path: Path) -> None:
    """Every unit a seed (as in a project): certification is unweighted, and the balanced
    estimator's confidences are moved to the seeds' own label mix."""
    units = embed_units(load_units(_skewed_csv(tmp_path / "coded.csv")), HashingEmbedder(128))
    model, cert = fit_calibrated(units, np.arange(len(units)), ["common", "rare"], target=0.6)
    assert cert is not None and cert.effective_n is None
    assert model.dimension().prior_weights is not None
    mix = label_mix(units.reference(), model.value_classes())
    weights = model.dimension().prior_weights
    assert weights / weights.sum() == pytest.approx(mix)
