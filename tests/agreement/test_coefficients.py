"""isp_nlp.agreement.coefficients: published worked examples, hand computations, properties."""

from __future__ import annotations

import math
from itertools import combinations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isp_nlp.agreement.coefficients import METRICS, coefficient, unit_stats
from isp_nlp.agreement.ratings import LEVELS, Ratings, encode
from isp_nlp.agreement.sets import (
    custom_distance_matrix,
    jaccard_distance,
    masi_distance,
    set_alpha,
)
from isp_nlp.errors import IspNlpError
from tests.builders.paths import SHARED

N = np.nan
# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability": 4 observers x 12 units.
K2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],  # A
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],  # B
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],  # C
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],  # D
]).T  # units x coders
K2011_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_all_levels_own_and_package(level: str) -> None:
    own, note = coefficient(K2011, "alpha", level=level)
    assert round(own, 3) == K2011_ALPHA[level] and note == ""
    package = krippendorff.alpha(reliability_data=K2011.T, level_of_measurement=level)
    assert round(package, 3) == K2011_ALPHA[level]
    assert own == pytest.approx(package, abs=1e-12)


def test_gwet_ac1_on_krippendorff_data() -> None:
    # Gwet (2014) multi-rater AC1 with missing ratings on the same data: 0.7754.
    # By hand: 11 units with 2+ ratings; per-unit agreement 1, .5, 1, 1, 1, 0, 1, .5, 1, 1, 1
    # -> p_a = 9/11 = .81818. pi_k = mean over the 12 rated units of r_ik / r_i
    # = (3, 3.25, 3.5, 1.25, 1) / 12; p_e = sum pi_k (1 - pi_k) / (5 - 1) = .19032;
    # AC1 = (.81818 - .19032) / (1 - .19032) = 0.77544.
    value, _ = coefficient(K2011, "ac1")
    assert round(value, 4) == 0.7754
    assert coefficient(K2011, "percent")[0] == pytest.approx(32 / 40)


