"""Mutually exclusive codes are never suggested together: the rule, and a small project
(hashing embedder) whose codebook marks training and coaching exclusive."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import tests.builders.coded_projects as cp
from isp_nlp.pipeline import (
    load_latest_model,
    make_embedder,
    segment_batch,
    suggest_project,
    train_project,
)
from isp_nlp.records import CODE_DIMENSION, Suggestion
from isp_nlp.store.folder import open_project
from isp_nlp.suggest.exclusive import exclusive_mask, exclusive_suggestions

PAIR = {"training", "coaching"}


def test_mask_keeps_the_most_probable_passing_code() -> None:
    labels = ["a", "b", "c", "d"]
    P = np.array([[0.6, 0.9, 0.7, 0.8],   # a, b, c pass: b wins; d is in no group
                  [0.6, 0.3, 0.7, 0.8],   # a and c pass: c wins
                  [0.6, 0.6, 0.1, 0.1],   # a tie goes to the code listed first
                  [0.6, 0.1, 0.1, 0.1]])  # one passes: left alone
    passed = P >= 0.5
    got = exclusive_mask(P, passed, labels, [("a", "b", "c")])
    assert got.tolist() == [[False, True, False, True], [False, False, True, True],
                            [True, False, False, False], [True, False, False, False]]
    assert passed.sum() == 10  # the input is not changed
    assert (exclusive_mask(P, passed, labels, ()) == passed).all()
    # a group naming codes the model does not score only applies to those it scores
    assert exclusive_mask(P, passed, labels, [("a", "zzz")]).tolist() == passed.tolist()


def _s(seg: str, label: str, p: float, on: bool, dim: str = CODE_DIMENSION) -> Suggestion:
    return Suggestion(seg, "m", dim, label, p, on)


def test_suggestion_lists_keep_probabilities_and_order() -> None:
    rows = [_s("x", "a", 0.7, True), _s("x", "b", 0.8, True), _s("x", "c", 0.4, False),
            _s("y", "a", 0.9, True), _s("y", "b", 0.2, False),
            _s("x", "a", 0.99, True, dim="stage")]  # another dimension: untouched
    got = exclusive_suggestions(rows, [("a", "b", "c")])
    assert [(s.segment_id, s.label, s.probability) for s in got] == [
        (s.segment_id, s.label, s.probability) for s in rows]
    assert [s.suggested for s in got] == [False, True, False, True, False, True]


def _codebook() -> str:
    head = "    definition: Ways of supporting practice.\n"
    assert head in cp.CODEBOOK
    return cp.CODEBOOK.replace(head, head + "    exclusive: true\n", 1)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds of site0 and site1 (ana gives some coaching turns training too), site2 left
    to suggest on; strategies (training, coaching) marked exclusive."""
    root = tmp_path_factory.mktemp("exclusive")
    book, cp.CODEBOOK = cp.CODEBOOK, _codebook()
    try:
        path = cp.seeded_project(root, rows=lambda rows: [r for r in rows
                                                          if r["document"] != "site2"])
    finally:
        cp.CODEBOOK = book
    with open_project(path) as store:
        train_project(store)
    return path


def _pairs(suggestions: Sequence[Suggestion]) -> tuple[int, int]:
    """(segments suggested both training and coaching, segments with any code)."""
    by: dict[str, set[str]] = {}
    for s in suggestions:
        if s.dimension == CODE_DIMENSION and s.suggested:
            by.setdefault(s.segment_id, set()).add(s.label)
    return sum(PAIR <= codes for codes in by.values()), len(by)


def test_the_project_never_suggests_both(project: Path) -> None:
    with open_project(project) as store:
        assert store.codebook().exclusive_groups == (("training", "coaching"),)
        # a low threshold lets both pass on most segments; the rule keeps one
        result = suggest_project(store, code_threshold=0.05)
        stored = store.suggestions(result["model_id"])
        model = load_latest_model(store).with_thresholds(code=0.05)
        segments = store.segments()
        targets = [s for s in segments if s.document == "site2" and s.codable]
        batch = segment_batch(targets, segments, make_embedder(cp.EMBEDDER),
                              store.embedding_cache())
    both, coded = _pairs(stored)
    assert both == 0 and coded == len(targets)
    free = model.suggest(batch, [s.id for s in targets])  # the same model, no groups
    assert _pairs(free)[0] > 0  # so the rule, not the data, kept them apart
    ruled = model.with_exclusive([("training", "coaching")]).suggest(
        batch, [s.id for s in targets])
    assert _pairs(ruled)[0] == 0
    assert [s.probability for s in ruled] == [s.probability for s in free]
    for s, f in zip(ruled, free, strict=True):  # only a loser of a pair is switched off
        if s.suggested != f.suggested:
            assert s.label in PAIR and f.suggested and not s.suggested


def test_out_of_fold_suggestions_follow_the_rule(project: Path) -> None:
    with open_project(project) as store:
        info = store.latest_model()
        assert info is not None
        oof = store.out_of_fold(info["id"])
    assert oof and _pairs(oof)[0] == 0


def test_evaluation_predicted_sets_follow_the_rule(project: Path) -> None:
    """``evaluate`` scores the sets :func:`predicted_sets` gives: the rule applies there."""
    from isp_nlp.suggest.out_of_fold import predicted_sets

    with open_project(project) as store:
        model = load_latest_model(store).with_thresholds(code=0.0)  # every code passes
    labels = model.code_labels
    P = np.full((2, len(labels)), 0.3)
    P[0, labels.index("coaching")] = 0.6
    P[1, labels.index("training")] = 0.6
    free = predicted_sets(model, P)
    assert all(PAIR <= set(s) for s in free)
    ruled = predicted_sets(model.with_exclusive([("training", "coaching")]), P)
    assert "coaching" in ruled[0] and "training" not in ruled[0]
    assert "training" in ruled[1] and "coaching" not in ruled[1]
    assert [set(s) - PAIR for s in ruled] == [set(s) - PAIR for s in free]
