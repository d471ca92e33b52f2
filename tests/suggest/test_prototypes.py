"""Zero-shot code suggestions from codebook definitions and examples (prototypes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from isp_nlp.errors import ModelError
from isp_nlp.records import Code
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.calibration import THRESHOLD_GRID
from isp_nlp.suggest.prototypes import (
    FALLBACK_A,
    FALLBACK_B,
    Prototypes,
    embed_prototypes,
    fit_prototypes,
    prototype_texts,
)
from isp_nlp.suggest.trainer import TrainParams, train_suggester
from tests.builders.paths import CORPUS

CODES = ["a", "b", "z"]  # z: in the codebook, never applied by a coder
STAGES = ["push", "push_pull", "exchange", "none"]
EMB_ONLY = TrainParams(context_weight=0.0, word_weight=0.0, char_weight=0.0, surface_weight=0.0)
DIM = 8


def _near(direction: int, n: int, rng: np.random.Generator, noise: float = 0.15) -> np.ndarray:
    X = rng.normal(scale=noise, size=(n, DIM))
    X[:, direction] += 1.0
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _axis(i: int) -> np.ndarray:
    return np.eye(DIM, dtype=np.float32)[i][None, :]


#: Codes a, b and z point along axes 0, 1 and 2; axis 3 is "unrelated" talk.
PROTOS = {"a": _axis(0), "b": _axis(1), "z": np.vstack([_axis(2), _axis(2) + 0.2 * _axis(4)])}


def _seed(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.vstack([_near(0, 12, rng), _near(1, 12, rng), _near(3, 12, rng)])
    codes = [{"a"}] * 12 + [{"b"}] * 12 + [set()] * 12
    stages = ["push"] * 12 + ["exchange"] * 12 + ["none"] * 12
    ids = [f"s{i}" for i in range(len(codes))]
    return X, ids, codes, stages


def _train(prototypes=PROTOS, codes=None, stages=None) -> tuple[SuggesterModel, np.ndarray]:
    X, ids, seed_codes, seed_stages = _seed()
    return train_suggester(
        X, ids, [""] * len(ids), seed_codes if codes is None else codes,
        {"stage": seed_stages if stages is None else stages}, code_labels=CODES,
        value_labels={"stage": STAGES},
        embedder_id="toy-8", params=EMB_ONLY, prototype_embeddings=prototypes,
    ), X


def test_prototype_texts() -> None:
    full = Code("c", "Peer learning", definition="Sites learn from each other.",
                include="Collaboratives.", examples=("We met monthly.", " ", "They copied it."))
    assert prototype_texts(full) == [
        "Peer learning: Sites learn from each other. (Collaboratives.)",
        "We met monthly.", "They copied it."]
    assert prototype_texts(Code("c", "Leadership")) == ["Leadership"]
    assert prototype_texts(Code("c", "Teams", include="Steering groups")) == [
        "Teams (Steering groups)"]
    embedded = embed_prototypes([full, Code("d", "Leadership")],
                                lambda texts: np.arange(len(texts) * 2.0).reshape(-1, 2))
    assert [v.shape for v in embedded.values()] == [(3, 2), (1, 2)]
    np.testing.assert_array_equal(embedded["d"], [[6.0, 7.0]])


def test_zero_shot_code_is_suggested_where_the_codebook_matches() -> None:
    model, _ = _train()
    assert model.zero_shot_codes == ["z"]
    assert model.prototypes is not None and model.prototypes.source == "learned"
    rng = np.random.default_rng(5)
    near_z = np.vstack([_near(2, 10, rng), _near(4, 1, rng, 0.0) * 0.2 + _axis(2)])
    unrelated = np.vstack([_near(0, 10, rng), _near(3, 10, rng)])
    p_near = model.predict_code_proba(near_z)[:, 2]
    p_far = model.predict_code_proba(unrelated)[:, 2]
    assert (p_near >= model.code_threshold).all() and p_near.min() > 0.9
    assert (p_far < model.code_threshold).all() and p_far.max() < 0.1
    labels = {(s.segment_id, s.label): s.suggested
              for s in model.suggest(near_z[:2], ["n0", "n1"], top_evidence=1)}
    assert labels[("n0", "z")] and labels[("n1", "z")] and not labels[("n0", "a")]
    assert model.manifest["zero_shot_codes"] == ["z"]
    assert model.manifest["prototype_map"]["source"] == "learned"


def test_zero_shot_code_is_suggested_on_about_a_seeded_codes_share() -> None:
    """Half the seed segments resemble z's definition but no coder applied z: the balanced
    Platt map alone would suggest z on all of them; the floor keeps z to the share of a
    typical seeded code (a and b: a quarter each)."""
    rng = np.random.default_rng(3)
    X = np.vstack([_near(0, 12, rng), _near(1, 12, rng), _near(2, 24, rng, noise=0.25)])
    codes = [{"a"}] * 12 + [{"b"}] * 12 + [set()] * 24
    ids = [f"s{i}" for i in range(len(codes))]
    model = train_suggester(X, ids, [""] * len(ids), codes, {"stage": [None] * len(ids)},
                            code_labels=CODES, value_labels={"stage": STAGES},
                            embedder_id="toy-8",
                            params=EMB_ONLY, prototype_embeddings=PROTOS)
    p_z = model.predict_code_proba(X)[:, 2]
    assert np.mean(p_z >= model.code_threshold) >= 0.45  # what the map alone would suggest
    floor = model.prototypes.floors[2]
    assert np.isnan(model.prototypes.floors[:2]).all() and floor > model.code_threshold
    np.testing.assert_allclose(model.code_thresholds, [model.code_threshold] * 2 + [floor])
    suggested = [s.suggested for s in model.suggest(X, ids, top_evidence=0) if s.label == "z"]
    assert 0.2 <= np.mean(suggested) <= 0.3
    assert model.manifest["prototype_map"]["zero_shot_floors"] == {"z": round(floor, 4)}
    lowered = model.with_thresholds(code=0.2)  # an override never undercuts the floor
    assert lowered.code_thresholds[2] == floor and lowered.code_thresholds[0] == 0.2


def test_floors_round_trip_and_models_without_floors_still_load(tmp_path: Path) -> None:
    model, X = _train()
    assert model.prototypes.floors is not None
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as npz:
        assert "prototypes/floors" in npz.files
    loaded = SuggesterModel.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.prototypes.floors, model.prototypes.floors)
    np.testing.assert_array_equal(loaded.code_thresholds, model.code_thresholds)
    model.prototypes = Prototypes(**{**model.prototypes.__dict__, "floors": None})
    model.save(tmp_path / "before-floors")  # the layout saved before floors existed
    old = SuggesterModel.load(tmp_path / "before-floors")
    assert old.prototypes.floors is None
    np.testing.assert_array_equal(old.code_thresholds, [old.code_threshold] * 3)
    with pytest.raises(ValueError, match="floors"):
        Prototypes(**{**model.prototypes.__dict__, "floors": np.zeros(2)})


def test_seeded_codes_are_unaffected_by_prototypes() -> None:
    with_p, X = _train()
    without, _ = _train(prototypes=None)
    rng = np.random.default_rng(7)
    test = np.vstack([X, _near(2, 5, rng)])
    pw, po = with_p.predict_code_proba(test), without.predict_code_proba(test)
    np.testing.assert_array_equal(pw[:, :2], po[:, :2])
    np.testing.assert_array_equal(po[:, 2], 0.0)  # without prototypes: never suggested
    assert pw[-5:, 2].min() > 0.5
    np.testing.assert_array_equal(with_p.predict_value_proba(test),
                                  without.predict_value_proba(test))
    assert without.zero_shot_codes == [] and without.manifest["zero_shot_codes"] == []
    assert "prototype_map" not in without.manifest


def test_save_load_round_trip_without_pickle(tmp_path: Path) -> None:
    model, X = _train()
    model.save(tmp_path / "m")
    loaded = SuggesterModel.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_code_proba(X), model.predict_code_proba(X))
    assert loaded.suggest(X[:3], ["x", "y", "w"]) == model.suggest(X[:3], ["x", "y", "w"])
    assert loaded.zero_shot_codes == ["z"] and loaded.model_id == model.model_id
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format_version"] == 5 and config["prototypes"]["source"] == "learned"
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as npz:
        assert {"prototypes/vectors", "prototypes/rows"} <= set(npz.files)
        assert all(npz[k].dtype != object for k in npz.files)


def test_bundle_without_prototypes_loads_and_hash_covers_them(tmp_path: Path) -> None:
    model, X = _train()
    plain, _ = _train(prototypes=None)
    plain.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    assert config["prototypes"] is None and config["format_version"] == 5
    loaded = SuggesterModel.load(tmp_path / "old")
    assert loaded.prototypes is None
    np.testing.assert_array_equal(loaded.predict_code_proba(X), plain.predict_code_proba(X))
    assert model.content_hash() != plain.content_hash()
    shifted = Prototypes(**{**model.prototypes.__dict__, "b": model.prototypes.b + 1.0})
    model.prototypes = shifted
    assert model.content_hash() != plain.content_hash()
    model.save(tmp_path / "new")
    path = tmp_path / "new" / "config.json"
    edited = json.loads(path.read_text())
    edited["prototypes"]["a"] = 1.0
    path.write_text(json.dumps(edited))
    with pytest.raises(ModelError, match="do not match the model_id"):
        SuggesterModel.load(tmp_path / "new")


def test_platt_map_is_learned_or_the_documented_fallback() -> None:
    X, _, codes, _ = _seed()
    Y = np.array([[c in row for c in CODES] for row in codes], dtype=int)
    learned = fit_prototypes(CODES, PROTOS, X, Y)
    assert learned.source == "learned" and learned.n_calibration_codes == 2
    assert learned.a > 5.0
    # 50 % lies between the negatives' (~0) and the positives' (~1) similarities
    assert 0.1 < -learned.b / learned.a < 0.9
    fallback = fit_prototypes(CODES, PROTOS, X, np.zeros_like(Y))
    assert fallback.source == "fallback" and fallback.n_calibration_codes == 0
    assert (fallback.a, fallback.b) == (FALLBACK_A, FALLBACK_B)
    half = _axis(2) + np.sqrt(3.0) * _axis(3)  # cosine 0.5 to z's first prototype
    np.testing.assert_allclose(fallback.predict_proba(half)[0, 2], 0.5, atol=1e-6)


def test_scores_handle_missing_prototypes_zero_and_nan_rows() -> None:
    protos = fit_prototypes(CODES, {"z": PROTOS["z"]}, np.zeros((0, DIM)),
                            np.zeros((0, 3), dtype=int))
    X = np.vstack([_axis(2), np.zeros((1, DIM)), np.full((1, DIM), np.nan)])
    s = protos.scores(X)
    assert np.isneginf(s[:, :2]).all()
    np.testing.assert_allclose(s[:2, 2], [1.0, 0.0], atol=1e-6)
    assert np.isneginf(s[2, 2])
    p = protos.predict_proba(X)
    np.testing.assert_array_equal(p[:, :2], 0.0)
    assert p[0, 2] > 0.99 and p[2, 2] == 0.0 and np.isfinite(p).all()


def test_bad_prototype_embeddings_are_model_errors() -> None:
    X, _, _, _ = _seed()
    Y = np.zeros((len(X), 3), dtype=int)
    with pytest.raises(ModelError, match="not among the model's codes"):
        fit_prototypes(CODES, {"q": _axis(0)}, X, Y)
    with pytest.raises(ModelError, match="have shape"):
        fit_prototypes(CODES, {"z": np.ones((1, DIM + 1))}, X, Y)


def test_stage_only_training_gives_codebook_suggestions_for_every_code() -> None:
    X, _, _, stages = _seed()
    model, _ = _train(codes=[None] * len(stages), stages=stages)
    assert model.code_estimator is None and model.zero_shot_codes == CODES
    assert model.prototypes.source == "fallback"
    p = model.predict_code_proba(_axis(1))
    assert p[0, 1] > 0.99 and p[0, 0] < 0.01


# ---- project level ---------------------------------------------------------------------

DOCS = ("isp01_child_welfare_coach", "isp02_prevention_coalitions", "isp03_perinatal_quality")


def test_train_project_suggests_a_code_nobody_applied(tmp_path: Path) -> None:
    from isp_nlp.pipeline import suggest_project, train_project
    from isp_nlp.project import import_codes, ingest_files, load_project_codebook
    from isp_nlp.store.folder import init_project, open_project

    seed = pd.read_csv(CORPUS / "seed_codes.csv", dtype=str, keep_default_na=False)
    seed = seed[seed["document"].isin(DOCS)]
    # isp03's peer-learning turns stay uncoded; they become the code's codebook examples
    held = seed[(seed["code"] == "peer_learning") & (seed["document"] == DOCS[2])]
    held_texts = sorted(set(held["text"]))
    assert len(held_texts) >= 2
    seed = seed[(seed["code"] != "peer_learning") & ~seed["text"].isin(held_texts)]
    seed.assign(stage="").to_csv(tmp_path / "seed.csv", index=False)  # codes only: faster
    book = yaml.safe_load((CORPUS / "codebook.yaml").read_text(encoding="utf-8"))
    for code in book["codes"]:
        if code["id"] == "peer_learning":
            code["examples"] = held_texts
    (tmp_path / "codebook.yaml").write_text(yaml.safe_dump(book), encoding="utf-8")

    init_project(tmp_path / "p", embedder="hashing-256")
    with open_project(tmp_path / "p") as store:
        load_project_codebook(store, tmp_path / "codebook.yaml")
        ingest_files(store, [next((CORPUS / "transcripts").glob(f"{d}.*")) for d in DOCS],
                     skip_speakers=("Interviewer",))
        import_codes(store, tmp_path / "seed.csv")
        result = train_project(store, folds=2)
        suggest_project(store)
        model_id = result["model_id"]
        manifest = json.loads((Path(result["path"]) / "manifest.json").read_text())
        stored = [s for s in store.suggestions(model_id) if s.label == "peer_learning"]
        cv = [s for s in store.out_of_fold(model_id) if s.label == "peer_learning"]
        all_cv = [s for s in store.out_of_fold(model_id)
                  if s.dimension == "code" and s.label != "peer_learning"]  # seeded codes
        registered = store.latest_model()["manifest"]
        text_of = {s.id: s.text for s in store.segments()}
        doc_of = {s.id: s.document for s in store.segments()}
    assert manifest["zero_shot_codes"] == ["peer_learning"] == result["zero_shot_codes"]
    assert manifest["prototype_map"]["source"] == "learned"
    assert "peer_learning" in manifest["prototype_map"]["zero_shot_floors"]
    saved = SuggesterModel.load(result["path"])
    cut = saved.code_thresholds[saved.code_labels.index("peer_learning")]
    assert cut >= result["code_threshold"]
    assert all(s.suggested == (s.probability >= cut) for s in stored)
    on_examples = [s for s in stored if text_of[s.segment_id] in held_texts]
    assert len(on_examples) == len(held_texts)
    assert all(s.suggested and s.probability > 0.9 for s in on_examples)
    others = [s.probability for s in stored if text_of[s.segment_id] not in held_texts]
    assert others and max(others) < min(s.probability for s in on_examples)
    assert cv and any(s.probability > 0 for s in cv)
    # zero-shot in every fold, so its out-of-fold flags also need the fold models' floors
    at_threshold = sum(s.probability >= result["code_threshold"] for s in cv)
    assert sum(s.suggested for s in cv) < 0.5 * at_threshold
    # the code threshold is chosen on the out-of-fold suggestions, which then use it
    threshold = result["code_threshold"]
    assert result["code_threshold_from_cv"] and threshold in THRESHOLD_GRID
    assert manifest["code_threshold_from"] == "out-of-fold kappa"
    assert manifest["code_threshold"] == threshold
    assert manifest["model_id"] == model_id
    assert registered["code_threshold"] == threshold
    # agreement's out-of-fold codes use a threshold chosen without their own fold
    for doc in {doc_of[s.segment_id] for s in all_cv}:
        flags = [(s.probability, s.suggested) for s in all_cv if doc_of[s.segment_id] == doc]
        assert any(all(flag == (p >= t) for p, flag in flags) for t in (*THRESHOLD_GRID, 0.5))
    from click.testing import CliRunner

    from isp_nlp.cli import cli

    out = CliRunner().invoke(cli, ["--project", str(tmp_path / "p"), "train", "--folds", "2"])
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())  # the summary wraps at 80 columns
    assert "No coder has applied 1 code(s) yet (peer_learning)" in said
    assert "zero-shot" in said
    assert "chosen on the out-of-fold suggestions to agree best with the coders" in said
