"""The loop learns: assisted codes and rejects train the model, while calibration and
certification score only independent codes (issue 22, item 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.pipeline import load_latest_model, suggest_project, train_project
from isp_nlp.records import (
    CERTIFYING_SOURCES,
    LEARNING_SOURCES,
    TRAINING_SOURCES,
    Annotation,
    Decision,
    Segment,
)
from isp_nlp.review.items import build_review_items
from isp_nlp.review.session import snapshot
from isp_nlp.store.decisions import DecisionLog, Rejection
from isp_nlp.store.folder import open_project
from isp_nlp.suggest.estimators import CodeSuggester
from isp_nlp.suggest.out_of_fold import out_of_fold
from isp_nlp.suggest.trainer import train_single_label
from isp_nlp.suggest.training_data import merge_labels
from tests.builders.coded_projects import coded_project


def _segments(n: int = 4) -> list[Segment]:
    return [Segment(f"s{i}", f"d{i % 2}", i, i, "turn", "P1", 0, 5, f"text {i}")
            for i in range(n)]


def test_learning_sources_add_assisted_to_the_training_sources() -> None:
    assert LEARNING_SOURCES == ("human", "consensus", "assisted")
    assert set(TRAINING_SOURCES) < set(LEARNING_SOURCES)
    assert "assisted" not in CERTIFYING_SOURCES


def test_assisted_rows_learn_but_are_not_independent() -> None:
    segs = _segments()
    anns = [Annotation("s0", "ana", "code", "a", "human"),
            Annotation("s1", "ana", "code", "b", "assisted"),
            Annotation("s2", "ana", "code", "a", "human"),
            Annotation("s2", "ben", "code", "b", "assisted")]
    ts = merge_labels(segs, anns, sources=LEARNING_SOURCES)
    rows = {s.id: i for i, s in enumerate(ts.segments)}
    assert sorted(rows) == ["s0", "s1", "s2"]
    assert [ts.is_independent(rows[s]) for s in ("s0", "s1", "s2")] == [True, False, True]
    # On s2 the independent code outranks the assisted one (ben's is left out).
    assert ts.code_sets[rows["s2"]] == {"a"} and set(ts.coder_codes[rows["s2"]]) == {"ana"}
    assert ts.code_sets[rows["s1"]] == {"b"}
    assert ts.learned_from() == {"independent": 2, "assisted": 1, "rejected": 0}
    assert [s.id for s in merge_labels(segs, anns).segments] == ["s0", "s2"]


def test_a_reject_is_a_negative_for_its_codes_and_unknown_for_the_rest() -> None:
    segs = _segments()
    anns = [Annotation("s0", "ana", "code", "a", "human")]
    rejects = [Rejection("s3", "ana", ("a",), "m1"), Rejection("s3", "ben", ("b",), "m1"),
               Rejection("s0", "ana", ("a",), "m1"),  # s0 is coded: its codes win
               Rejection("s1", "ana", (), "m1")]  # nothing suggested: nothing learned
    ts = merge_labels(segs, anns, ["stage"], sources=LEARNING_SOURCES, rejects=rejects)
    rows = {s.id: i for i, s in enumerate(ts.segments)}
    assert sorted(rows) == ["s0", "s3"]
    r = rows["s3"]
    assert ts.code_sets[r] == frozenset() and ts.known_codes(r) == {"a", "b"}
    assert ts.values["stage"][r] is None and not ts.is_independent(r)
    assert ts.known_codes(rows["s0"]) is None
    assert ts.learned_from() == {"independent": 1, "assisted": 0, "rejected": 1}


def test_an_unknown_code_entry_does_not_train_that_code() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    Y = np.column_stack([(X[:, 0] > 0), (X[:, 1] > 0)]).astype(int)
    known = np.ones_like(Y, dtype=bool)
    known[:10, 0] = False  # rows 0-9 say nothing of code 0
    Y_noisy = Y.copy()
    Y_noisy[:10, 0] = 1 - Y_noisy[:10, 0]
    masked = CodeSuggester().fit(X, Y_noisy, known)
    subset = CodeSuggester().fit(X[10:], Y[10:])
    np.testing.assert_allclose(masked.coef_[0], subset.coef_[0])
    full = CodeSuggester().fit(X, Y)
    np.testing.assert_allclose(masked.coef_[1], full.coef_[1])
    with pytest.raises(ValueError, match="known of shape"):
        CodeSuggester().fit(X, Y, known[:5])


def test_unevaluated_rows_train_every_other_fold_and_are_never_scored() -> None:
    n = 24
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 6))
    docs = [f"d{i % 6}" for i in range(n)]
    y = ["x" if X[i, 0] > 0 else "y" for i in range(n)]
    batch = SegmentBatch(tuple(f"s{i}" for i in range(n)), tuple(f"t {i}" for i in range(n)), X)
    evaluated = [i % 3 != 0 for i in range(n)]  # every third row: assisted
    seen: list[np.ndarray] = []

    def fit(rows: np.ndarray):
        seen.append(rows)
        return train_single_label(batch.subset(rows), [y[i] for i in rows], dimension="d")

    pred = out_of_fold(fit, batch, docs, 3, value_classes={"d": ["x", "y"]},
                       evaluated=evaluated)
    held = np.concatenate(pred.fold_rows)
    assert sorted(held.tolist()) == [i for i in range(n) if evaluated[i]]
    P = pred.value_proba["d"]
    assert np.isnan(P[[i for i in range(n) if not evaluated[i]]]).all()
    assert not np.isnan(P[held]).any()
    for rows, test in zip(seen, pred.fold_rows, strict=True):
        out_docs = {docs[i] for i in test}
        assert {docs[i] for i in rows}.isdisjoint(out_docs)
        assistants = [i for i in range(n) if not evaluated[i] and docs[i] not in out_docs]
        assert set(assistants) <= set(rows.tolist())


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict, list[str]]:
    """A project trained on two documents' seeds, whose third document a coder reviewed
    (accepts, one relabel, one reject), then trained again."""
    path, _, _ = coded_project(tmp_path_factory.mktemp("loop"), leave_out="site2")
    with open_project(path) as store:
        first = train_project(store)
        suggest_project(store)
        items = build_review_items(store, "cleo")
        log = DecisionLog(store)
        decided = []
        for n, item in enumerate(items[:8]):
            action = "reject" if n == 0 else "relabel" if n == 1 else "accept"
            codes = ("funding",) if action == "relabel" else (
                item.suggested_codes if action == "accept" else ())
            log.record(Decision("cleo", item.key, item.segment.id, action, codes,
                                item.model_id, suggestion=snapshot(item)))
            decided.append(item.segment.id)
        if not items[0].suggested_codes:
            pytest.fail("the first item suggests no code, so its reject teaches nothing")
        second = train_project(store)
    return path, first, second, decided


def test_train_learns_from_assisted_codes_and_rejects(reviewed) -> None:
    path, first, second, decided = reviewed
    assert first["learned_from"] == {"independent": first["segments"], "assisted": 0,
                                     "rejected": 0}
    assert second["learned_from"] == {"independent": first["segments"], "assisted": 7,
                                      "rejected": 1}
    assert second["segments"] == first["segments"] + 8
    with open_project(path) as store:
        model = load_latest_model(store)
        assert model.manifest["learned_from"] == second["learned_from"]
        assert set(decided) <= set(model.exemplar_ids)
        assert "funding" in (model.exemplar_codes[model.exemplar_ids.index(decided[1])] or ())
        # Out-of-fold rows (agreement, calibration, certification): independent codes only.
        scored = {s.segment_id for s in store.out_of_fold(second["model_id"],
                                                         with_evidence=False)}
    assert scored and scored.isdisjoint(decided)

