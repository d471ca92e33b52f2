"""scikit-learn's common estimator checks for ValueClassifier and CodeSuggester.

ValueClassifier passes every check. CodeSuggester declares what it is through its tags
(multi-output only, each output binary, multi-label), so the checks hand it 2-D targets.
The few checks below still assume a single-output classifier or a target that is not a
0/1 indicator; each is waived with its reason, and a local test below covers its intent
with a valid indicator matrix instead.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from isp_nlp.suggest.estimators import CodeSuggester, ValueClassifier

_ONE_D = ("passes a 1-D class target; CodeSuggester takes only a 2-D 0/1 indicator matrix "
          "(a 1-D target is refused by design)")
_ONE_TWO = ("its target takes the values 1 and 2, which is not a 0/1 indicator matrix "
            "(CodeSuggester refuses it by design)")
_CODE_WAIVED = {
    "check_classifiers_one_label": _ONE_D,
    "check_classifiers_classes": _ONE_D + "; classes_ are column indices, not label names",
    "check_class_weight_classifiers": _ONE_D,
    "check_classifiers_train": ("asserts predict has shape (n_samples,); a multi-label "
                                "predict has shape (n_samples, n_codes)"),
    "check_estimator_sparse_array": ("asserts predict_proba has shape (n_samples, 2) for a "
                                     "binary-only classifier; CodeSuggester returns one "
                                     "column per code, (n_samples, n_codes)"),
    "check_estimator_sparse_matrix": ("asserts predict_proba has shape (n_samples, 2) for a "
                                      "binary-only classifier; CodeSuggester returns one "
                                      "column per code, (n_samples, n_codes)"),
    "check_estimators_dtypes": _ONE_TWO,
    "check_classifier_data_not_an_array": _ONE_TWO,
    "check_fit2d_1feature": _ONE_TWO,
}


def _expected_failures(estimator: object) -> dict[str, str]:
    return _CODE_WAIVED if isinstance(estimator, CodeSuggester) else {}


@parametrize_with_checks([ValueClassifier(), CodeSuggester()],
                         expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# ---- what the waived checks test, with a valid indicator matrix ----------------------


def _blobs(n_codes: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable data: code j applies where the blob centre's coordinate j is positive."""
    centres = np.array([[3, 3], [3, -3], [-3, 3], [-3, -3]], dtype=float)[:, :n_codes]
    X, blob = make_blobs(n_samples=120, centers=centres, cluster_std=1.0, random_state=seed)
    return X, (centres[blob] > 0).astype(int)


def test_code_suggester_trains_like_a_multilabel_classifier() -> None:
    X, Y = _blobs()
    est = CodeSuggester().fit(X, Y)
    np.testing.assert_array_equal(est.classes_, [0, 1])
    assert est.predict(X).shape == Y.shape and est.predict_proba(X).shape == Y.shape
    assert (est.predict(X) == Y).mean(axis=0).min() > 0.83
    np.testing.assert_array_equal(est.predict(X), est.predict_proba(X) >= est.threshold)
    assert (est.n_iter_ >= 1).all()
    with pytest.raises(ValueError):
        est.fit(X, Y[:-1])
    with pytest.raises(ValueError, match="features"):
        est.predict(X.T)


def test_code_suggester_refuses_one_label_targets_with_a_reason() -> None:
    X, Y = _blobs()
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        CodeSuggester().fit(X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match="found \\[1, 2\\]"):
        CodeSuggester().fit(X, Y + 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
def test_code_suggester_accepts_numeric_dtypes(dtype: type) -> None:
    X, Y = _blobs()
    est = CodeSuggester().fit((3 * X).astype(dtype), Y)
    assert est.predict_proba(X.astype(dtype)).dtype == np.float64


def test_code_suggester_accepts_sparse_frames_lists_and_one_feature() -> None:
    X, Y = _blobs()
    dense = CodeSuggester().fit(X, Y).predict_proba(X)
    for kind in (sparse.csr_matrix, sparse.csr_array):
        np.testing.assert_allclose(CodeSuggester().fit(kind(X), Y).predict_proba(kind(X)),
                                   dense, rtol=1e-6, atol=1e-8)
    frame = pd.DataFrame(X, columns=["a", "b"])
    np.testing.assert_allclose(
        CodeSuggester().fit(frame, pd.DataFrame(Y)).predict_proba(frame), dense)
    np.testing.assert_allclose(CodeSuggester().fit(X.tolist(), Y.tolist()).predict_proba(X),
                               dense)
    one = CodeSuggester().fit(X[:, :1], Y[:, :1])
    assert one.n_features_in_ == 1 and one.predict(X[:, :1]).shape == (len(X), 1)


def test_code_suggester_honours_a_class_weight_dict() -> None:
    X, Y = make_blobs(centers=2, random_state=0, cluster_std=20)
    est = CodeSuggester(class_weight={0: 1000, 1: 0.0001}).fit(X, Y.reshape(-1, 1))
    assert np.mean(est.predict(X) == 0) > 0.87
