"""`train` calibrates and certifies from the seed codes; `suggest` abstains below the
certified threshold; `review` marks suggestions within the certified range; `evaluate`
reports risk–coverage, the certified threshold and calibration error (hashing embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.pipeline import load_latest_model, suggest_project, train_project
from isp_nlp.report.collect import write_project_report
from isp_nlp.review.items import build_review_items
from isp_nlp.review.terminal import render_item
from isp_nlp.store.folder import open_project
from isp_nlp.suggest.bundle import SuggesterModel
from tests.builders.coded_projects import EMBEDDER, coded_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # seeds: two of the three transcripts, so the third is left to suggest on
    path, coded, _ = coded_project(tmp_path_factory.mktemp("certified"), leave_out="site2")
    return path, coded


def test_train_certifies_against_the_seed_coders_by_default(project) -> None:
    path, _ = project
    with open_project(path) as store:
        r = train_project(store)
        model = load_latest_model(store)
    assert set(r["certified"]) == {"code", "stage"}
    for dim, cert in r["certified"].items():
        assert cert["target_from"] == "the seed coders' mean pairwise percent agreement"
        assert 0.5 < cert["target"] < 1.0
        assert cert["confidence"] == 0.9 and "fixed-sequence" in cert["method"]
        assert cert["n_seeds"] == 28
        assert model.certified[dim]["threshold"] == cert["threshold"]
    assert model.manifest["certified"] == model.certified
    if model.certified["stage"]["threshold"] is not None:
        assert model.thresholds["stage"] == model.certified["stage"]["threshold"]
    reloaded = SuggesterModel.load(path.parent / r["path"].split(str(path.parent) + "/")[-1])
    assert reloaded.certified == model.certified
    assert reloaded.dimension("stage").temperature == pytest.approx(
        model.dimension("stage").temperature)
    assert r["temperatures"]["stage"] == pytest.approx(model.dimension("stage").temperature)


def test_a_lower_target_certifies_and_suggest_abstains_below_it(project) -> None:
    path, _ = project
    with open_project(path) as store:
        r = train_project(store, target_agreement=0.5)
        cert = r["certified"]["stage"]
        assert cert["target"] == 0.5 and cert["target_from"] == "--target-agreement"
        assert cert["threshold"] is not None, cert["reason"]
        assert cert["lower_bound"] >= 0.5
        suggest_project(store)
        model = load_latest_model(store)
        rows = [s for s in store.suggestions(model.model_id) if s.dimension == "stage"]
        assert rows
        assert all(s.suggested == (s.probability >= cert["threshold"] - 1e-12) for s in rows)
        items = build_review_items(store, "carla")
    marked = [i for i in items if "stage" in i.certified]
    assert marked and all((got := i.value("stage")) is not None
                          and got[1] >= cert["threshold"] - 1e-4 for i in marked)
    assert all("stage" not in i.certified for i in items if i.value("stage") is None)
    assert "(certified range)" in render_item(marked[0], (0, len(items)))


def test_uncertified_stage_threshold_is_on_the_confidence_suggest_uses(project) -> None:
    """With nothing certified, the stage threshold chosen out of fold is compared with the
    same calibrated, label-mix confidence that suggest stores."""
    path, _ = project
    with open_project(path) as store:
        r = train_project(store, target_agreement=0.999)
        assert r["certified"]["stage"]["threshold"] is None
        suggest_project(store)
        model = load_latest_model(store)
        rows = [s for s in store.suggestions(model.model_id) if s.dimension == "stage"]
    # loaded from its bundle: the label mix survived saving (balanced estimator, skewed
    # seed stages)
    assert model.dimension("stage").prior_weights is not None
    stage_threshold = model.thresholds["stage"]
    assert model.manifest["thresholds"].get("stage", stage_threshold) == stage_threshold
    assert rows and all(s.suggested == (s.probability >= stage_threshold - 1e-12)
                        for s in rows)


def test_train_rejects_a_target_outside_0_1(project) -> None:
    path, _ = project
    for bad in ("1.5", "-0.1", "0"):
        r = CliRunner().invoke(cli, ["--project", str(path), "train", "--target-agreement", bad])
        assert r.exit_code == 2, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and "target agreement" in lines[0] and "Traceback" not in r.output


def test_evaluate_reports_risk_coverage_certified_and_ece(project, tmp_path: Path) -> None:
    _, coded = project
    r = CliRunner().invoke(cli, ["evaluate", str(coded), "--folds", "3", "--label-column",
                                 "stage", "--embedder", EMBEDDER, "--repeats", "1",
                                 "--target-agreement", "0.6", "--format", "json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    rc = res["risk_coverage"]
    assert [row["threshold"] for row in rc][:3] == [0.0, 0.05, 0.1]
    for row in rc:
        assert set(row) >= {"threshold", "coverage", "model_human_agreement",
                            "human_human_agreement", "model_human_kappa", "human_human_kappa"}
    assert rc[0]["coverage"] == 1.0
    assert all(a["coverage"] >= b["coverage"] for a, b in zip(rc, rc[1:], strict=False))
    assert res["parity_coverage"] is None or 0.0 <= res["parity_coverage"] <= 1.0
    cert = res["certified"]
    assert set(cert) >= {"threshold", "coverage", "model_human_agreement",
                         "human_human_agreement", "parity"}
    assert cert["target"] == 0.6 and cert["target_from"] == "--target-agreement"
    assert 0.0 <= res["model_human"]["ece"] <= 1.0
    assert any("read as single-label (the stage column)" in line for line in res["read_as"])
    table = CliRunner().invoke(cli, ["evaluate", str(coded), "--folds", "3", "--label-column",
                                     "stage", "--embedder", EMBEDDER, "--repeats", "1"])
    assert table.exit_code == 0, table.output
    assert "Risk–coverage" in table.output and "Parity coverage" in table.output
    assert "Expected calibration error" in table.output
    bad = CliRunner().invoke(cli, ["evaluate", str(coded), "--folds", "3", "--embedder",
                                   EMBEDDER, "--target-agreement", "7"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1


def test_evaluate_defaults_read_multi_code_rows_honestly(project) -> None:
    _, coded = project  # ana gives some segments two codes; ben leaves some uncoded
    r = CliRunner().invoke(cli, ["evaluate", str(coded), "--folds", "3", "--embedder",
                                 EMBEDDER, "--repeats", "1", "--format", "json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["config"]["multi_label"] is True
    assert res["n_test_units"] == 42  # every segment, "no code" ones included
    assert "multi-label" in res["read_as"][0]
    single = CliRunner().invoke(cli, ["evaluate", str(coded), "--folds", "3", "--embedder",
                                      EMBEDDER, "--repeats", "1", "--single-label",
                                      "--format", "json"])
    assert single.exit_code == 0, single.output
    res1 = json.loads(single.output)
    assert "(no code)" in res1["labels"] and res1["n_test_units"] == 42


def test_one_coder_test_set_reports_model_coder_agreement_only(project, tmp_path: Path) -> None:
    _, coded = project
    lines = coded.read_text(encoding="utf-8").splitlines()
    one = tmp_path / "one.csv"
    one.write_text("\n".join([lines[0], *[r for r in lines[1:] if ",ana," in r]]) + "\n",
                   encoding="utf-8")
    r = CliRunner().invoke(cli, ["evaluate", "--train", str(coded), "--test", str(one),
                                 "--label-column", "stage", "--embedder", EMBEDDER,
                                 "--repeats", "1", "--target-agreement", "0.6"])
    assert r.exit_code == 0, r.output
    assert "undefined (one coder in TEST: model–coder agreement only)" in r.output
    assert "one coder in TEST: no human-human baseline" in r.output
    res = json.loads(CliRunner().invoke(cli, [
        "evaluate", "--train", str(coded), "--test", str(one), "--label-column", "stage",
        "--embedder", EMBEDDER, "--repeats", "1", "--format", "json"]).output)
    assert res["human_human"]["percent_agreement"] is None and res["parity_coverage"] is None
    assert all(row["human_human_agreement"] is None and row["parity"] is None
               for row in res["risk_coverage"])
    assert res["risk_coverage"][0]["model_human_agreement"] is not None


def test_report_states_the_certified_range(project, tmp_path: Path) -> None:
    path, _ = project
    with open_project(path) as store:
        train_project(store, target_agreement=0.5)
        suggest_project(store)
        html = write_project_report(store, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "certified stage" in html and "within the certified range" in html
