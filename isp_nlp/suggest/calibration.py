"""Probability calibration fitted on out-of-fold probabilities of the seed set.

With a few dozen seeds per class, logistic regression's probabilities are badly scaled
(balanced class weights and regularisation pull them towards uniform), so an abstain
threshold such as 0.5 means little. :func:`fit_proba_temperature` and
:func:`fit_proba_platt` fit a tiny monotone map on the *out-of-fold* probabilities that
:func:`isp_nlp.suggest.out_of_fold.fit_calibrate_certify` produces (folds grouped by
document): one temperature for a single-label model (argmax unchanged), one Platt sigmoid
``(a, b)`` per code. :func:`choose_code_threshold` picks the code threshold that agrees
best with the coders on those probabilities, :func:`choose_value_threshold` a single-choice
dimension's one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax

#: Code thresholds :func:`choose_code_threshold` tries (0.20, 0.25, ..., 0.80).
THRESHOLD_GRID = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))
#: Fewer out-of-fold rows than this, or fewer codes with positives than
#: MIN_THRESHOLD_CODES, and the default threshold is kept.
MIN_THRESHOLD_ROWS = 30
MIN_THRESHOLD_CODES = 2


def choose_code_threshold(proba: np.ndarray, Y: np.ndarray,
                          grid: tuple[float, ...] = THRESHOLD_GRID) -> float | None:
    """The threshold on out-of-fold code probabilities with the best mean per-code
    Cohen's kappa against the reference codes ``Y`` (0/1, same shape).

    Only codes with at least one positive and one negative reference row count. Ties go to
    the threshold nearest 0.5. None when there are too few rows or codes to choose from.
    """
    from sklearn.metrics import cohen_kappa_score

    P = np.asarray(proba, dtype=np.float64)
    Y = np.asarray(Y, dtype=int)
    if P.shape != Y.shape or P.ndim != 2:
        raise ValueError(f"proba has shape {P.shape} and Y {Y.shape}; expected equal 2-D shapes")
    usable = [j for j in range(Y.shape[1]) if 0 < Y[:, j].sum() < len(Y)]
    if len(Y) < MIN_THRESHOLD_ROWS or len(usable) < MIN_THRESHOLD_CODES:
        return None

    def score(t: float) -> float:
        return float(np.mean([cohen_kappa_score(Y[:, j], (P[:, j] >= t).astype(int))
                              for j in usable]))

    scores = {t: score(t) for t in grid}
    best = max(scores.values())
    return min((t for t in grid if scores[t] >= best - 1e-12), key=lambda t: abs(t - 0.5))


#: The share of a dimension's suggested values that should match the coders: two in three,
#: the reliability the former fixed stage threshold 0.4 was chosen for (evaluation/results/
#: tuning.md, "Stage threshold").
VALUE_PRECISION_TARGET = 2 / 3


def choose_value_threshold(top_proba: np.ndarray, correct: np.ndarray,
                           target: float = VALUE_PRECISION_TARGET,
                           grid: tuple[float, ...] = THRESHOLD_GRID) -> float | None:
    """The lowest threshold on out-of-fold top value probabilities at which the suggested
    values (probability >= threshold) match the coders' value at least ``target`` of the
    time, over at least ``MIN_THRESHOLD_ROWS`` suggestions. None when there are too few
    rows or no threshold reaches the target."""
    p = np.asarray(top_proba, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if p.shape != ok.shape or p.ndim != 1:
        raise ValueError(f"top_proba has shape {p.shape} and correct {ok.shape}; expected "
                         "equal 1-D shapes")
    for t in grid:
        covered = p >= t
        if covered.sum() < MIN_THRESHOLD_ROWS:
            return None
        if ok[covered].mean() >= target:
            return t
    return None


# --------------------------------------------------------------------------- post-hoc maps


def fit_proba_temperature(proba: np.ndarray, y_index: np.ndarray,
                          sample_weight: np.ndarray | None = None) -> float:
    """The temperature T > 0 minimising the (weighted) log-loss of
    ``softmax(log(proba) / T)`` on out-of-fold probabilities of the final single-label
    model (estimator and codebook prior mixed); 1.0 = unchanged."""
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0))
    y = np.asarray(y_index, dtype=int)
    rows = np.arange(len(y))
    w = (np.ones(len(rows)) if sample_weight is None
         else np.asarray(sample_weight, dtype=np.float64))
    w = w / w.sum()

    def loss(log_t: float) -> float:
        return float(-(w * log_softmax(logp / np.exp(log_t), axis=1)[rows, y]).sum())

    result = minimize_scalar(loss, bounds=(-4.0, 4.0), method="bounded")
    return float(np.exp(result.x))


# --------------------------------------------------------------------------- label mix

#: Pseudo-count added to every label when a label mix is counted (Jeffreys: no label is
#: ever impossible).
MIX_SMOOTHING = 0.5


def label_mix(labels: Sequence[object], classes: Sequence[str],
              smoothing: float = MIX_SMOOTHING) -> np.ndarray:
    """Smoothed share of each of ``classes`` among ``labels`` (others ignored)."""
    seen = Counter(labels)
    counts = np.array([seen.get(c, 0) for c in classes], dtype=np.float64) + smoothing
    return counts / counts.sum()


def balancing_weights(y_index: np.ndarray, n_classes: int) -> np.ndarray:
    """Per row, 1 / (rows of its class): every class weighs the same in total, as under
    the estimators' balanced class weights."""
    y = np.asarray(y_index, dtype=int)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return 1.0 / counts[y]


