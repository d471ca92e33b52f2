"""Linear classifiers on embeddings, following scikit-learn's estimator contract.

Hyper-parameters are set only in ``__init__``; ``fit`` returns ``self``;
learned attributes end in ``_``. Both estimators accept dense or CSR sparse
input, fit scikit-learn's ``LogisticRegression`` and keep only its coefficients,
so predictions are plain numpy and the learned state round-trips through JSON + ``.npz``
(:meth:`get_learned_state` / :meth:`from_learned_state`) without pickle. Their
probabilities are uncalibrated: calibration is its own step around the fitted model
(:func:`isp_nlp.suggest.out_of_fold.fit_calibrate_certify`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

_LABEL_KINDS = {"str": str, "int": int, "float": float, "bool": bool}


def _logistic(C: float, class_weight: Any, max_iter: int) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter)


def _json_labels(classes: np.ndarray) -> tuple[str, list[Any]]:
    """Encode class labels as (kind, JSON list); only str/int/float/bool labels are portable."""
    values = classes.tolist()
    kinds = {type(v).__name__ for v in values}
    if len(kinds) != 1 or next(iter(kinds)) not in _LABEL_KINDS:
        raise ValueError(f"class labels of types {sorted(kinds)} cannot be saved without pickle")
    return next(iter(kinds)), values


def _check_matrix(name: str, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.asarray(array, dtype=np.float64)
    if out.shape != shape:
        raise ValueError(f"array {name} has shape {out.shape}, expected {shape}")
    return out


def _indicator_matrix(Y: np.ndarray) -> np.ndarray:
    """Return ``Y`` as an int8 (n_samples, n_codes) 0/1 matrix; ValueError names what is wrong."""
    if Y.ndim != 2:
        hint = ("Only binary classification is supported (one 0/1 column per code). "
                if type_of_target(Y) == "multiclass" else "")
        raise ValueError(
            f"{hint}CodeSuggester.fit expects Y as a 2-D binary indicator matrix "
            "(n_samples, n_codes), got a 1-D target; reshape one code's column to (-1, 1)"
        )
    if not np.isin(Y, (0, 1)).all():
        found = np.unique(Y)[:5].tolist()
        raise ValueError(f"CodeSuggester.fit expects Y to contain only 0 and 1, found {found}")
    return Y.astype(np.int8)


class ValueClassifier(ClassifierMixin, BaseEstimator):
    """Single-label classifier (multinomial logistic regression) for one dimension's values.

    ``predict_proba`` columns follow ``classes_``.
    """

    def __init__(self, C: float = 1.0, class_weight: Any = "balanced", max_iter: int = 1000):
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X: Any, y: Any) -> ValueClassifier:
        X, y = validate_data(self, X, y, dtype=np.float64, accept_sparse="csr")
        check_classification_targets(y)
        lr = _logistic(self.C, self.class_weight, self.max_iter).fit(X, y)
        self.classes_ = lr.classes_
        self.coef_ = np.asarray(lr.coef_, dtype=np.float64)
        self.intercept_ = np.asarray(lr.intercept_, dtype=np.float64)
        self.n_iter_ = np.asarray(lr.n_iter_)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, accept_sparse="csr")
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        return softmax(scores, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def get_learned_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return (JSON-safe state, numpy arrays) describing the fitted model."""
        check_is_fitted(self)
        kind, labels = _json_labels(self.classes_)
        state = {"classes": labels, "label_kind": kind, "n_features_in": int(self.n_features_in_)}
        arrays = {"coef_": self.coef_, "intercept_": self.intercept_}
        return state, arrays

    @classmethod
    def from_learned_state(
        cls, params: Mapping[str, Any], state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> ValueClassifier:
        """Rebuild a fitted estimator; raises ValueError/KeyError on inconsistent input."""
        est = cls(**params)
        kind = _LABEL_KINDS[state["label_kind"]]
        classes = np.asarray([kind(v) for v in state["classes"]])
        n_features = int(state["n_features_in"])
        if len(classes) < 2:
            raise ValueError("a value classifier needs at least two classes")
        n_rows = 1 if len(classes) == 2 else len(classes)
        est.classes_ = classes
        est.coef_ = _check_matrix("coef_", arrays["coef_"], (n_rows, n_features))
        est.intercept_ = _check_matrix("intercept_", arrays["intercept_"], (n_rows,))
        est.n_features_in_ = n_features
        return est


class CodeSuggester(ClassifierMixin, BaseEstimator):
    """Multi-label classifier: one balanced logistic regression per code (one-vs-rest).

    ``fit(X, Y)`` takes a binary indicator matrix ``Y`` of shape
    (n_samples, n_codes); ``classes_`` is ``arange(n_codes)`` as in
    scikit-learn's ``OneVsRestClassifier``. A column with only positives or
    only negatives in training is not fitted: its probability is its training
    prevalence (1.0 or 0.0) for every input (``fitted_mask_`` is False there, and
    ``n_iter_``, the solver's iterations per code, is 0).
    """

    def __init__(
        self,
        C: float = 1.0,
        class_weight: Any = "balanced",
        max_iter: int = 1000,
        threshold: float = 0.5,
    ):
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.threshold = threshold

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Y is an indicator matrix: several outputs, never a 1-D target, each output binary.
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags

    def fit(self, X: Any, Y: Any, known: Any = None) -> CodeSuggester:
        """Fit one regression per code; ``known`` (boolean, shape of ``Y``; None: all
        True) marks the entries that are labels: code j fits on the rows known for it."""
        X, Y = validate_data(self, X, Y, multi_output=True, dtype=np.float64,
                             accept_sparse="csr")
        check_classification_targets(Y)
        Y = _indicator_matrix(np.asarray(Y))
        n_codes = Y.shape[1]
        mask = np.ones(Y.shape, dtype=bool) if known is None else np.asarray(known, dtype=bool)
        if mask.shape != Y.shape:
            raise ValueError(f"CodeSuggester.fit expects known of shape {Y.shape}, "
                             f"got {mask.shape}")
        coef = np.zeros((n_codes, X.shape[1]))
        intercept = np.zeros(n_codes)
        seen = np.maximum(mask.sum(axis=0), 1)
        prior = (np.where(mask, Y, 0).sum(axis=0) / seen).astype(np.float64)
        fitted = np.zeros(n_codes, dtype=bool)
        n_iter = np.zeros(n_codes, dtype=np.int64)

        for j in range(n_codes):
            rows = mask[:, j]
            column = Y[rows, j]
            if not len(column) or column.min() == column.max():
                continue
            lr = _logistic(self.C, self.class_weight, self.max_iter).fit(
                X if rows.all() else X[rows], column)
            coef[j] = lr.coef_[0]
            intercept[j] = lr.intercept_[0]
            n_iter[j] = int(np.max(lr.n_iter_))
            fitted[j] = True
        self.classes_ = np.arange(n_codes)
        self.coef_ = coef
        self.intercept_ = intercept
        self.prior_ = prior
        self.fitted_mask_ = fitted
        self.n_iter_ = n_iter
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return (n_samples, n_codes) probabilities that each code applies."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, accept_sparse="csr")
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        return np.where(self.fitted_mask_, expit(scores), self.prior_)

    def predict(self, X: Any) -> np.ndarray:
        """Return the (n_samples, n_codes) indicator matrix ``proba >= threshold``."""
        return (self.predict_proba(X) >= self.threshold).astype(np.int64)

    def get_learned_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return (JSON-safe state, numpy arrays) describing the fitted model."""
        check_is_fitted(self)
        state = {"n_codes": int(len(self.classes_)), "n_features_in": int(self.n_features_in_)}
        arrays = {
            "coef_": self.coef_,
            "intercept_": self.intercept_,
            "prior_": self.prior_,
            "fitted_mask_": self.fitted_mask_,
        }
        return state, arrays

    @classmethod
    def from_learned_state(
        cls, params: Mapping[str, Any], state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> CodeSuggester:
        """Rebuild a fitted estimator; raises ValueError/KeyError on inconsistent input."""
        est = cls(**params)
        n_codes, n_features = int(state["n_codes"]), int(state["n_features_in"])
        est.classes_ = np.arange(n_codes)
        est.coef_ = _check_matrix("coef_", arrays["coef_"], (n_codes, n_features))
        est.intercept_ = _check_matrix("intercept_", arrays["intercept_"], (n_codes,))
        est.prior_ = _check_matrix("prior_", arrays["prior_"], (n_codes,))
        mask = np.asarray(arrays["fitted_mask_"])
        if mask.shape != (n_codes,) or mask.dtype != np.bool_:
            raise ValueError(f"array fitted_mask_ has shape {mask.shape}, expected ({n_codes},)")
        est.fitted_mask_ = mask
        est.n_features_in_ = n_features
        return est
