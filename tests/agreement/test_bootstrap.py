"""Tests for isp_nlp.agreement.bootstrap: resampling arithmetic, seeding, documents, speed."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from isp_nlp.agreement.bootstrap import bootstrap, cluster_sums, percentile_interval, resampled_sums
from isp_nlp.agreement.coefficients import METRICS, unit_stats
from isp_nlp.agreement.ratings import encode
from isp_nlp.errors import IspNlpError


def _simulated(n_units: int, n_coders: int, agree: float, seed: int, missing: float = 0.1):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n_units)
    noise = rng.integers(0, 4, (n_units, n_coders))
    table = np.where(rng.random((n_units, n_coders)) < agree, truth[:, None], noise).astype(float)
    table[rng.random(table.shape) < missing] = np.nan
    return table


def test_resampled_sums_equal_explicit_resamples() -> None:
    values = np.random.default_rng(0).random((50, 3))
    sums = resampled_sums(values, n_resamples=20, seed=7)
    draws = np.random.default_rng(7).integers(0, 50, size=(20, 50))
    assert np.allclose(sums, values[draws].sum(axis=1))


def test_resampled_sums_chunks_match_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from isp_nlp.agreement import bootstrap as b

    values = np.random.default_rng(1).random((40, 2))
    whole = resampled_sums(values, n_resamples=30, seed=3)
    monkeypatch.setattr(b, "_CHUNK_CELLS", 40 * 7)  # 7 resamples per chunk
    assert np.allclose(resampled_sums(values, n_resamples=30, seed=3), whole)


def test_seeded_interval_is_reproducible_and_contains_estimate() -> None:
    stats = unit_stats(encode(_simulated(400, 3, 0.7, 1)), "alpha")
    first = bootstrap(stats, seed=42)
    assert first == bootstrap(stats, seed=42)
    assert first != bootstrap(stats, seed=43)
    assert first.ci_low < first.value < first.ci_high
    wide = bootstrap(stats, seed=42, level=0.99)
    narrow = bootstrap(stats, seed=42, level=0.80)
    assert wide.ci_low < first.ci_low < narrow.ci_low < narrow.ci_high < first.ci_high \
        < wide.ci_high
    assert json.dumps(first.to_dict(), allow_nan=False)


def test_interval_width_shrinks_with_more_units() -> None:
    small = bootstrap(unit_stats(encode(_simulated(200, 3, 0.7, 2)), "ac1"), seed=0)
    large = bootstrap(unit_stats(encode(_simulated(5000, 3, 0.7, 2)), "ac1"), seed=0)
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low) / 3


def test_document_bootstrap_resamples_whole_documents() -> None:
    # Ten documents with very different agreement: between-document spread must widen
    # the document-level interval compared with the segment-level one.
    tables = [_simulated(100, 2, agree, seed=i, missing=0) for i, agree in
              enumerate(np.linspace(0.2, 0.95, 10))]
    stats = unit_stats(encode(np.vstack(tables)), "kappa")
    docs = np.repeat([f"d{i}" for i in range(10)], 100)
    by_segment = bootstrap(stats, seed=5)
    by_document = bootstrap(stats, seed=5, groups=docs)
    assert by_document.value == by_segment.value
    assert (by_document.ci_high - by_document.ci_low) > 2 * (by_segment.ci_high
                                                             - by_segment.ci_low)
    sums = cluster_sums(stats.values, docs)
    assert sums.shape == (10, stats.values.shape[1])
    assert np.allclose(sums.sum(axis=0), stats.values.sum(axis=0))
    with pytest.raises(IspNlpError, match="unit-to-document map has 3 entries"):
        bootstrap(stats, groups=["a", "b", "c"])


def test_undefined_estimate_and_undefined_resamples() -> None:
    constant = unit_stats(encode(np.ones((20, 2))), "alpha")
    est = bootstrap(constant, seed=0)
    assert math.isnan(est.value) and math.isnan(est.ci_low) and "every coding" in est.note
    assert est.to_dict()["value"] is None
    # One disagreement among 20 units: many resamples miss it and alpha is undefined there.
    table = np.ones((20, 2))
    table[0, 0] = 2
    rare = bootstrap(unit_stats(encode(table), "alpha"), seed=0)
    assert not math.isnan(rare.value)
    assert "resamples undefined and left out" in rare.note


def test_bad_options_raise_domain_errors() -> None:
    stats = unit_stats(encode(_simulated(30, 2, 0.7, 0)), "kappa")
    with pytest.raises(IspNlpError, match="confidence level 1.5"):
        bootstrap(stats, level=1.5)
    with pytest.raises(IspNlpError, match="resamples is 0"):
        bootstrap(stats, n_resamples=0)
    assert percentile_interval(np.array([np.nan, np.inf])) != percentile_interval(np.ones(3))
    assert all(math.isnan(x) for x in percentile_interval(np.array([np.nan])))


def test_speed_1000_resamples_of_10000_units_by_3_coders() -> None:
    ratings = encode(_simulated(10_000, 3, 0.75, 9))
    start = time.perf_counter()
    for metric in ("alpha", "ac1"):
        bootstrap(unit_stats(ratings, metric), seed=0, n_resamples=1000)
    assert time.perf_counter() - start < 10.0  # budget per metric is 10 s; both must fit


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_bootstraps(metric: str) -> None:
    est = bootstrap(unit_stats(encode(_simulated(300, 3, 0.8, 4)), metric), seed=1,
                    n_resamples=200)
    assert est.ci_low <= est.value <= est.ci_high
    assert est.n_coders == 3 and 0 < est.n_units <= 300


def test_seeded_weights_are_reused_and_read_only() -> None:
    from isp_nlp.agreement import bootstrap as b

    a = np.random.default_rng(2).random((30, 2))
    c = np.random.default_rng(3).random((30, 4))
    sums_a = resampled_sums(a, n_resamples=25, seed=11)
    sums_c = resampled_sums(c, n_resamples=25, seed=11)
    draws = np.random.default_rng(11).integers(0, 30, size=(25, 30))
    assert np.allclose(sums_a, a[draws].sum(axis=1))  # same draws for every statistic
    assert np.allclose(sums_c, c[draws].sum(axis=1))
    weights = b._seeded_weights(30, 25, 11)
    assert not weights.flags.writeable and weights.sum() == 25 * 30
    assert not np.allclose(resampled_sums(a, n_resamples=25, seed=12), sums_a)


def test_bootstrap_many_shares_draws_and_matches_one_at_a_time() -> None:
    import pandas as pd

    from isp_nlp.agreement.bootstrap import bootstrap_many

    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, 400)
    other = np.where(rng.random(400) < 0.7, truth, rng.integers(0, 3, 400))
    table = pd.DataFrame({"a": truth, "b": other}).astype(object)
    ratings = encode(table, categories=(0, 1, 2))
    stats = [unit_stats(ratings, m, level="nominal") for m in ("percent", "kappa", "alpha")]
    together = bootstrap_many(stats, n_resamples=300, seed=7)
    for s, est in zip(stats, together, strict=True):
        alone = bootstrap(s, n_resamples=300, seed=7)
        assert est.metric == alone.metric and est.value == alone.value
        assert abs(est.ci_low - alone.ci_low) < 1e-12 and abs(est.ci_high - alone.ci_high) < 1e-12
