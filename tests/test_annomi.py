"""The AnnoMI conversion on the real CSV: counts and the published human-human kappa."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ANNOMI = Path(__file__).resolve().parents[2] / "shared" / "data" / "annomi" / "AnnoMI-full.csv"


def _annomi_module():
    spec = importlib.util.spec_from_file_location("annomi_study", REPO / "evaluation" /
                                                  "annomi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not ANNOMI.is_file():
        pytest.skip("../shared not found: real-data test needs the shared data folder")
    return _annomi_module().convert(ANNOMI, tmp_path_factory.mktemp("annomi"))


def test_counts_and_human_human_kappa(converted) -> None:
    from isp_nlp.evaluate import human_human, load_units

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
        hh = human_human(test, labels)
        assert hh["mean_pairwise_kappa"] == pytest.approx(kappa, abs=0.0015)
    # the context is the previous utterance of the transcript, whoever spoke it
    test = load_units(converted["therapist_behaviour"]["test"])
    first = test.keys.index("annomi_7\x1f0")
    second = test.keys.index("annomi_7\x1f2")
    assert test.contexts[first] == ""
    assert test.contexts[second].startswith("Um, it's really stupid.")


def test_small_study_runs_with_hashing_embedder(converted) -> None:
    from isp_nlp.embed import HashingEmbedder
    from isp_nlp.evaluate import Split, StudyConfig, embed_units, load_units, run_study

    paths = converted["therapist_behaviour"]
    emb = HashingEmbedder(256)
    train = embed_units(load_units(paths["train"]), emb)
    test = embed_units(load_units(paths["test"]), emb)
    res = run_study([Split(train, test)], StudyConfig(seed_per_label=[16], repeats=1),
                    test_all=test)
    assert res["n_test_units"] == 216
    assert 0.1 < res["model_human"]["mean_kappa"] < res["human_human"]["mean_pairwise_kappa"]
    assert np.isclose(res["coverage_at_abstain"][0]["coverage"], 1.0)


def test_missing_shared_exits_2(monkeypatch, capsys) -> None:
    module = _annomi_module()
    monkeypatch.setattr(module, "ANNOMI", Path("/nonexistent/AnnoMI-full.csv"))
    assert module.main([]) == 2
    assert "shared" in capsys.readouterr().err
