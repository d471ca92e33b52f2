"""isp_nlp.suggest.evaluate: units, majority labels, seeds, folds, agreement, the study."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from isp_nlp.coded.units import EvaluationError, embed_units, load_units, majority
from isp_nlp.embed import HashingEmbedder
from isp_nlp.errors import ImportCodesError, IspNlpError
from isp_nlp.suggest.evaluate import (
    Split,
    StudyConfig,
    check_labels,
    evaluate_files,
    grouped_folds,
    run_study,
)
from isp_nlp.suggest.study_fit import sample_seeds
from isp_nlp.suggest.study_scores import encode_test, human_human, model_agreement
from tests.builders.coded_csv import coded_rows, write_coded_csv


def test_load_units_merges_coders_and_builds_context(coded_csvs) -> None:
    _, test = coded_csvs
    units = load_units(test)
    assert len(units) == 12 and units.coders == ["a", "b", "c"]
    assert units.labels == ["barrier", "plan", "support"]
    assert units.contexts[0] == "" and units.contexts[1] == units.texts[0]
    assert all(len(c) == 3 for c in units.codings)


def test_previous_text_column_wins(tmp_path: Path) -> None:
    rows = coded_rows(1, ("a",))
    for r in rows:
        r["previous_text"] = "CTX " + r["segment"]
    units = load_units(write_coded_csv(tmp_path / "p.csv", rows, ("previous_text",)))
    assert units.contexts[:2] == ["CTX s1", "CTX s2"]


def test_majority_ties_go_to_first_coder_and_multilabel_half_rule() -> None:
    assert majority({"b": ("x",), "a": ("y",)}, False) == "y"
    assert majority({"a": ("x",), "b": ("y",), "c": ("y",)}, False) == "y"
    assert majority({"a": ("x", "y"), "b": ("x",), "c": ()}, True) == ("x",)
    assert majority({"a": ("x",), "b": ()}, True) == ("x",)


def test_human_human_matches_hand_computed_kappa(coded_csvs) -> None:
    _, test = coded_csvs
    units = load_units(test)
    hh = human_human(encode_test(units, units.labels))
    assert 0.5 < hh["mean_pairwise_kappa"] < 1.0
    assert 0.8 < hh["percent_agreement"] < 1.0
    perfect = load_units(write_coded_csv(test.parent / "p.csv", coded_rows(1, ("a", "b"))))
    assert human_human(encode_test(perfect, perfect.labels))["mean_pairwise_kappa"] == \
        pytest.approx(1.0)
    single = load_units(coded_csvs[0])
    assert human_human(encode_test(single, single.labels)) == {
        "mean_pairwise_kappa": None, "krippendorff_alpha": None, "percent_agreement": None}


def test_model_agreement_perfect_and_wrong(coded_csvs) -> None:
    units = load_units(write_coded_csv(coded_csvs[0].parent / "q.csv", coded_rows(1, ("a", "b"))))
    truth = units.reference()
    table = encode_test(units, units.labels)
    good = model_agreement(table, truth)
    assert good["mean_kappa"] == pytest.approx(1.0) and good["macro_f1"] == pytest.approx(1.0)
    assert good["percent_agreement"] == 1.0
    shifted = [units.labels[(units.labels.index(t) + 1) % 3] for t in truth]
    bad = model_agreement(table, shifted)
    assert bad["mean_kappa"] < 0 and bad["accuracy"] == 0.0
    assert bad["per_label"]["plan"]["support"] == 4


def test_sample_seeds_k_per_label_and_error_names_label(coded_csvs) -> None:
    units = load_units(coded_csvs[0])
    idx = sample_seeds(units, 3, np.random.default_rng(0), units.labels)
    ref = units.reference()
    assert sorted(ref[i] for i in idx) == sorted([lab for lab in units.labels for _ in range(3)])
    with pytest.raises(EvaluationError, match=r"label 'barrier' has 16 training segments"):
        sample_seeds(units, 17, np.random.default_rng(0), units.labels)


def test_grouped_folds_never_share_a_document(coded_csvs) -> None:
    units = load_units(coded_csvs[0])
    folds = grouped_folds(units, 4)
    assert len(folds) == 4
    for split in folds:
        assert not set(split.train.documents) & set(split.test.documents)
    with pytest.raises(EvaluationError, match="between 2 and 4"):
        grouped_folds(units, 5)
    rows = coded_rows(3, ("a",)) + [{"document": "doc9", "segment": "r", "text": "rare",
                                     "coder": "a", "code": "rare"}]
    rare = load_units(write_coded_csv(units_path := coded_csvs[0].parent / "rare.csv", rows))
    split = next(s for s in grouped_folds(rare, 2) if "doc9" in s.test.documents)
    labels, too_rare = check_labels(split.train, split.test)
    assert too_rare == ["rare"] and "rare" not in labels
    assert units_path.is_file()


def test_study_learns_and_reports_every_key(coded_csvs) -> None:
    train, test = coded_csvs
    emb = HashingEmbedder(256)
    tr, te = embed_units(load_units(train), emb), embed_units(load_units(test), emb)
    res = run_study([Split(tr, te)], StudyConfig(seed_per_label=[2, 8], repeats=2), test_all=te)
    for key in ("n_test_units", "labels", "human_human", "model_human", "per_label",
                "learning_curve", "risk_coverage", "parity_coverage", "certified", "timing",
                "config"):
        assert key in res
    assert [c["seed_per_label"] for c in res["learning_curve"]] == [2, 8]
    assert res["model_human"]["mean_kappa"] > 0.3  # far above chance on separable phrases
    cov = res["risk_coverage"]
    assert cov[0]["coverage"] == 1.0 and all(a["coverage"] >= b["coverage"]
                                             for a, b in zip(cov, cov[1:], strict=False))
    from isp_nlp.cli.evaluate import verdict

    assert "human agreement" in verdict(res)


def test_folds_and_multilabel(tmp_path: Path) -> None:
    rows = coded_rows(4, ("a", "b"))
    for r in rows[::6]:  # some units get a second code
        rows.append({**r, "code": "support" if r["code"] != "support" else "plan"})
    coded = write_coded_csv(tmp_path / "c.csv", rows)
    res = evaluate_files(None, None, coded=coded, embedder=HashingEmbedder(64),
                         config=StudyConfig(seed_per_label=[None], folds=2, multi_label=True))
    assert res["n_test_units"] == 48 and res["labels"] == ["barrier", "plan", "support"]
    assert not math.isnan(res["model_human"]["mean_kappa"])
    stage = evaluate_files(None, None, coded=coded, embedder=HashingEmbedder(64),
                           config=StudyConfig(folds=2, label_column="stage"))
    assert stage["labels"] == ["exchange", "push"]


def test_bad_inputs_raise_domain_errors(tmp_path: Path, coded_csvs) -> None:
    one = load_units(write_coded_csv(tmp_path / "one.csv", [
        {"document": "d", "segment": str(i), "text": "x", "coder": "a", "code": "plan"}
        for i in range(3)]))
    with pytest.raises(EvaluationError, match="at least 2"):
        check_labels(one, one)
    other = load_units(write_coded_csv(tmp_path / "o.csv", [
        {"document": "d", "segment": "1", "text": "x", "coder": "a", "code": "zzz"}]))
    with pytest.raises(EvaluationError, match="same codebook"):
        check_labels(load_units(coded_csvs[0]), other)
    extra = load_units(write_coded_csv(tmp_path / "e.csv", [
        {"document": "d", "segment": "1", "text": "x", "coder": "a", "code": "zzz"},
        {"document": "d", "segment": "2", "text": "y", "coder": "a", "code": "plan"}]))
    assert check_labels(load_units(coded_csvs[0]), extra)[1] == ["zzz"]
    bad = tmp_path / "bad.csv"
    bad.write_text("document,text,coder\nd,x,a\n", encoding="utf-8")
    with pytest.raises(ImportCodesError, match="segment, code"):
        load_units(bad)
    with pytest.raises(IspNlpError, match="does not exist"):
        load_units(tmp_path / "missing.csv")