FLEISS_1971 = np.array([  # 10 subjects x 5 categories, 14 raters each (Fleiss 1971, Wikipedia)
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


def _raters_from_counts(counts: np.ndarray) -> np.ndarray:
    return np.array([np.repeat(np.arange(counts.shape[1]), row) for row in counts], dtype=float)


def test_fleiss_1971_textbook() -> None:
    # By hand: column totals 20, 28, 39, 21, 32 of 140 -> p_j^2 sum = 4170/19600 = 0.21276.
    # Per subject sum n_ij^2 - 14: 182, 46, 56, 80, 60, 84, 44, 32, 52, 52 = 688;
    # P-bar = 688 / (10 * 14 * 13) = 0.37802; kappa = (0.37802 - 0.21276) / 0.78724 = 0.20993.
    value, note = coefficient(_raters_from_counts(FLEISS_1971), "fleiss")
    assert round(value, 3) == 0.210 and note == ""
    assert value == pytest.approx((688 / 1820 - 4170 / 19600) / (1 - 4170 / 19600))


def _two_by_two(yy: int, yn: int, ny: int, nn: int) -> np.ndarray:
    a = [1] * (yy + yn) + [0] * (ny + nn)
    b = [1] * yy + [0] * yn + [1] * ny + [0] * nn
    return np.array([a, b], dtype=float).T


def test_two_rater_textbook_values() -> None:
    # Wikipedia "Cohen's kappa": 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no; p_o = 0.7.
    table = _two_by_two(20, 5, 10, 15)
    assert coefficient(table, "kappa")[0] == pytest.approx(0.4)  # p_e = .5*.6 + .5*.4 = .5
    # Scott: pooled yes = (25 + 30) / 100 = .55 -> p_e = .3025 + .2025 = .505.
    assert coefficient(table, "pi")[0] == pytest.approx((0.7 - 0.505) / 0.495)
    # Two raters, full data: Fleiss' kappa equals Scott's pi.
    assert coefficient(table, "fleiss")[0] == pytest.approx((0.7 - 0.505) / 0.495)
    # Brennan-Prediger: p_e = 1/2.  AC1: p_e = 2 * .55 * .45 = .495.
    assert coefficient(table, "bp")[0] == pytest.approx(0.4)
    assert coefficient(table, "ac1")[0] == pytest.approx((0.7 - 0.495) / 0.505)
    # Krippendorff: n = 100 pairable values, off-diagonal coincidences 15 + 15 = 30,
    # n_yes = 55, n_no = 45: alpha = 1 - 99 * 30 / (2 * 55 * 45) = 1 - 2970 / 4950 = 0.4.
    assert coefficient(table, "alpha")[0] == pytest.approx(0.4)


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_matches_scikit_learn(weights: str) -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 300)
    a = np.clip(truth + rng.integers(-1, 2, 300), 1, 5)
    b = np.clip(truth + rng.integers(-2, 2, 300), 1, 5)
    level = "ordinal" if weights == "linear" else "interval"
    ours = coefficient(np.column_stack([a, b]), "kappa", level=level)[0]
    assert ours == pytest.approx(cohen_kappa_score(a, b, weights=weights))
    assert coefficient(np.column_stack([a, b]), "kappa")[0] == pytest.approx(
        cohen_kappa_score(a, b)
    )


def test_weighted_kappa_by_hand() -> None:
    # Two raters, 3 ordered categories, 4 units: (1,1), (1,2), (2,3), (3,3).
    # Linear weights w = 1 - |i-j|/2: p_o = (1 + .5 + .5 + 1)/4 = .75.
    # Margins A = (.5, .25, .25), B = (.25, .25, .5); p_e = sum w_ij a_i b_j
    # = .5(.25 + .125) + .25(.125 + .25 + .25) + .25(.125 + .5) = .1875 + .15625 + .15625 = .5.
    # kappa_w = (.75 - .5) / (1 - .5) = 0.5 (unweighted: p_o = .5, p_e = .3125 -> 0.2727).
    table = np.array([[1, 1], [1, 2], [2, 3], [3, 3]], dtype=float)
    assert coefficient(table, "kappa", level="ordinal")[0] == pytest.approx(0.5)
    assert coefficient(table, "kappa")[0] == pytest.approx((0.5 - 0.3125) / 0.6875)


def _reference_alpha(table: np.ndarray, delta) -> float:
    """Plain-Python coincidence-matrix alpha for cross-checking the vectorised code."""
    values = sorted({v for v in table.ravel() if v == v})
    o = {(c, k): 0.0 for c in values for k in values}
    for row in table:
        present = [v for v in row if v == v]
        m = len(present)
        if m < 2:
            continue
        for i, j in combinations(range(m), 2):
            o[present[i], present[j]] += 1 / (m - 1)
            o[present[j], present[i]] += 1 / (m - 1)
    n_c = {c: sum(o[c, k] for k in values) for c in values}
    n = sum(n_c.values())
    observed = sum(o[c, k] * delta(c, k) for c in values for k in values)
    expected = sum(n_c[c] * n_c[k] * delta(c, k) for c in values for k in values)
    return 1 - (n - 1) * observed / expected


def test_many_categories_path_matches_reference() -> None:
    rng = np.random.default_rng(5)
    table = rng.integers(0, 40, size=(60, 3)).astype(float)  # K^2 >> coders^2: pair loop
    table[rng.random(table.shape) < 0.2] = np.nan
    expected = _reference_alpha(table, lambda c, k: float(c != k))
    assert coefficient(table, "alpha")[0] == pytest.approx(expected)
    ratings = encode(table)
    square = custom_distance_matrix(ratings.categories, lambda c, k: (c - k) ** 2)
    ours = unit_stats(ratings, "alpha", distance=square).estimate()
    assert ours == pytest.approx(coefficient(table, "alpha", level="interval")[0])


def test_ordinal_alpha_matches_package_on_random_data() -> None:
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 6, 500)
    table = np.where(rng.random((500, 4)) < 0.7, truth[:, None], rng.integers(0, 6, (500, 4)))
    table = table.astype(float)
    table[rng.random(table.shape) < 0.15] = np.nan
    for level in LEVELS:
        package = krippendorff.alpha(reliability_data=table.T, level_of_measurement=level)
        assert coefficient(table, "alpha", level=level)[0] == pytest.approx(package)


