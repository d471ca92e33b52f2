"""The AnnoMI conversion on the real CSV: counts and the published human-human kappa."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.builders.paths import REPO, SHARED

ANNOMI = SHARED / "data" / "annomi" / "AnnoMI-full.csv"


def _annomi_module(name: str = "annomi"):
    """Load an evaluation script by path, its sibling modules importable as when it runs."""
    evaluation = str(REPO / "evaluation")
    if evaluation not in sys.path:
        sys.path.insert(0, evaluation)
    spec = importlib.util.spec_from_file_location(f"{name}_study",
                                                  REPO / "evaluation" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not ANNOMI.is_file():
        pytest.skip("../shared not found: real-data test needs the shared data folder")
    return _annomi_module().convert(ANNOMI, tmp_path_factory.mktemp("annomi"))


def test_counts_and_human_human_kappa(converted) -> None:
    from isp_nlp.coded.units import load_units
    from isp_nlp.suggest.study_scores import encode_test, human_human

    expected = {"therapist_behaviour": (216, 0.737, ["other", "question", "reflection",
                                                     "therapist_input"]),
                "client_talk_type": (212, 0.470, ["change", "neutral", "sustain"])}
    for task, (n_test, kappa, labels) in expected.items():
        test = load_units(converted[task]["test"])
        train = load_units(converted[task]["train"])
        assert len(set(test.documents)) == 7 and len(test) == n_test
        assert len(test.coders) == 10 and all(len(u) == 10 for u in test.codings)
        assert len(set(train.documents)) == 126 and len(train.coders) >= 1
        assert all(len(u) == 1 for u in train.codings)
        assert not set(train.documents) & set(test.documents)
        assert test.labels == labels
        hh = human_human(encode_test(test, labels))
        assert hh["mean_pairwise_kappa"] == pytest.approx(kappa, abs=0.0015)
        assert hh["percent_agreement"] == pytest.approx(
            {"therapist_behaviour": 0.804, "client_talk_type": 0.700}[task], abs=0.0015)
    # the context is the previous utterance of the transcript, whoever spoke it
    test = load_units(converted["therapist_behaviour"]["test"])
    first = test.keys.index("annomi_7\x1f0")
    second = test.keys.index("annomi_7\x1f2")
    assert test.contexts[first] == ""
    assert test.contexts[second].startswith("Um, it's really stupid.")


def test_small_study_runs_with_hashing_embedder(converted) -> None:
    from isp_nlp.coded.units import embed_units, load_units
    from isp_nlp.embed import HashingEmbedder
    from isp_nlp.suggest.evaluate import Split, StudyConfig, run_study

    paths = converted["therapist_behaviour"]
    emb = HashingEmbedder(256)
    train = embed_units(load_units(paths["train"]), emb)
    test = embed_units(load_units(paths["test"]), emb)
    res = run_study([Split(train, test)], StudyConfig(seed_per_label=[16], repeats=1),
                    test_all=test)
    assert res["n_test_units"] == 216
    assert 0.1 < res["model_human"]["mean_kappa"] < res["human_human"]["mean_pairwise_kappa"]
    assert np.isclose(res["risk_coverage"][0]["coverage"], 1.0)


def test_benchmark_codebook_covers_both_tasks(converted) -> None:
    from isp_nlp.coded.units import embed_units, load_units
    from isp_nlp.embed import HashingEmbedder
    from isp_nlp.suggest.evaluate import Split, StudyConfig, label_prototypes, run_study

    emb = HashingEmbedder(256)
    for task, labels in (("therapist_behaviour", 4), ("client_talk_type", 3)):
        paths = converted[task]
        train = embed_units(load_units(paths["train"]), emb)
        protos = label_prototypes(_annomi_module().CODEBOOK, train, emb)
        assert len(protos) == labels and all(v.shape[0] == 4 for v in protos.values())
    test = embed_units(load_units(paths["test"]), emb)
    res = run_study([Split(train, test)], StudyConfig(seed_per_label=[8], repeats=1),
                    test_all=test, prototypes=protos)
    assert res["n_test_units"] == 212 and res["model_human"]["mean_kappa"] is not None


def test_missing_shared_exits_2(monkeypatch, capsys) -> None:
    module = _annomi_module()
    monkeypatch.setattr(module, "ANNOMI", Path("/nonexistent/AnnoMI-full.csv"))
    assert module.main([]) == 2
    assert "shared" in capsys.readouterr().err


def test_active_simulation_and_ceiling_run(converted) -> None:
    from isp_nlp.coded.units import embed_units, load_units
    from isp_nlp.embed import HashingEmbedder
    from isp_nlp.suggest.evaluate import check_labels

    module = _annomi_module()
    paths = converted["therapist_behaviour"]
    emb = HashingEmbedder(256)
    train = embed_units(load_units(paths["train"]), emb).subset(np.arange(800))
    test = embed_units(load_units(paths["test"]), emb)
    labels = check_labels(train, test)[0]
    out = module.active_vs_random(train, test, labels, 6, 1, 0, rounds=2)
    assert out["n_seeds"] == 24 and len(out["active"]) == 1
    assert all(-1.0 <= out[f"{n}_mean"] <= 1.0
               for n in ("active", "random", "stratified_random", "whole_transcripts"))
    rows = module._whole_transcripts({"a": [0, 1, 2], "b": [3, 4]}, ["a", "b"], 4,
                                     np.random.default_rng(0))
    assert len(rows) == 4 and (rows[:3].tolist() in ([0, 1, 2], [3, 4, 0]))
    cap = module.ceiling(train, test)
    assert cap["n_seeds"] == 800 and 0.0 < cap["mean_kappa"] < 1.0


def test_markdown_states_ceiling_and_active_verdict(tmp_path: Path) -> None:
    module = _annomi_module()
    curve = [{"seed_per_label": 32, "mean_kappa": 0.61, "sd": 0.01,
              "krippendorff_alpha_with_model": 0.7, "macro_f1": 0.7, "accuracy": 0.7,
              "fit_predict_seconds_per_repeat": 3.0}]
    task = {"n_test_units": 216, "n_train_units": 4666, "labels": ["a", "b"],
            "human_human": {"mean_pairwise_kappa": 0.737, "krippendorff_alpha": 0.737},
            "learning_curve": curve, "model_human": {"seed_per_label": 32},
            "per_label": {}, "risk_coverage": [], "certified": None,
            "ceiling": {"n_seeds": 4666, "mean_kappa": 0.682, "macro_f1": 0.77,
                        "accuracy": 0.78},
            "active_vs_random": [
                {"seed_per_label": 8, "n_seeds": 32, "active": [0.5, 0.52],
                 "random": [0.5, 0.5], "active_mean": 0.51, "random_mean": 0.50,
                 "stratified_random_mean": 0.55, "difference_mean": 0.01,
                 "difference_se": 0.01, "active_wins": 0.5},
                {"seed_per_label": 32, "n_seeds": 128, "active": [0.6, 0.6],
                 "random": [0.6, 0.62], "active_mean": 0.60, "random_mean": 0.61,
                 "stratified_random_mean": 0.62, "difference_mean": -0.01,
                 "difference_se": 0.01, "active_wins": 0.0}]}
    task["without_codebook"] = {"learning_curve": [{**curve[0], "mean_kappa": 0.6}]}
    results = {"config": {"embedder": "e", "repeats": 3, "codebook": "annomi_codebook.yaml",
                          "prototype_weight": 0.3},
               "tasks": {"therapist_behaviour": task}}
    path = tmp_path / "annomi.md"
    module.write_markdown(results, path)
    text = path.read_text(encoding="utf-8")
    assert ("with all 4666 TRAIN utterances as seeds (no codebook) the model reaches kappa "
            "0.682") in text
    assert "misses the target 0.70 by 0.090" in text
    assert "Without the codebook (seeds only): K = 32: 0.600." in text
    assert "`evaluation/annomi_codebook.yaml`" in text and "give 30% of each prediction" in text
    assert "does not beat random at every K: it ties random at K = 8 (+0.010 ± 0.010)" in text
    assert "over 2 paired repeats" in text
    assert "| 8 | 32 | 0.510 | 0.500 | +0.010 ± 0.010 | 50% of repeats | 0.550 |" in text


def test_active_verdict_weighs_the_difference_against_its_noise() -> None:
    verdict = _annomi_module("annomi_report").active_verdict

    def point(k, d, se):
        return {"seed_per_label": k, "difference_mean": d, "difference_se": se}

    assert verdict([point(8, 0.03, 0.01), point(32, 0.02, 0.005)]).startswith(
        "the rule beats random at every K: it beats random at K = 8 (+0.030 ± 0.010); "
        "beats random at K = 32")
    mixed = verdict([point(8, 0.0003, 0.014), point(32, 0.02, 0.005)])
    assert mixed.startswith("the rule does not beat random at every K")
    assert "ties random at K = 8 (+0.000 ± 0.014)" in mixed
    assert "loses to random at K = 8" in verdict([point(8, -0.05, 0.01)])
    assert "nothing to compare" in verdict([point(8, None, None)])