def top_label_confidence(proba: np.ndarray, prior_weights: np.ndarray | None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(column of each row's top label, the probability of that label under the label mix
    ``prior_weights`` stands for).

    The label is the argmax of ``proba`` (probabilities under the balanced, equal-prior
    training the estimators use, which is what keeps rare labels suggested). Its
    confidence is Bayes' rule moved to the population: ``proba * prior_weights``,
    renormalised, where ``prior_weights[j]`` = population share / training share of label
    j. None: the top probability itself.
    """
    P = np.asarray(proba, dtype=np.float64)
    top = P.argmax(axis=1)
    if prior_weights is None or P.shape[0] == 0:
        return top, P.max(axis=1) if P.shape[0] else np.zeros(0)
    adjusted = P * np.asarray(prior_weights, dtype=np.float64)
    total = adjusted.sum(axis=1)
    conf = adjusted[np.arange(len(P)), top] / np.where(total > 0, total, 1.0)
    return top, conf


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale single-label probabilities by a temperature (argmax unchanged)."""
    if temperature == 1.0:
        return proba
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0))
    z = logp / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _platt(logits: np.ndarray, y01: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the log-loss of sigmoid(a * logit + b), lightly regularised."""
    from scipy.optimize import minimize

    y = np.asarray(y01, dtype=np.float64)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    # Platt's smoothed targets keep the map finite on separable data.
    target = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = params
        p = np.clip(expit(a * logits + b), 1e-12, 1 - 1e-12)
        nll = -(target * np.log(p) + (1 - target) * np.log(1 - p)).mean()
        grad_z = (p - target) / len(y)
        return nll + 1e-3 * a * a, np.array([(grad_z * logits).sum() + 2e-3 * a, grad_z.sum()])

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    a, b = (float(v) for v in result.x)
    return (a, b) if a > 0 else (1.0, 0.0)  # a map that reverses the ranking is not used


def fit_proba_platt(proba: np.ndarray, Y: np.ndarray, min_rows: int = MIN_THRESHOLD_ROWS
                    ) -> np.ndarray:
    """(n_codes, 2) Platt maps ``sigmoid(a * logit(p) + b)`` fitted per code on out-of-fold
    code probabilities; the identity (1, 0) for a code with no positive or no negative,
    with fewer than ``min_rows`` rows, or whose map would reverse the ranking."""
    P, Y = np.asarray(proba, dtype=np.float64), np.asarray(Y, dtype=int)
    out = np.tile([1.0, 0.0], (P.shape[1], 1))
    if len(P) < min_rows:
        return out
    for j in range(P.shape[1]):
        if 0 < Y[:, j].sum() < len(Y):
            out[j] = _platt(_logit(P[:, j]), Y[:, j])
    return out


def apply_platt(proba: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Apply per-code Platt maps from :func:`fit_proba_platt`."""
    maps = np.asarray(maps, dtype=np.float64)
    if np.array_equal(maps, np.tile([1.0, 0.0], (len(maps), 1))):
        return proba
    return expit(maps[:, 0] * _logit(proba) + maps[:, 1])


# --------------------------------------------------------------------------- measuring


#: Equal-width confidence bins of :func:`expected_calibration_error`.
ECE_BINS = 10


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               bins: int = ECE_BINS) -> float | None:
    """ECE: the mean over equal-width confidence bins, weighted by their share of rows, of
    |mean confidence - mean correctness|. ``correct`` may be fractional (the share of
    coders who agree). None without rows."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if conf.shape != ok.shape or conf.ndim != 1:
        raise ValueError(f"confidence has shape {conf.shape} and correct {ok.shape}; "
                         "expected equal 1-D shapes")
    if len(conf) == 0:
        return None
    which = np.minimum((np.clip(conf, 0.0, 1.0) * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            total += rows.mean() * abs(conf[rows].mean() - ok[rows].mean())
    return float(total)
