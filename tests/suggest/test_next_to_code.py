"""isp_nlp.suggest.next_to_code: uncertainty + diversity selection, and the project wrapper."""

from __future__ import annotations

import numpy as np
import pytest

from isp_nlp.pipeline import next_to_code
from isp_nlp.records import Suggestion
from isp_nlp.suggest.next_to_code import (
    balanced_next,
    rank_next,
    segment_uncertainty,
    select_next,
)


def clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four tight clusters of 25 points each on orthogonal axes."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:4]
    labels = np.repeat(np.arange(4), 25)
    return centres[labels] + 0.05 * rng.normal(size=(100, 8)), labels


def test_diversity_alone_covers_every_cluster_and_is_seeded() -> None:
    X, labels = clusters()
    pick = select_next(X, None, 4, seed=1)
    assert sorted(labels[pick]) == [0, 1, 2, 3]
    assert pick == select_next(X, None, 4, seed=1)
    assert len(set(pick)) == 4


def test_already_coded_clusters_are_avoided() -> None:
    X, labels = clusters()
    coded = X[[0, 1, 30]]  # clusters 0 and 1
    pick = select_next(X, None, 2, coded, seed=0)
    assert sorted(labels[pick]) == [2, 3]


def test_uncertainty_orders_the_uncovered_regions() -> None:
    X, labels = clusters()
    for unsure in (2, 3):
        u = np.where(labels == unsure, 0.9, 0.1)
        picks = rank_next(X, u, 4)
        assert labels[picks[0].index] == unsure and picks[0].uncertainty == pytest.approx(0.9)
        assert sorted(labels[[p.index for p in picks]]) == [0, 1, 2, 3]
        coded = X[[0, 30]]  # clusters 0 and 1 are covered
        first = rank_next(X, u, 2, coded)
        assert [labels[p.index] for p in first] == [unsure, 5 - unsure]


def test_picks_are_typical_not_outliers() -> None:
    X, labels = clusters()
    X = np.vstack([X, np.eye(8)[7] * 3])  # a lone outlier far from every cluster
    picks = select_next(X, None, 4, seed=0)
    assert 100 not in picks


def test_edge_cases() -> None:
    X, _ = clusters()
    assert select_next(X, None, 0) == []
    assert len(select_next(X[:3], None, 10)) == 3
    with pytest.raises(ValueError):
        select_next(X, np.zeros(5), 2)


def test_segment_uncertainty_takes_the_least_sure_suggestion() -> None:
    s = [Suggestion("a", "m", "stage", "push", 0.9, True),
         Suggestion("a", "m", "code", "c1", 0.5, True),
         Suggestion("b", "m", "code", "c1", 0.95, True)]
    u = segment_uncertainty(s)
    assert u["a"] == pytest.approx(1.0) and u["b"] == pytest.approx(0.1)


def test_next_to_code_on_demo_project(project_copy) -> None:
    from isp_nlp.store.folder import open_project
    from isp_nlp.suggest.training_data import humanly_coded

    store = open_project(project_copy)
    try:
        rows = next_to_code(store, 5, seed=0)
        coded = humanly_coded(store.annotations())
    finally:
        store.close()
    assert len(rows) == 5
    assert not {r["segment_id"] for r in rows} & coded
    assert all(r["uncertainty"] is not None for r in rows)  # the demo has a trained model
    assert {"document", "segment_index", "speaker", "text", "score", "reason"} <= set(rows[0])
    # with stored code suggestions the balanced rule runs: reasons name a predicted code
    assert all("predicted" in r["reason"] for r in rows)
    assert sum(r["reason"].startswith("random draw") for r in rows) == round(5 * 0.5)


def three_labels(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """60 rows predicted as label 0, 1 or 2 (20 each); in each label, rows 0-9 are sure
    (p 0.9) and rows 10-19 unsure (p 0.4 vs 0.35 for the runner-up)."""
    X, _ = clusters(seed)
    X = X[:60]
    P = np.zeros((60, 3))
    for j in range(3):
        rows = np.arange(20 * j, 20 * j + 20)
        other = (j + 1) % 3
        P[rows[:10]] = 0.05
        P[rows[:10], j] = 0.9
        P[rows[10:]] = 0.25
        P[rows[10:], j], P[rows[10:], other] = 0.4, 0.35
    return X, P


def test_balanced_next_fills_the_least_coded_labels_with_unsure_rows() -> None:
    X, P = three_labels()
    picks = balanced_next(X, P, [10, 0, 1], 3, explore=0.0)
    predicted = [p.predicted for p in picks]
    # 3 slots even out (10, 0, 1): label 1 gets two, then label 2 one
    assert sorted(predicted) == [1, 1, 2]
    # each label's pool is its 5 x slots least sure rows: the unsure half
    assert all(p.index % 20 >= 10 for p in picks)
    assert len({p.index for p in picks}) == 3 and not any(p.explore for p in picks)
    more = [p.predicted for p in balanced_next(X, P, [10, 0, 3], 6, explore=0.0)]
    assert (more.count(0), more.count(1), more.count(2)) == (0, 5, 1)


def test_balanced_next_keeps_a_random_share_and_is_seeded() -> None:
    X, P = three_labels()
    picks = balanced_next(X, P, [0, 0, 0], 10, seed=3)
    assert sum(p.explore for p in picks) == 5
    assert len({p.index for p in picks}) == 10
    assert [p.index for p in picks] == [p.index for p in balanced_next(X, P, [0, 0, 0], 10,
                                                                        seed=3)]
    assert len(balanced_next(X, P, [0, 0, 0], 100)) == 60
    assert balanced_next(X, P, [0, 0, 0], 0) == []


def test_balanced_next_rejects_bad_shapes() -> None:
    X, P = three_labels()
    with pytest.raises(ValueError, match="coded_counts"):
        balanced_next(X, P, [0, 0], 3)
    with pytest.raises(ValueError, match="proba"):
        balanced_next(X, P[:10], [0, 0, 0], 3)
    with pytest.raises(ValueError, match="explore"):
        balanced_next(X, P, [0, 0, 0], 3, explore=1.5)


def test_backchannels_are_proposed_only_when_nothing_longer_is_left() -> None:
    from isp_nlp.records import Segment
    from isp_nlp.suggest.next_to_code import is_backchannel, worth_coding

    texts = ["Yeah.", "Right, right.", "Yeah, right.", "Mm-hmm.",
             "We started meeting the district teams every month after that.",
             "The coaching changed once they asked us for data."]
    todo = [Segment(f"s{i}", "d", i, i, "turn", "P1", 0, len(t), t) for i, t in enumerate(texts)]
    assert [is_backchannel(t) for t in texts] == [True, True, True, True, False, False]
    assert [s.id for s in worth_coding(todo, 2)] == ["s4", "s5"]
    assert len(worth_coding(todo, 5)) == 6  # too few longer ones: keep them all
