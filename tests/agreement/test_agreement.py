"""Tests for isp_nlp.agreement: textbook kappa and alpha, coding tables, properties, the
reliability report and humans vs humans+model."""

from __future__ import annotations

import json
import math
import warnings
from itertools import combinations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isp_nlp.agreement.coefficients import UnitStats, coefficient, unit_stats
from isp_nlp.agreement.groups import ProjectAgreement, humans_and_model
from isp_nlp.agreement.ratings import encode
from isp_nlp.agreement.reliability import ReliabilityOptions
from isp_nlp.agreement.tables import HUMAN_HUMAN, MODEL_HUMAN, coding_tables
from isp_nlp.errors import IspNlpError
from tests.builders.paths import SHARED

FAST = ReliabilityOptions(metrics=("percent", "kappa", "alpha"), n_resamples=20, seed=0)


def _agreement(tables: dict[str, pd.DataFrame]) -> ProjectAgreement:
    return humans_and_model(tables, options=FAST)


def _pair(a: pd.Series, b: pd.Series) -> pd.Series:
    """The pair row (coders, n_units, percent_agreement, kappa, note) of two coders."""
    return _agreement({"stage": pd.concat([a, b], axis=1)}).pairs.iloc[0]


def _kappa(a: pd.Series, b: pd.Series) -> tuple[float, float, int]:
    """Cohen's kappa, percent agreement and units coded by both."""
    pair = pd.concat([a.rename("a"), b.rename("b")], axis=1)
    stats = unit_stats(encode(pair), "kappa")
    return stats.estimate(), coefficient(pair, "percent")[0], stats.n_units


def _alpha(table: pd.DataFrame, level: str = "nominal") -> UnitStats:
    return unit_stats(encode(table), "alpha", level=level)


def _percent(table: pd.DataFrame) -> float:
    return coefficient(table, "percent")[0]


