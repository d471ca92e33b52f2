"""Suggesters: learning a synthetic task, save/load, evidence, abstaining.

scikit-learn's common estimator checks are in test_estimator_checks.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from isp_nlp.embed import HashingEmbedder
from isp_nlp.errors import ModelError
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.estimators import CodeSuggester, ValueClassifier
from isp_nlp.suggest.evidence import nearest_exemplars, uncertainty_scores
from isp_nlp.suggest.trainer import (
    TrainParams,
    train_single_label,
    train_suggester,
    training_data_hash,
)
from tests.builders.synthetic import CODES, STAGE_LABELS, synthetic

EMB = HashingEmbedder(256)
#: These tests exercise the bundle on plain embedding matrices, so the text-based feature
#: blocks (on by default; see test_suggest_features.py) are switched off here.
EMB_ONLY = TrainParams(context_weight=0.0, word_weight=0.0, char_weight=0.0, surface_weight=0.0)


@pytest.fixture(scope="module")
def trained() -> tuple[SuggesterModel, np.ndarray, list[str]]:
    texts, codes, stages = synthetic(48, seed=1)
    ids = [f"seg-{i}" for i in range(len(texts))]
    X = EMB.encode(texts)
    model = train_suggester(X, ids, texts, codes, {"stage": stages}, code_labels=CODES,
                            value_labels={"stage": STAGE_LABELS}, embedder_id=EMB.model_id,
                            params=EMB_ONLY)
    return model, X, ids


def test_suggester_learns_the_synthetic_task(trained) -> None:
    model, _, _ = trained
    texts, codes, stages = synthetic(40, seed=99)
    X = EMB.encode(texts)
    code_p = model.predict_code_proba(X)
    truth = np.array([[c in row for c in CODES] for row in codes])
    per_code_acc = ((code_p >= 0.5) == truth).mean(axis=0)
    assert per_code_acc[0] >= 0.9 and per_code_acc[1] >= 0.9 and per_code_acc[2] >= 0.8
    np.testing.assert_array_equal(code_p[:, 3], 0.0)  # no positives: training prevalence
    stage_p = model.predict_value_proba(X, "stage")
    predicted = np.array(model.value_classes("stage"))[stage_p.argmax(axis=1)]
    assert (predicted == np.array(stages)).mean() >= 0.9
    assert sorted(model.value_classes("stage")) == ["exchange", "push"]


def test_code_suggester_constant_columns_predict_prevalence() -> None:
    X = np.random.default_rng(0).normal(size=(20, 5))
    Y = np.zeros((20, 3), dtype=int)
    Y[:, 0] = 1
    Y[::2, 2] = 1
    est = CodeSuggester().fit(X, Y)
    proba = est.predict_proba(X)
    np.testing.assert_array_equal(proba[:, 0], 1.0)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    assert est.fitted_mask_.tolist() == [False, False, True]
    assert est.predict(X).shape == (20, 3)


def test_code_suggester_contract_with_indicator_targets() -> None:
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(30, 4)), (rng.random((30, 2)) > 0.5).astype(int)
    est = CodeSuggester(C=0.5)
    assert est.fit(X, Y) is est and est.n_features_in_ == 4
    first = est.predict_proba(X)
    np.testing.assert_allclose(clone(est).fit(X, Y).predict_proba(X), first)
    with pytest.raises(ValueError, match="2-D"):
        CodeSuggester().fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="0 and 1"):
        CodeSuggester().fit(X, Y * 2)
    with pytest.raises(ValueError, match="features"):
        est.predict_proba(X[:, :3])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        CodeSuggester().fit(bad, Y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_learned_state_round_trips_without_pickle(n_classes: int) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 6))
    y = np.resize(np.array(["push", "exchange", "none"][:n_classes]), 30)
    for est, target in ((ValueClassifier(C=2.0), y),
                        (CodeSuggester(), (rng.random((30, 3)) > 0.5).astype(int))):
        est.fit(X, target)
        state, arrays = est.get_learned_state()
        state = json.loads(json.dumps(state))
        again = type(est).from_learned_state(est.get_params(), state, arrays)
        np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(again.predict(X), est.predict(X))


def test_save_load_gives_identical_predictions(trained, tmp_path: Path) -> None:
    model, X, ids = trained
    model.save(tmp_path / "m")
    loaded = SuggesterModel.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_code_proba(X), model.predict_code_proba(X))
    np.testing.assert_array_equal(loaded.predict_value_proba(X, "stage"),
                                  model.predict_value_proba(X, "stage"))
    assert loaded.suggest(X[:5], ids[:5]) == model.suggest(X[:5], ids[:5])
    assert loaded.model_id == model.model_id == model.manifest["model_id"]
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
        assert "code/coef_" in npz.files and "dimensions/0/estimator/coef_" in npz.files


def test_manifest_records_provenance(trained, tmp_path: Path) -> None:
    model, _, ids = trained
    model.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert set(manifest["versions"]) >= {"isp_nlp", "numpy", "scikit-learn",
                                         "sentence-transformers"}
    assert manifest["code_labels"] == CODES
    assert manifest["dimension_labels"] == {"stage": STAGE_LABELS}
    assert manifest["n_training_segments"] == len(ids) == 48
    assert manifest["embedder_id"] == "hashing-256" and manifest["skipped"] == {}
    assert manifest["created_at"].endswith("+00:00")
    texts, codes, stages = synthetic(48, seed=1)
    expected = training_data_hash(ids, codes, {"stage": stages})
    assert manifest["training_data_hash"] == expected
    assert training_data_hash(ids[::-1], codes[::-1], {"stage": stages[::-1]}) == expected
    assert training_data_hash(ids, codes, {"stage": stages[::-1]}) != expected
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["hyper_parameters"]["code_C"] == 1.0 and config["code_labels"] == CODES


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda d: (d / "manifest.json").unlink(), "has no manifest.json"),
        (lambda d: (d / "weights.npz").write_bytes(b"not a zip"), "is not a numpy .npz archive"),
        (lambda d: (d / "config.json").write_text("{oops", encoding="utf-8"), "not readable JSON"),
        (lambda d: (d / "config.json").write_text("[]", encoding="utf-8"), "JSON list"),
        (lambda d: _edit_config(d, code_threshold=0.9), "do not match the model_id"),
        (lambda d: _edit_config(d, format_version=99), "version 99"),
    ],
)
def test_damaged_model_folder_raises_model_error(trained, tmp_path: Path, damage, match) -> None:
    model, _, _ = trained
    folder = model.save(tmp_path / "m")
    damage(folder)
    with pytest.raises(ModelError, match=match):
        SuggesterModel.load(folder)


def _edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_pickled_array_is_refused(trained, tmp_path: Path) -> None:
    model, _, _ = trained
    folder = model.save(tmp_path / "m")
    np.savez(folder / "weights.npz", exemplars=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ModelError, match="weights.npz"):
        SuggesterModel.load(folder)


def test_missing_folder_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no manifest.json"):
        SuggesterModel.load(tmp_path / "absent")


def test_suggestions_and_evidence(trained) -> None:
    model, X, ids = trained
    suggestions = model.suggest(X[:3], ids[:3], top_evidence=4)
    assert len(suggestions) == 3 * (len(CODES) + 1)
    by_seg = {sid: [s for s in suggestions if s.segment_id == sid] for sid in ids[:3]}
    for sid, items in by_seg.items():
        assert [s.label for s in items if s.dimension == "code"] == CODES
        (stage,) = [s for s in items if s.dimension == "stage"]
        assert stage.label in ("push", "exchange")
        for s in items:
            assert s.model_id == model.model_id
            assert len(s.evidence) == 4
            assert sid not in {e.segment_id for e in s.evidence}
            sims = [e.similarity for e in s.evidence]
            assert sims == sorted(sims, reverse=True)
            assert s.suggested == (s.probability >= 0.5)
        assert all(e.labels[0] in ("push", "exchange") for e in stage.evidence)
    first_training = next(s for s in by_seg["seg-0"] if s.label == "training")
    assert first_training.suggested  # seg-0 is a training sentence
    assert all("training" in e.labels for e in first_training.evidence[:2])


def test_unseen_segment_can_use_every_exemplar(trained) -> None:
    model, X, _ = trained
    suggestions = model.suggest(X[:1], ["new-segment"], top_evidence=100)
    assert len(suggestions[0].evidence) == 48
    assert suggestions[0].evidence[0].segment_id == "seg-0"
    assert suggestions[0].evidence[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_nearest_exemplars_excludes_self_and_handles_small_k() -> None:
    E = np.eye(3, dtype=np.float32)
    idx, sims = nearest_exemplars(E, ["a", "x", "c"], E, ["a", "b", "c"], k=3)
    assert idx[0].tolist() == [1, 2, -1] and np.isnan(sims[0, 2])  # "a" never matches itself
    assert idx[1].tolist() == [1, 0, 2]  # "x" is not an exemplar, ties keep exemplar order
    assert idx[2].tolist() == [0, 1, -1]
    idx, sims = nearest_exemplars(E[[0, 2]], ["a", "c"], E, ["a", "b", "c"], k=5)
    assert idx.tolist() == [[1, 2], [0, 1]] and sims.shape == (2, 2)
    idx0, _ = nearest_exemplars(E[:1], ["a"], E, ["a", "b", "c"], k=0)
    assert idx0.shape == (1, 0)
    with pytest.raises(ValueError, match="one id per row"):
        nearest_exemplars(E, ["a"], E, ["a", "b", "c"], k=1)


def test_abstaining(trained) -> None:
    model, X, ids = trained
    strict = model.with_thresholds(code=1.01, values=1.01)
    suggestions = strict.suggest(X[:5], ids[:5])
    assert not any(s.suggested for s in suggestions)
    lax = model.with_thresholds(code=0.0, values=0.0)
    assert all(s.suggested for s in lax.suggest(X[:5], ids[:5]))


def test_uncertainty_orders_borderline_first(trained) -> None:
    scores = uncertainty_scores(np.array([[0.5, 0.99], [0.99, 0.01]]),
                                np.array([[0.5, 0.5], [1.0, 0.0]]))
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.05
    model, X, _ = trained
    u = model.uncertainty(X)
    assert u.shape == (48,) and ((u >= 0) & (u <= 1)).all()


def test_wrong_embedding_dimension_is_a_model_error(trained) -> None:
    model, _, _ = trained
    with pytest.raises(ModelError, match="expected \\(n, 256\\) from embedder hashing-256"):
        model.suggest(np.zeros((2, 384), dtype=np.float32), ["a", "b"])


# ---- trainer: what is trained from what ----------------------------------------------

def _train(codes, stages, **kw):
    texts = [f"text number {i} about training" for i in range(len(codes))]
    X = EMB.encode(texts)
    return train_suggester(X, [f"s{i}" for i in range(len(codes))], texts, codes,
                           {"stage": stages}, code_labels=kw.pop("code_labels", ["a", "b"]),
                           value_labels={"stage": STAGE_LABELS}, embedder_id=EMB.model_id,
                           params=kw.pop("params", EMB_ONLY), **kw)


def test_no_coded_segments_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="isp-nlp import-codes"):
        _train([None, None], [None, None])


def test_single_stage_skips_stage_model_but_trains_codes() -> None:
    model = _train([{"a"}, set(), {"b"}, None], ["push", "push", None, "push"])
    assert "stage" not in model.dimensions and model.code_estimator is not None
    assert "2 distinct values" in model.manifest["skipped"]["stage"]
    assert model.manifest["n_code_segments"] == 3
    assert all(s.dimension == "code" for s in model.suggest(model.exemplars, ["z"] * 4))


def test_stage_only_training_when_no_code_annotations() -> None:
    model = _train([None] * 4, ["push", "exchange", "push", "exchange"])
    assert model.code_estimator is None and "stage" in model.dimensions
    assert model.manifest["skipped"]["code"] == "no segment has a code annotation"


def test_nothing_trainable_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="Nothing can be trained"):
        _train([None, None], ["push", "push"])


def test_empty_code_set_means_negative_for_every_code() -> None:
    model = _train([{"a"}, set(), set(), {"a"}], [None] * 4, code_labels=["a", "b"])
    assert model.code_estimator.fitted_mask_.tolist() == [True, False]
    assert model.code_estimator.prior_.tolist() == [0.5, 0.0]


@pytest.mark.parametrize(
    "codes, stages, match",
    [
        ([{"zzz"}, set()], [None, None], "not in the codebook"),
        ([{"a"}, set()], ["push", "later"], "stage 'later'"),
        ([{"a"}], ["push", "push"], "differ in length"),
    ],
)
def test_bad_training_input_is_a_model_error(codes, stages, match) -> None:
    texts = ["one", "two"]
    with pytest.raises(ModelError, match=match):
        train_suggester(EMB.encode(texts), ["s0", "s1"], texts, codes, {"stage": stages},
                        code_labels=["a"], value_labels={"stage": STAGE_LABELS},
                        embedder_id="h")


def test_duplicate_segment_ids_are_a_model_error() -> None:
    texts = ["one", "two"]
    with pytest.raises(ModelError, match="appears twice"):
        train_suggester(EMB.encode(texts), ["s0", "s0"], texts, [{"a"}, set()],
                        {"stage": [None, None]}, code_labels=["a"],
                        value_labels={"stage": STAGE_LABELS}, embedder_id="h")


def test_params_are_used_and_recorded() -> None:
    params = replace(EMB_ONLY, code_C=0.1, code_threshold=0.7, value_threshold=0.6)
    model = _train([{"a"}, set(), {"b"}, set()], ["push", "exchange", "push", "exchange"],
                   params=params)
    assert model.code_estimator.C == 0.1 and model.code_estimator.threshold == 0.7
    assert model.code_threshold == 0.7 and model.thresholds == {"stage": 0.6}
    assert model.manifest["hyper_parameters"]["code_C"] == 0.1


def test_single_label_codebook_prototypes_are_a_weighted_prior() -> None:
    from isp_nlp.coded.batch import SegmentBatch
    from isp_nlp.suggest.prototypes import stack_prototypes

    PROTOTYPE_WEIGHT = TrainParams().prototype_weight

    rng = np.random.default_rng(0)
    eye = np.eye(6)
    # two seeds per label, noisy; the codebook points exactly along each label's axis
    X = np.vstack([eye[j] + rng.normal(scale=0.6, size=6) for j in (0, 0, 1, 1, 2, 2)])
    y = ["a", "a", "b", "b", "c", "c"]
    batch = SegmentBatch(tuple(f"s{i}" for i in range(6)), ("",) * 6, X.astype(np.float32))
    protos = {"a": eye[0][None], "b": eye[1][None], "c": eye[2][None], "unused": eye[3][None]}
    emb_only = EMB_ONLY
    plain = train_single_label(batch, y, params=emb_only)
    fused = train_single_label(batch, y, params=emb_only, prototypes=protos)
    test = SegmentBatch(("t0", "t1", "t2"), ("",) * 3, eye[:3].astype(np.float32))
    prior = stack_prototypes(list("abc"), {k: protos[k] for k in "abc"}).class_proba(
        eye[:3], ["a", "b", "c"])
    assert prior.argmax(axis=1).tolist() == [0, 1, 2] and np.allclose(prior.sum(axis=1), 1)
    np.testing.assert_allclose(
        fused.predict_value_proba(test),
        (1 - PROTOTYPE_WEIGHT) * plain.predict_value_proba(test) + PROTOTYPE_WEIGHT * prior)
    assert [fused.value_classes()[j] for j in fused.predict_value_proba(test).argmax(axis=1)] \
        == ["a", "b", "c"]
    with pytest.raises(ModelError, match="no definition or example for c"):
        train_single_label(batch, y, params=emb_only, prototypes={"a": eye[0], "b": eye[1]})


def _rehash(folder: Path) -> None:
    """Recompute the model id after a deliberate edit, as a careful attacker would."""
    from isp_nlp.suggest.bundle_io import content_hash

    config = json.loads((folder / "config.json").read_text())
    with np.load(folder / "weights.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model_id"] = content_hash(config, arrays)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("key", "value"), [
    ("code_threshold", float("nan")), ("stage threshold", 1.5), ("code_threshold", "0.4"),
    ("stage prototype_weight", -0.1)])
def test_thresholds_outside_0_1_are_refused_even_with_a_matching_hash(
        trained, tmp_path: Path, key: str, value) -> None:
    model, _, _ = trained
    folder = model.save(tmp_path / "m")
    if key.startswith("stage "):
        _edit_dimension(folder, **{key.removeprefix("stage "): value})
    else:
        _edit_config(folder, **{key: value})
    _rehash(folder)
    with pytest.raises(ModelError, match=f"has {key} = .*expected a number from 0 to 1"):
        SuggesterModel.load(folder)


def _edit_dimension(folder: Path, **changes) -> None:
    """Edit the first dimension's entry of config.json."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config["dimensions"][0].update(changes)
    path.write_text(json.dumps(config))


