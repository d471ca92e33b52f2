"""Calibration: temperature and Platt maps fitted on out-of-fold probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from isp_nlp.suggest.calibration import (
    apply_platt,
    apply_temperature,
    choose_code_threshold,
    fit_proba_platt,
    fit_proba_temperature,
)
from isp_nlp.suggest.estimators import CodeSuggester, ValueClassifier


def test_temperature_recovers_the_scale_of_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(4000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(logits, axis=1)])
    assert fit_proba_temperature(softmax(3.0 * logits, axis=1), y) == pytest.approx(3.0,
                                                                                   rel=0.15)
    assert fit_proba_temperature(softmax(logits, axis=1), y) == pytest.approx(1.0, rel=0.15)
    binary = rng.normal(scale=2.0, size=4000)
    yb = (rng.random(4000) < expit(binary)).astype(int)
    p = expit(0.5 * binary)
    assert fit_proba_temperature(np.column_stack([1 - p, p]), yb) == pytest.approx(0.5,
                                                                                  rel=0.15)


def test_platt_recovers_slope_and_offset() -> None:
    rng = np.random.default_rng(1)
    s = rng.normal(scale=3.0, size=5000)
    y = (rng.random(5000) < expit(0.5 * s - 1.0)).astype(int)
    (a, b), = fit_proba_platt(expit(s)[:, None], y[:, None])
    assert a == pytest.approx(0.5, abs=0.08) and b == pytest.approx(-1.0, abs=0.15)
    reversed_map = fit_proba_platt(expit(-s)[:, None], y[:, None])[0]
    assert reversed_map.tolist() == [1.0, 0.0]  # a reversing map is refused


def _noisy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.resize(np.array(["a", "b", "c"]), n)
    centres = {"a": 0, "b": 1, "c": 2}
    X = rng.normal(size=(n, 20))
    for i, label in enumerate(y):
        X[i, centres[label]] += 1.0
    return X, y


def _out_of_fold(estimator, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return cross_val_predict(estimator, X, y, method="predict_proba",
                             cv=StratifiedKFold(3, shuffle=True, random_state=0))


def test_calibrated_stage_classifier_keeps_argmax() -> None:
    X, y = _noisy(150, 2)
    raw = ValueClassifier(C=100.0).fit(X, y)
    t = fit_proba_temperature(_out_of_fold(ValueClassifier(C=100.0), X, y),
                              np.searchsorted(raw.classes_, y))
    assert t > 1.0  # weakly regularised LR on noise is overconfident
    X_test, y_test = _noisy(600, 3)
    before = raw.predict_proba(X_test)
    after = apply_temperature(before, t)
    np.testing.assert_array_equal(after.argmax(axis=1), before.argmax(axis=1))
    correct = raw.classes_[before.argmax(axis=1)] == y_test

    def gap(proba: np.ndarray) -> float:
        return abs(proba.max(axis=1).mean() - correct.mean())

    assert gap(after) < gap(before)


def test_calibrated_code_suggester_shrinks_overconfident_codes() -> None:
    X, y = _noisy(120, 4)
    Y = np.column_stack([y == "a", y == "b", np.zeros(len(y))]).astype(int)
    est = CodeSuggester(C=100.0)
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
    P = np.zeros(Y.shape)
    for train, test in folds:
        P[test] = est.fit(X[train], Y[train]).predict_proba(X[test])
    maps = fit_proba_platt(P, Y)
    assert maps.shape == (3, 2) and maps[2].tolist() == [1.0, 0.0]
    assert 0 < maps[0, 0] < 1.0  # overconfident scores are shrunk
    q = apply_platt(P, maps)
    assert (np.argsort(q[:, 0]) == np.argsort(P[:, 0])).mean() > 0.99  # ranking kept


def test_code_threshold_is_chosen_where_the_codes_agree_best() -> None:
    rng = np.random.default_rng(0)
    Y = (rng.random((200, 3)) < 0.2).astype(int)
    # under-confident scores: positives sit around 0.35, negatives around 0.1
    P = np.clip(np.where(Y == 1, 0.35, 0.1) + rng.normal(0, 0.03, Y.shape), 0, 1)
    t = choose_code_threshold(P, Y)
    assert t is not None and 0.2 <= t <= 0.3  # 0.5 would never suggest anything
    assert np.mean([(P[:, j] >= t) == Y[:, j] for j in range(3)]) > 0.95


def test_code_threshold_ties_go_to_the_threshold_nearest_one_half() -> None:
    Y = np.tile([[1, 0], [0, 1]], (20, 1))
    P = Y * 0.95 + (1 - Y) * 0.05  # every threshold in the grid separates perfectly
    assert choose_code_threshold(P, Y) == 0.5


@pytest.mark.parametrize("P, Y", [
    (np.full((10, 3), 0.5), np.eye(10, 3, dtype=int)),  # too few rows
    (np.full((40, 2), 0.5), np.column_stack([np.zeros(40), np.r_[np.ones(20), np.zeros(20)]])),
])
def test_code_threshold_needs_enough_rows_and_codes(P, Y) -> None:
    assert choose_code_threshold(P, Y) is None


def test_code_threshold_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal 2-D shapes"):
        choose_code_threshold(np.zeros((40, 2)), np.zeros((40, 3)))


def test_out_of_fold_codes_are_flagged_at_a_threshold_chosen_on_the_other_folds() -> None:
    from types import SimpleNamespace

    from isp_nlp.records import Suggestion
    from isp_nlp.suggest.project_fit import flag_out_of_fold as _flag_out_of_fold
    from isp_nlp.suggest.training_data import TrainingSet

    rng = np.random.default_rng(1)
    codes = ["a", "b"]
    ts = TrainingSet(segments=[], coders=[], code_sets=[])
    by_fold = []
    for fold, positive_p in enumerate((0.3, 0.7)):  # fold 0 wants ~0.25, fold 1 ~0.6
        suggestions = []
        for i in range(60):
            sid = f"f{fold}s{i}"
            present = {c for c in codes if rng.random() < 0.3}
            ts.segments.append(SimpleNamespace(id=sid))
            ts.code_sets.append(frozenset(present))
            for c in codes:
                p = positive_p if c in present else 0.1 * positive_p
                suggestions.append(Suggestion(sid, "m", "code", c, p, p >= 0.5))
        by_fold.append(suggestions)
    flagged = _flag_out_of_fold(ts, by_fold, codes, "m/cv", 0.5, choose=True)
    fold0 = [s for s in flagged if s.segment_id.startswith("f0")]
    fold1 = [s for s in flagged if s.segment_id.startswith("f1")]
    # fold 0 is flagged at fold 1's choice (above 0.3: nothing suggested), and vice versa
    assert not any(s.suggested for s in fold0)
    assert all(s.suggested == (s.probability == 0.7) for s in fold1)
    assert {s.model_id for s in flagged} == {"m/cv"}
    unchosen = _flag_out_of_fold(ts, by_fold, codes, "m/cv", 0.5, choose=False)
    assert all(s.suggested == (s.probability >= 0.5) for s in unchosen)
    # a code that was zero-shot in a fold's model keeps that model's floor
    floored = _flag_out_of_fold(ts, by_fold, codes, "m/cv", 0.5, choose=False,
                                floors=[{}, {"b": 0.8}])
    assert all(s.suggested == (s.probability >= (0.8 if s.segment_id.startswith("f1")
                                                 and s.label == "b" else 0.5))
               for s in floored)
    assert any(s.suggested for s in floored if s.label == "a" and s.segment_id[:2] == "f1")