def _package_alpha(table: pd.DataFrame, level: str = "nominal") -> float:
    """The ``krippendorff`` package's alpha (the test oracle) on category indices (nominal)
    or on the numeric labels."""
    ratings = encode(table)
    values = (np.arange(ratings.n_categories, dtype=float) if level == "nominal"
              else np.array(ratings.categories, dtype=float))
    matrix = np.where(ratings.data >= 0, values[np.clip(ratings.data, 0, None)], np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(krippendorff.alpha(reliability_data=matrix.T, level_of_measurement=level))


def _two_by_two(yy: int, yn: int, ny: int, nn: int) -> tuple[pd.Series, pd.Series]:
    """Two raters' series from a 2x2 table (rows: rater A, columns: rater B)."""
    a = ["yes"] * (yy + yn) + ["no"] * (ny + nn)
    b = ["yes"] * yy + ["no"] * yn + ["yes"] * ny + ["no"] * nn
    return pd.Series(a, name="A"), pd.Series(b, name="B")


def test_cohen_kappa_textbook_examples() -> None:
    # Wikipedia "Cohen's kappa", worked example: 50 proposals, both yes 20, A yes/B no 5,
    # A no/B yes 10, both no 15. p_o = 35/50 = 0.7; p_yes = 0.5*0.6 = 0.30,
    # p_no = 0.5*0.4 = 0.20, p_e = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    result = _pair(*_two_by_two(20, 5, 10, 15))
    assert result["n_units"] == 50
    assert result["percent_agreement"] == pytest.approx(0.7)
    assert result["kappa"] == pytest.approx(0.400, abs=5e-4)
    assert (result["coder_a"], result["coder_b"], result["note"]) == ("A", "B", "")
    # Same article, "similar numbers" case: 45, 15, 25, 15 of 100. p_o = 0.60;
    # A yes = 0.60, B yes = 0.70, p_e = 0.6*0.7 + 0.4*0.3 = 0.54;
    # kappa = (0.60 - 0.54) / 0.46 = 0.1304.
    assert _kappa(*_two_by_two(45, 15, 25, 15))[0] == pytest.approx(0.130, abs=5e-4)
    # Mirror case: 25, 35, 5, 35. p_o = 0.60; A yes = 0.60, B yes = 0.30,
    # p_e = 0.18 + 0.28 = 0.46; kappa = 0.14 / 0.54 = 0.2593.
    assert _kappa(*_two_by_two(25, 35, 5, 35))[0] == pytest.approx(0.259, abs=5e-4)


KRIPPENDORFF_2011 = {
    # Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", section C:
    # 4 observers x 12 units, nominal data with missing values; alpha = 0.743.
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def test_krippendorff_alpha_reference_example() -> None:
    table = pd.DataFrame(KRIPPENDORFF_2011, index=[f"u{i}" for i in range(1, 13)])
    result = _alpha(table)
    assert round(result.estimate(), 3) == 0.743
    assert result.n_units == 11  # unit 12 has a single value: not pairable
    assert result.n_coders == 4
    assert result.note == ""
    # Observed agreement from the paper's coincidence matrix: diagonal 7 + 10 + 8 + 4 + 3
    # = 32 of n = 40 pairable values -> 0.800 (alpha = 1 - D_o / D_e with D_o = 0.2).
    assert _percent(table) == pytest.approx(32 / 40)
    # String labels give the same nominal alpha as the integers.
    relabelled = table.apply(lambda col: col.map(lambda v: None if pd.isna(v) else f"L{v}"))
    assert _alpha(relabelled).estimate() == pytest.approx(result.estimate())
    assert _package_alpha(table) == pytest.approx(result.estimate())


def test_percent_agreement_two_coders_is_share_identical() -> None:
    table = pd.DataFrame({"a": ["x", "y", "x", "z", None], "b": ["x", "y", "y", "z", "x"]})
    assert _percent(table) == pytest.approx(3 / 4)
    assert math.isnan(_percent(pd.DataFrame({"a": ["x"], "b": [None]})))


def _annotations(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["segment_id", "coder", "dimension", "label"])


def test_coding_tables_semantics() -> None:
    ann = _annotations([
        ("s1", "ann", "code", "c1"),
        ("s1", "ann", "code", "c2"),
        ("s1", "bob", "code", None),  # seen, no code
        ("s2", "bob", "code", "c1"),
        ("s1", "model", "code", "c2"),
        ("s1", "ann", "stage", "push"),
        ("s1", "model", "stage", "exchange"),
        ("s3", "bob", "stage", "none"),
        ("s4", "ann", "stage", None),  # no stage label: not a coded unit
    ])
    tables = coding_tables(ann, ["c1", "c2", "c3"])
    assert set(tables) == {"stage", "c1", "c2", "c3"}
    c1 = tables["c1"]
    assert list(c1.columns) == ["ann", "bob", "model"]  # sorted, model last
    assert list(c1.index) == ["s1", "s2"]
    assert c1.loc["s1", "ann"] == 1 and c1.loc["s1", "bob"] == 0 and c1.loc["s1", "model"] == 0
    assert c1.loc["s2", "bob"] == 1
    assert math.isnan(c1.loc["s2", "ann"]) and math.isnan(c1.loc["s2", "model"])
    assert tables["c2"].loc["s1"].tolist() == [1, 0, 1]
    assert tables["c3"].loc["s1"].tolist() == [0, 0, 0]
    stage = tables["stage"]
    assert list(stage.index) == ["s1", "s3"]
    assert list(stage.columns) == ["ann", "bob", "model"]
    assert stage.loc["s1", "ann"] == "push" and stage.loc["s1", "model"] == "exchange"
    assert pd.isna(stage.loc["s1", "bob"]) and stage.loc["s3", "bob"] == "none"


def test_coding_tables_empty_and_bad_columns() -> None:
    tables = coding_tables(_annotations([]), ["c1"])
    assert tables["stage"].empty and tables["c1"].empty
    report = _agreement(tables)
    assert report.pairs.empty
    assert json.dumps(report.to_dict(), allow_nan=False)
    with pytest.raises(IspNlpError, match="missing column"):
        coding_tables(pd.DataFrame({"segment_id": ["s1"], "coder": ["a"]}), ["c1"])


def test_undefined_cases_give_nan_and_note_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        disjoint = _pair(
            pd.Series(["x", None], index=["u1", "u2"], name="a"),
            pd.Series([None, "x"], index=["u1", "u2"], name="b"),
        )
        assert disjoint["n_units"] == 0 and math.isnan(disjoint["kappa"])
        assert disjoint["note"] == "kappa undefined: no unit coded by at least 2 coders"
        single = _pair(pd.Series(["push"] * 3, name="a"), pd.Series(["push"] * 3, name="b"))
        assert math.isnan(single["kappa"]) and single["percent_agreement"] == 1
        assert single["note"] == "kappa undefined: every coding is label push"

        one_coder = _alpha(pd.DataFrame({"a": ["x", "y"]}))
        assert math.isnan(one_coder.estimate()) and "fewer than 2 coders" in one_coder.note
        no_overlap = _alpha(pd.DataFrame({"a": ["x", None], "b": [None, "y"]}))
        assert math.isnan(no_overlap.estimate())
        assert "no unit coded by at least 2" in no_overlap.note
        constant = _alpha(pd.DataFrame({"a": ["x", "x"], "b": ["x", "x"]}))
        assert math.isnan(constant.estimate()) and constant.note.endswith("label x")


def test_krippendorff_rejects_unknown_level_and_text_for_interval() -> None:
    table = pd.DataFrame({"a": ["x", "y"], "b": ["x", "x"]})
    with pytest.raises(IspNlpError, match="level"):
        _alpha(table, level="cardinal")
    with pytest.raises(IspNlpError, match="not a number"):
        _alpha(table, level="interval")
    numeric = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 3, 5]})
    assert _alpha(numeric, level="interval").estimate() > 0.8
    assert _alpha(numeric, level="interval").estimate() == pytest.approx(
        _package_alpha(numeric, level="interval"))