def test_set_distances_and_set_alpha() -> None:
    a, b, c = frozenset("ab"), frozenset("a"), frozenset("bc")
    assert jaccard_distance(a, a) == 0 and jaccard_distance(frozenset(), frozenset()) == 0
    assert jaccard_distance(a, b) == pytest.approx(0.5)
    assert jaccard_distance(a, c) == pytest.approx(2 / 3)
    assert masi_distance(a, b) == pytest.approx(1 - 0.5 * 2 / 3)  # subset
    assert masi_distance(a, c) == pytest.approx(1 - (1 / 3) * (1 / 3))  # overlap
    assert masi_distance(b, frozenset("c")) == 1.0  # disjoint
    same = pd.DataFrame({"x": [a, b, c, np.nan], "y": [a, b, c, b]})
    assert set_alpha(same, "masi").estimate() == pytest.approx(1)
    mixed = pd.DataFrame({"x": [a, b, c, frozenset()], "y": [b, b, c, a], "z": [a, c, c, a]})
    jac, masi = set_alpha(mixed, "jaccard").estimate(), set_alpha(mixed, "masi").estimate()
    ids = {s: i for i, s in enumerate({*mixed.to_numpy().ravel()})}
    num = mixed.apply(lambda col: col.map(ids)).to_numpy(dtype=float)
    rev = {i: s for s, i in ids.items()}
    assert jac == pytest.approx(_reference_alpha(num, lambda p, q: jaccard_distance(rev[p],
                                                                                     rev[q])))
    assert masi == pytest.approx(_reference_alpha(num, lambda p, q: masi_distance(rev[p],
                                                                                   rev[q])))
    with pytest.raises(IspNlpError, match="set distance"):
        set_alpha(mixed, "cosine")


def test_undefined_and_bad_input_are_explained() -> None:
    one = coefficient(np.array([[1.0], [2.0]]), "alpha")
    assert math.isnan(one[0]) and "fewer than 2 coders" in one[1]
    apart = coefficient(np.array([[1.0, N], [N, 2.0]]), "kappa")
    assert math.isnan(apart[0]) and "no unit coded by at least 2" in apart[1]
    same = pd.DataFrame({"a": ["x"] * 4, "b": ["x"] * 4})
    for metric in ("kappa", "pi", "fleiss", "alpha"):
        value, note = coefficient(same, metric, categories=["x", "y"])
        assert math.isnan(value) and note == f"{metric} undefined: every coding is label x"
    # AC1 and Brennan-Prediger are defined (= 1) when every coding is the same label.
    assert coefficient(same, "ac1", categories=["x", "y"])[0] == pytest.approx(1)
    assert coefficient(same, "bp", categories=["x", "y"])[0] == pytest.approx(1)
    assert "2 categories" in coefficient(same, "ac1")[1]
    text = pd.DataFrame({"a": ["x", "y"], "b": ["x", "x"]})
    with pytest.raises(IspNlpError, match="'x' is not a number but interval"):
        coefficient(text, "alpha", level="interval")
    with pytest.raises(IspNlpError, match="negative"):
        coefficient(np.array([[-1.0, 2.0], [2.0, 2.0]]), "alpha", level="ratio")
    with pytest.raises(IspNlpError, match="metric 'cohen'"):
        coefficient(text, "cohen")
    with pytest.raises(IspNlpError, match="level 'cardinal'"):
        coefficient(text, "alpha", level="cardinal")
    with pytest.raises(IspNlpError, match="'y' is not among the declared categories"):
        encode(text, categories=["x"])
    with pytest.raises(IspNlpError, match="units x coders"):
        encode(np.zeros(3))