def test_a_model_saved_before_dimensions_asks_to_train_again(trained, tmp_path: Path) -> None:
    model, _, _ = trained
    folder = model.save(tmp_path / "m")
    _edit_config(folder, format_version=4)
    with pytest.raises(ModelError, match=r"format version 4\) .*run `isp-nlp train` again\.$"):
        SuggesterModel.load(folder)


def test_an_extra_or_oversized_array_is_refused_before_loading(
        trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _, _ = trained
    folder = model.save(tmp_path / "m")
    with np.load(folder / "weights.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez(folder / "weights.npz", **arrays, payload=np.zeros(10))
    with pytest.raises(ModelError, match="holds 'payload.npy', which no part of the model uses"):
        SuggesterModel.load(folder)
    np.savez(folder / "weights.npz", **arrays)
    assert SuggesterModel.load(folder).manifest == model.manifest
    monkeypatch.setattr("isp_nlp.suggest.bundle_io.MAX_ARRAY_BYTES", 1000)
    with pytest.raises(ModelError, match="refused before loading"):
        SuggesterModel.load(folder)


def test_deeply_nested_json_is_a_model_error(trained, tmp_path: Path) -> None:
    model, _, _ = trained
    folder = model.save(tmp_path / "m")
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="nested too deeply"):
        SuggesterModel.load(folder)


def test_random_bytes_in_a_zip_never_advise_pickle(trained, tmp_path: Path) -> None:
    import zipfile

    model, _, _ = trained
    folder = model.save(tmp_path / "m")
    with zipfile.ZipFile(folder / "weights.npz", "w") as z:
        z.writestr("exemplars.npy", bytes(range(256)) * 4)
    with pytest.raises(ModelError) as info:
        SuggesterModel.load(folder)
    assert "pickle" not in str(info.value) and "weights.npz" in str(info.value)


def test_suggesting_in_chunks_gives_the_same_suggestions(
        trained, monkeypatch: pytest.MonkeyPatch) -> None:
    model, X, ids = trained
    whole = model.suggest(X, ids, top_evidence=2)
    monkeypatch.setattr("isp_nlp.suggest.bundle.SUGGEST_CHUNK", 5)
    chunked = model.suggest(X, ids, top_evidence=2)

    def shape(items):  # all but the floats, which BLAS may round differently per batch
        return [(s.segment_id, s.dimension, s.label, bool(s.suggested),
                 [(e.segment_id, e.labels) for e in s.evidence]) for s in items]

    assert shape(chunked) == shape(whole) and len(whole) == len(ids) * (len(CODES) + 1)
    np.testing.assert_allclose([s.probability for s in chunked],
                               [s.probability for s in whole], atol=1e-9)
    np.testing.assert_allclose([e.similarity for s in chunked for e in s.evidence],
                               [e.similarity for s in whole for e in s.evidence], atol=1e-9)


@pytest.mark.parametrize(("bad", "extra"), [(-1.0, 0), (1.0, 1), ("x", 0), (float("nan"), 0)])
def test_bad_stage_prior_weights_are_refused_even_with_a_matching_hash(
        trained, tmp_path: Path, bad, extra: int) -> None:
    model, _, _ = trained
    n = len(model.value_classes("stage"))
    weighted = {"stage": replace(model.dimension("stage"),
                                 prior_weights=np.linspace(0.5, 2.0, n))}
    folder = replace(model, dimensions=weighted).save(tmp_path / "m")
    assert SuggesterModel.load(folder).dimension("stage").prior_weights == pytest.approx(
        np.linspace(0.5, 2.0, n))
    _edit_dimension(folder, prior_weights=[bad] * (n + extra))
    _rehash(folder)
    with pytest.raises(ModelError, match="incomplete or inconsistent"):
        SuggesterModel.load(folder)