def test_humans_and_model_separate_human_and_model_pairs() -> None:
    stage = pd.DataFrame(
        {
            "zoe": ["push", "push_pull", "exchange", "none", "push"],
            "amy": ["push", "push_pull", "exchange", "push", "push"],
            "model": ["push", "exchange", "exchange", "none", None],
        },
        index=[f"s{i}" for i in range(5)],
    )
    report = _agreement({"stage": stage})
    pairs = report.pairs
    assert list(zip(pairs["coder_a"], pairs["coder_b"], strict=True)) == [
        ("amy", "zoe"), ("amy", "model"), ("zoe", "model"),
    ]
    assert pairs["kind"].tolist() == [HUMAN_HUMAN, MODEL_HUMAN, MODEL_HUMAN]
    assert pairs.loc[0, "percent_agreement"] == pytest.approx(0.8)
    assert pairs.loc[1, "n_units"] == 4
    assert report.alphas["coders"].tolist() == ["humans", "humans+model"]
    assert report.alphas["n_coders"].tolist() == [2, 3]
    humans_only = _package_alpha(stage[["amy", "zoe"]])
    assert report.alphas.loc[0, "alpha"] == pytest.approx(humans_only)
    assert report.combined is not None
    tidy = report.combined.to_frame()
    assert len(tidy[tidy["metric"] == "kappa"]) == 1 + 3  # all coders, then the 3 pairs
    assert tidy[tidy["metric"] == "kappa"]["coder_a"].notna().sum() == 3
    assert set(tidy["metric"]) == {"percent", "kappa", "alpha"}
    payload = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert payload["humans+model"]["pairs"][0]["kind"] == HUMAN_HUMAN


# --------------------------------------------------------------------------- properties

LABELS = st.sampled_from(["push", "push_pull", "exchange", "none"])


@st.composite
def coding_table(draw: st.DrawFn, perfect: bool = False) -> pd.DataFrame:
    n_units = draw(st.integers(min_value=1, max_value=12))
    n_coders = draw(st.integers(min_value=2, max_value=4))
    truth = [draw(LABELS) for _ in range(n_units)]
    data = {}
    for c in range(n_coders):
        column = []
        for u in range(n_units):
            if draw(st.booleans()) and draw(st.booleans()):
                column.append(None)
            else:
                column.append(truth[u] if perfect else draw(LABELS))
        data[f"coder{c}"] = column
    return pd.DataFrame(data, index=[f"s{u}" for u in range(n_units)])


def _same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-9)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(coding_table(perfect=True))
def test_perfect_agreement_gives_one(table: pd.DataFrame) -> None:
    pairable = table[table.notna().sum(axis=1) >= 2]
    if pairable.empty:
        assert math.isnan(_percent(table))
        return
    assert _percent(table) == 1
    for a, b in combinations(table.columns, 2):
        both = table[[a, b]].dropna()
        if both.empty:
            continue
        kappa, share, _ = _kappa(table[a], table[b])
        assert share == 1
        if both.stack().nunique() >= 2:
            assert kappa == pytest.approx(1)
        else:
            assert math.isnan(kappa)
    alpha = _alpha(table).estimate()
    if pd.unique(pairable.stack().dropna()).size >= 2:
        assert alpha == pytest.approx(1)
    else:
        assert math.isnan(alpha)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(coding_table())