def test_ordinal_text_labels_use_declared_order() -> None:
    table = pd.DataFrame({"a": ["low", "mid", "high", "mid"], "b": ["low", "high", "high", "mid"]})
    ordered = coefficient(table, "alpha", level="ordinal", categories=["low", "mid", "high"])[0]
    numeric = table.replace({"low": 1, "mid": 2, "high": 3}).astype(float)
    assert ordered == pytest.approx(coefficient(numeric, "alpha", level="ordinal")[0])


# --------------------------------------------------------------------------- properties

LABELS = ["push", "push_pull", "exchange", "none"]


@st.composite
def tables(draw: st.DrawFn, perfect: bool = False) -> pd.DataFrame:
    n_units = draw(st.integers(min_value=2, max_value=15))
    n_coders = draw(st.integers(min_value=2, max_value=4))
    truth = draw(st.lists(st.sampled_from(LABELS), min_size=n_units, max_size=n_units))
    data = {}
    for c in range(n_coders):
        col = []
        for u in range(n_units):
            if draw(st.integers(0, 4)) == 0:
                col.append(None)
            else:
                col.append(truth[u] if perfect else draw(st.sampled_from(LABELS)))
        data[f"c{c}"] = col
    return pd.DataFrame(data)


def _same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-9)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(tables(perfect=True))
def test_perfect_agreement_gives_one(table: pd.DataFrame) -> None:
    ratings = encode(table, categories=LABELS)
    pairable = (ratings.data >= 0).sum(axis=1) >= 2
    used = np.unique(ratings.data[pairable][ratings.data[pairable] >= 0])
    for metric in METRICS:
        value, note = coefficient(ratings, metric)
        if not pairable.any():
            assert math.isnan(value) and note
        elif len(used) < 2 and metric in ("kappa", "pi", "fleiss", "alpha"):
            assert math.isnan(value) and "undefined" in note
        elif metric in ("kappa", "pi") and math.isnan(value):
            assert "no coder pair" in note or "every coding" in note
        else:
            assert value == pytest.approx(1), (metric, note)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(tables(), st.randoms(use_true_random=False))
def test_symmetric_in_coder_order(table: pd.DataFrame, rnd) -> None:
    order = list(table.columns)
    rnd.shuffle(order)
    for metric in METRICS:
        assert _same(coefficient(table, metric, categories=LABELS)[0],
                     coefficient(table[order], metric, categories=LABELS)[0]), metric


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(tables(), st.permutations(LABELS))
def test_invariant_to_renaming_labels(table: pd.DataFrame, perm: list[str]) -> None:
    rename = {k: f"x_{v}" for k, v in zip(LABELS, perm, strict=True)}
    renamed = table.apply(lambda col: col.map(lambda v: rename.get(v, v)))
    for metric in METRICS:
        assert _same(coefficient(table, metric, categories=LABELS)[0],
                     coefficient(renamed, metric, categories=list(rename.values()))[0]), metric


def test_ratings_select_and_counts() -> None:
    ratings = encode(pd.DataFrame({"a": ["x", "y", None], "b": ["x", None, "y"]}))
    assert isinstance(ratings, Ratings) and ratings.categories == ("x", "y")
    assert ratings.counts().tolist() == [[2, 0], [0, 1], [0, 1]]
    assert ratings.select(["b"]).data[:, 0].tolist() == [0, -1, 1]


# --------------------------------------------------------------------------- real data

ANNOMI = SHARED / "data" / "annomi" / "AnnoMI-full.csv"


def test_annomi_ten_annotators_own_alpha_matches_published() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared not found: real-data test needs the shared data folder")
    data = pd.read_csv(ANNOMI)
    data = data[data["transcript_id"].isin((7, 27, 55, 56, 66, 109, 130))]
    data = data.dropna(subset=["main_therapist_behaviour"])
    table = data.pivot_table(index=["transcript_id", "utterance_id"], columns="annotator_id",
                             values="main_therapist_behaviour", aggfunc="last")
    assert table.shape == (216, 10)
    # Published in ../shared/README.md: alpha 0.737 (10 annotators, 7 transcripts).
    assert coefficient(table, "alpha")[0] == pytest.approx(0.737, abs=5e-4)