def test_kappa_is_symmetric(table: pd.DataFrame) -> None:
    a, b = table.iloc[:, 0], table.iloc[:, 1]
    ab, ba = _kappa(a, b), _kappa(b, a)
    assert _same(ab[0], ba[0])
    assert _same(ab[1], ba[1])
    assert ab[2] == ba[2]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(coding_table(), st.permutations(["push", "push_pull", "exchange", "none"]))
def test_invariant_under_renaming_labels(table: pd.DataFrame, perm: list[str]) -> None:
    rename = dict(zip(["push", "push_pull", "exchange", "none"], perm, strict=True))
    rename = {k: f"x_{v}" for k, v in rename.items()}
    renamed = table.apply(lambda col: col.map(lambda v: rename.get(v, v)))
    assert _same(_percent(table), _percent(renamed))
    assert _same(_alpha(table).estimate(), _alpha(renamed).estimate())
    for a, b in combinations(table.columns, 2):
        assert _same(_kappa(table[a], table[b])[0], _kappa(renamed[a], renamed[b])[0])


def test_numeric_presence_tables_match_string_labels() -> None:
    ints = pd.DataFrame({"a": [1.0, 0.0, 1.0, np.nan], "b": [1, 0, 0, 1]})
    strs = ints.apply(lambda col: col.map(lambda v: None if pd.isna(v) else f"v{int(v)}"))
    assert _same(_alpha(ints).estimate(), _alpha(strs).estimate())
    assert _same(_kappa(ints["a"], ints["b"])[0], _kappa(strs["a"], strs["b"])[0])


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(coding_table())
def test_alpha_matches_the_krippendorff_package(table: pd.DataFrame) -> None:
    own = _alpha(table)
    if own.n_coders < 2 or own.n_units == 0 or encode(table).n_categories < 2:
        assert math.isnan(own.estimate()) and own.note
        return  # the package raises instead of returning NaN here
    assert _same(own.estimate(), _package_alpha(table))


# --------------------------------------------------------------------------- real data

ANNOMI = SHARED / "data" / "annomi" / "AnnoMI-full.csv"
TEN_CODER_TRANSCRIPTS = (7, 27, 55, 56, 66, 109, 130)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("column", "n_units", "mean_kappa", "alpha"),
    [
        # Published in ../shared/README.md (AnnoMI, 10 annotators on 7 transcripts).
        ("main_therapist_behaviour", 216, 0.737, 0.737),
        ("client_talk_type", 212, 0.470, 0.467),
    ],
)
def test_annomi_ten_annotator_agreement(
    column: str, n_units: int, mean_kappa: float, alpha: float
) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared not found: real-data test needs the shared data folder")
    data = pd.read_csv(ANNOMI)
    data = data[data["transcript_id"].isin(TEN_CODER_TRANSCRIPTS)].dropna(subset=[column])
    annotations = pd.DataFrame({
        "segment_id": data["transcript_id"].astype(str) + ":" + data["utterance_id"].astype(str),
        "coder": "annotator" + data["annotator_id"].astype(str),
        "dimension": "stage",
        "label": data[column],
    })
    table = coding_tables(annotations, [])["stage"]
    assert table.shape == (n_units, 10)
    report = _agreement({"stage": table})
    assert len(report.pairs) == 45
    assert set(report.pairs["kind"]) == {HUMAN_HUMAN}
    assert report.pairs["kappa"].mean() == pytest.approx(mean_kappa, abs=5e-4)
    humans = report.alphas.iloc[0]
    assert (humans["coders"], humans["n_units"], humans["n_coders"]) == ("humans", n_units, 10)
    assert humans["alpha"] == pytest.approx(alpha, abs=5e-4)


# --------------------------------------------------------------------------- reliability report


def _report_tables() -> dict[str, pd.DataFrame]:
    rows = []
    rng = np.random.default_rng(0)
    for i in range(60):
        truth = {"c1": rng.random() < 0.4, "c2": rng.random() < 0.3}
        for coder in ("ann", "bob", "model"):
            applied = [c for c, on in truth.items() if on != (rng.random() < 0.15)]
            rows += [(f"s{i:02d}", coder, "code", c) for c in applied or [None]]
            rows.append((f"s{i:02d}", coder, "stage", ["push", "exchange"][i % 2]
                         if rng.random() < 0.8 else "push_pull"))
    return coding_tables(_annotations(rows), ["c1", "c2"])


def test_reliability_report_structure_and_pooling() -> None:
    from isp_nlp.agreement.coefficients import coefficient
    from isp_nlp.agreement.reliability import ReliabilityOptions, reliability_report

    tables = _report_tables()
    options = ReliabilityOptions(n_resamples=100, seed=3)
    data = reliability_report(tables, options=options).to_dict()
    assert set(data["dimensions"]["stage"]) == set(options.metrics)
    assert data["dimensions"]["stage"]["alpha"]["value"] == pytest.approx(
        _package_alpha(tables["stage"]))
    pooled = pd.concat([tables["c1"], tables["c2"]])  # overall: every (segment, code) unit
    assert data["overall"]["alpha"]["value"] == pytest.approx(coefficient(pooled, "alpha")[0])
    assert data["overall"]["alpha"]["n_units"] == 120
    assert data["overall"]["alpha_masi"]["n_units"] == 60
    assert len(data["pairs"]) == 4 * 3  # stage, 2 codes and overall: 3 coder pairs each
    overall = next(p for p in data["pairs"] if p["target"] == "overall"
                   and (p["coder_a"], p["coder_b"]) == ("ann", "bob"))
    assert overall["kappa"]["value"] == pytest.approx(
        coefficient(pooled[["ann", "bob"]], "kappa")[0])
    assert overall["kappa"]["n_units"] == 120
    assert json.dumps(data, allow_nan=False)
    frame = reliability_report(tables, options=options).to_frame()
    assert {"stage", "code:c1", "overall"} <= set(frame["target"])
    humans = reliability_report(tables, options=options, coders=["ann", "bob"]).to_dict()
    assert humans["settings"]["coders"] == ["ann", "bob"] and len(humans["pairs"]) == 4
    with pytest.raises(IspNlpError, match="needs one for every segment"):
        reliability_report(tables, options=ReliabilityOptions(by="document"))
    docs = {f"s{i:02d}": f"d{i % 6}" for i in range(60)}
    by_doc = reliability_report(tables, documents=docs, options=ReliabilityOptions(
        by="document", n_resamples=100, seed=3, metrics=("ac1",))).to_dict()
    assert by_doc["codes"]["c1"]["ac1"]["value"] == pytest.approx(data["codes"]["c1"]["ac1"]
                                                                   ["value"])
    with pytest.raises(IspNlpError, match="metric 'cohen'"):
        reliability_report(tables, options=ReliabilityOptions(metrics=("cohen",)))


def test_reliability_report_levels() -> None:
    from isp_nlp.agreement.reliability import ReliabilityOptions, reliability_report

    tables = _report_tables()
    interval = reliability_report(tables, options=ReliabilityOptions(
        level="interval", n_resamples=50, metrics=("alpha",))).to_dict()
    assert interval["dimensions"]["stage"]["alpha"]["value"] is None
    assert "not a number but interval" in interval["dimensions"]["stage"]["alpha"]["note"]
    assert interval["codes"]["c1"]["alpha"]["value"] is not None  # presence 0/1 is numeric
    ordinal = reliability_report(tables, options=ReliabilityOptions(
        level="ordinal", n_resamples=50, metrics=("alpha",))).to_dict()
    assert "'none' left out" in ordinal["dimensions"]["stage"]["alpha"]["note"]


def test_csv_annotations_and_overlap_mapping() -> None:
    from isp_nlp.agreement.tables import csv_annotations
    from isp_nlp.coded.match import map_rows_by_overlap
    from isp_nlp.coded.read import CodedRow
    from isp_nlp.records import Segment

    rows = [CodedRow(2, "d", "s1", "", "A", "x", values=(("stage", "Push/Pull"),)),
            CodedRow(3, "d", "", "", "B", "", start=0, end=10),
            CodedRow(4, "d", "", " a  b ", "B", "y")]
    frame, docs = csv_annotations(rows)
    assert list(frame["segment_id"]) == ["d#s1", "d#s1", "d@0-10", "d:a b"]
    assert frame.loc[1, "label"] == "push_pull" and pd.isna(frame.loc[2, "label"])
    assert docs == {"d#s1": "d", "d@0-10": "d", "d:a b": "d"}
    segs = [Segment("s1", "d", 0, 0, "turn", None, 0, 10, "one"),
            Segment("s2", "d", 1, 1, "turn", None, 12, 30, "two words")]
    probe = [CodedRow(2, "d", "", "", "A", "x", start=0, end=10),   # exact
             CodedRow(3, "d", "", "", "A", "x", start=11, end=28),  # 16 of 17 in s2
             CodedRow(4, "d", "", "", "A", "x", start=8, end=14),   # 2 of 6 at best
             CodedRow(5, "d", "", "two  words", "A", "x"),          # by text
             CodedRow(6, "e", "s1", "", "A", "x")]                  # unknown document
    mapping = map_rows_by_overlap(probe, {"d": segs})
    assert [(r.line, s.id) for r, s in mapping.mapped] == [(2, "s1"), (3, "s2"), (5, "s2")]
    assert mapping.by_overlap == 1
    assert [reason.split(":")[0] for _, reason in mapping.dropped] == ["line 4", "line 6"]
    assert "best 33%" in mapping.dropped[0][1]


# --------------------------------------------------------------------------- humans vs humans+model


def _at(data: dict, keys: tuple[str, ...]) -> dict:
    for key in keys:
        data = data[key]
    return data


def test_humans_and_model_match_separate_reports() -> None:
    from isp_nlp.agreement.groups import COMBINED, HUMANS, humans_and_model, mean_kappa
    from isp_nlp.agreement.reliability import ReliabilityOptions, reliability_report

    tables = _report_tables()
    options = ReliabilityOptions(metrics=("percent", "kappa", "alpha", "ac1", "fleiss"),
                                 n_resamples=80, seed=5)
    groups = humans_and_model(tables, options=options)
    alone = reliability_report(tables, options=options, coders=["ann", "bob"]).to_dict()
    everyone = reliability_report(tables, options=options).to_dict()
    assert groups.targets() == ["stage", "c1", "c2", "overall"]
    for target, key in (("stage", ("dimensions", "stage")), ("overall", ("overall",))):
        assert groups.estimates(HUMANS, target)["alpha"] == _at(alone, key)["alpha"]
        assert groups.estimates(COMBINED, target)["alpha"] == _at(everyone, key)["alpha"]
    assert groups.estimates(HUMANS, "c1") == alone["codes"]["c1"]

    alphas = groups.alphas
    assert len(alphas) == 4 * 2 and set(alphas["coders"]) == {"humans", "humans+model"}
    row = alphas[(alphas["target"] == "c2") & (alphas["coders"] == "humans+model")].iloc[0]
    assert row["alpha"] == pytest.approx(everyone["codes"]["c2"]["alpha"]["value"])
    assert row["ci_low"] < row["alpha"] < row["ci_high"]
    assert row["gwet_ac1_ci_low"] < row["gwet_ac1"] < row["gwet_ac1_ci_high"]
    assert row["percent_agreement"] == pytest.approx(
        _percent(tables["c2"]))

    pairs = groups.pairs
    assert len(pairs) == 4 * 3 and set(pairs["target"]) == {"stage", "c1", "c2", "overall"}
    stage_pair = pairs[(pairs["target"] == "stage") & (pairs["coder_b"] == "bob")].iloc[0]
    assert stage_pair["kappa"] == pytest.approx(
        _kappa(tables["stage"]["ann"], tables["stage"]["bob"])[0])
    model_pairs = pairs[(pairs["target"] == "c1") & (pairs["kind"] == MODEL_HUMAN)]
    value, n = mean_kappa(groups, "c1", MODEL_HUMAN)
    assert n == 2 and value == pytest.approx(model_pairs["kappa"].mean())
    assert json.dumps(groups.to_dict(), allow_nan=False)


def test_humans_and_model_without_model_labels() -> None:
    from isp_nlp.agreement.groups import COMBINED, humans_and_model
    from isp_nlp.agreement.reliability import ReliabilityOptions

    tables = {t: tab.assign(model=np.nan) for t, tab in _report_tables().items()}
    groups = humans_and_model(tables, options=ReliabilityOptions(n_resamples=20, seed=0))
    assert groups.combined is None and groups.estimates(COMBINED, "stage") == {}
    assert set(groups.alphas["coders"]) == {"humans"}
    assert set(groups.pairs["kind"]) == {HUMAN_HUMAN}
    assert groups.settings["coders"] == ["ann", "bob"]
