"""Suggester features: context, lexical and surface blocks, persistence, pipeline context."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.embed import HashingEmbedder
from isp_nlp.errors import ModelError
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.features import (
    N_OVERLAP,
    N_SURFACE,
    FeatureBuilder,
    FeatureSpec,
    overlap_features,
    surface_features,
)
from isp_nlp.suggest.study_fit import predict_labels
from isp_nlp.suggest.trainer import (
    TrainParams,
    train_multi_label,
    train_single_label,
    train_suggester,
)

EMB = HashingEmbedder(64)
ALL = FeatureSpec(context_weight=0.5, word_weight=1.0, char_weight=1.0,
                  context_word_weight=0.5, surface_weight=1.0)

# A toy counselling exchange: the label of a therapist turn depends on its previous turn
# (the same "Okay." is a reflection-like acknowledgement after the client and a
# question after the therapist's own question), which only context features can see.
TURNS = [
    ("How have you been sleeping?", "I barely sleep, maybe four hours."),
    ("What keeps you awake?", "Worrying about work, mostly."),
    ("Do you drink coffee late?", "Yes, three cups after dinner."),
    ("When did this start?", "About two months ago."),
]


def _batch(texts: list[str], contexts: list[str]) -> SegmentBatch:
    ctx_emb = EMB.encode(contexts)
    ctx_emb[[i for i, c in enumerate(contexts) if not c]] = 0.0
    return SegmentBatch(tuple(f"s{i}" for i in range(len(texts))), tuple(texts),
                        EMB.encode(texts), tuple(contexts), ctx_emb)


def _dialogue(n: int) -> tuple[SegmentBatch, list[str]]:
    texts, contexts, labels = [], [], []
    for i in range(n):
        question, answer = TURNS[i % len(TURNS)]
        if i % 2 == 0:
            texts.append("Okay.")
            contexts.append(answer)
            labels.append("acknowledge")
        else:
            texts.append("Okay.")
            contexts.append(question)
            labels.append("wait")
    return _batch(texts, contexts), labels


def test_surface_features_read_questions_length_and_openers() -> None:
    surf = surface_features(["What happened?", "", "So you feel stuck", "I know my limits!"])
    assert surf.shape == (4, N_SURFACE)
    has_q, ends_q, q_opener, _, excl, empty, you, i_share, reflect = surf.T
    assert has_q.tolist() == [1, 0, 0, 0] and ends_q.tolist() == [1, 0, 0, 0]
    assert q_opener.tolist() == [1, 0, 0, 0] and empty.tolist() == [0, 1, 0, 0]
    assert excl.tolist() == [0, 0, 0, 1] and reflect.tolist() == [0, 0, 1, 0]
    assert you[2] == pytest.approx(0.25) and i_share[3] == pytest.approx(0.5)
    assert surf[0, 3] < surf[3, 3]  # log length grows with words


def test_overlap_features_measure_repetition_of_the_previous_turn() -> None:
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    ctx = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    out = overlap_features(["you feel tired", "tired", "x"], ["I feel tired", "no", ""],
                           emb, ctx)
    assert out.shape == (3, N_OVERLAP)
    np.testing.assert_allclose(out[:, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(out[:, 1], [2 / 3, 0.0, 0.0])


def test_context_features_separate_identical_texts() -> None:
    batch, labels = _dialogue(24)
    plain = TrainParams(context_weight=0.0, word_weight=0.0, char_weight=0.0,
                        surface_weight=0.0)
    with_context = replace(plain, context_weight=1.0, surface_weight=1.0)
    blind = train_single_label(batch, labels, params=plain)
    seeing = train_single_label(batch, labels, params=with_context)
    test, truth = _dialogue(8)
    assert len(set(predict_labels(blind, test)[0])) == 1  # rows look the same without context
    assert (np.array(predict_labels(seeing, test)[0]) == np.array(truth)).mean() == 1.0


def test_blocks_and_their_sizes() -> None:
    batch, _ = _dialogue(8)
    builder = FeatureBuilder(ALL).fit(batch)
    F = builder.transform(batch)
    assert F.shape == (8, builder.n_features)
    only = FeatureBuilder(FeatureSpec()).fit(batch)
    np.testing.assert_allclose(only.transform(batch).toarray(), batch.embeddings, rtol=1e-6)
    with pytest.raises(ValueError, match="before fit"):
        FeatureBuilder(ALL).transform(batch)
    with pytest.raises(ValueError, match="expected \\(n, 64\\)"):
        builder.transform(SegmentBatch(("a",), ("x",), np.zeros((1, 3))))


def test_missing_context_is_zero_context() -> None:
    batch, _ = _dialogue(6)
    builder = FeatureBuilder(ALL).fit(batch)
    bare = SegmentBatch(batch.segment_ids, batch.texts, batch.embeddings)
    empty = SegmentBatch(batch.segment_ids, batch.texts, batch.embeddings, ("",) * 6,
                         np.zeros_like(batch.embeddings))
    np.testing.assert_array_equal(builder.transform(bare).toarray(),
                                  builder.transform(empty).toarray())


def test_feature_state_round_trips_through_json_and_arrays() -> None:
    batch, _ = _dialogue(12)
    builder = FeatureBuilder(ALL).fit(batch)
    state, arrays = builder.get_state()
    again = FeatureBuilder.from_state(json.loads(json.dumps(state)), arrays)
    np.testing.assert_array_equal(again.transform(batch).toarray(),
                                  builder.transform(batch).toarray())
    assert set(arrays) == {"word_idf", "char_idf"}
    bad = dict(arrays, word_idf=arrays["word_idf"][:-1])
    with pytest.raises(ValueError, match="word_idf"):
        FeatureBuilder.from_state(state, bad)


def test_multi_label_model_uses_the_same_features() -> None:
    batch, labels = _dialogue(16)
    Y = np.array([[lab == "acknowledge", lab == "wait"] for lab in labels], dtype=int)
    model = train_multi_label(batch, Y, ["ack", "wait"], params=TrainParams(context_weight=1.0))
    proba = model.predict_code_proba(batch)
    assert proba is not None
    assert proba.shape == (16, 2)
    assert ((proba[:, 0] >= 0.5) == Y[:, 0].astype(bool)).all()


def _trained_with_context() -> tuple[SuggesterModel, SegmentBatch]:
    batch, labels = _dialogue(16)
    params = replace(TrainParams(), context_weight=0.5, word_weight=1.0, char_weight=1.0,
                     surface_weight=1.0)
    stages = ["push" if lab == "acknowledge" else "exchange" for lab in labels]
    codes = [{"ack"} if lab == "acknowledge" else set() for lab in labels]
    model = train_suggester(
        batch.embeddings, list(batch.segment_ids), list(batch.texts), codes,
        {"stage": stages}, code_labels=["ack"], value_labels={"stage": ["push", "exchange"]},
        embedder_id=EMB.model_id,
        params=params, context_texts=batch.context_texts,
        context_embeddings=batch.context_embeddings,
    )
    return model, batch


def test_model_with_text_features_saves_and_loads(tmp_path: Path) -> None:
    model, batch = _trained_with_context()
    folder = model.save(tmp_path / "m")
    loaded = SuggesterModel.load(folder)
    np.testing.assert_array_equal(loaded.predict_value_proba(batch),
                                  model.predict_value_proba(batch))
    assert loaded.suggest(batch, batch.segment_ids) == model.suggest(batch, batch.segment_ids)
    with np.load(folder / "weights.npz", allow_pickle=False) as npz:
        assert {"features/word_idf", "features/char_idf"} <= set(npz.files)
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 5 and config["features"]["spec"]["context_weight"] == 0.5
    stage = model.predict_value_proba(batch)
    truth = np.array(["push" if i % 2 == 0 else "exchange" for i in range(16)])
    assert (np.array(model.value_classes())[stage.argmax(axis=1)] == truth).all()


def test_text_model_refuses_a_bare_embedding_matrix() -> None:
    model, batch = _trained_with_context()
    with pytest.raises(ModelError, match="SegmentBatch with texts"):
        model.suggest(batch.embeddings, batch.segment_ids)


def test_bad_context_is_a_model_error() -> None:
    batch, labels = _dialogue(4)
    with pytest.raises(ModelError, match="context texts"):
        train_suggester(batch.embeddings, list(batch.segment_ids), list(batch.texts),
                        [set()] * 4, {"stage": ["push", "exchange"] * 2}, code_labels=["a"],
                        value_labels={"stage": ["push", "exchange"]}, embedder_id="h",
                        context_texts=["only one"])


def test_project_context_is_the_previous_turn(demo_project: Path) -> None:
    from isp_nlp.pipeline import load_latest_model, segment_batch
    from isp_nlp.store.database import Store
    from isp_nlp.suggest.training_data import previous_turns

    store = Store.open(demo_project / "project.sqlite")
    segments = store.segments()
    context = previous_turns(segments, segments)
    first = segments[0]
    assert context[0] == ""
    for seg, ctx in zip(segments[1:], context[1:], strict=True):
        if seg.document != first.document:
            break
        prev = [s.text for s in segments if s.document == seg.document
                and s.turn_index == seg.turn_index - 1]
        assert ctx == " ".join(prev)
    codable = [s for s in segments if s.codable][:5]
    batch = segment_batch(codable, segments, HashingEmbedder(256), store.embedding_cache())
    assert batch.context_texts is not None and any(batch.context_texts)
    assert any(not s.codable for s in segments)  # interviewer turns exist as context
    model = load_latest_model(store)
    assert model.features is not None
    assert len(model.suggest(batch, batch.segment_ids, top_evidence=0)) >= 5


def test_default_params_learn_the_synthetic_task_from_batches() -> None:
    from tests.builders.synthetic import CODES, STAGE_LABELS, synthetic

    emb = HashingEmbedder(256)
    texts, codes, stages = synthetic(48, seed=1)
    train = SegmentBatch(tuple(f"t{i}" for i in range(48)), tuple(texts), emb.encode(texts))
    model = train_suggester(train.embeddings, list(train.segment_ids), texts, codes,
                            {"stage": stages}, code_labels=CODES,
                            value_labels={"stage": STAGE_LABELS},
                            embedder_id=emb.model_id)
    assert model.features is not None and model.features.spec.word_weight > 0
    assert "calibration_folds" not in model.hyper_parameters  # calibration: its own step
    texts, codes, stages = synthetic(40, seed=99)
    test = SegmentBatch(tuple(f"u{i}" for i in range(40)), tuple(texts), emb.encode(texts))
    code_p = model.predict_code_proba(test)
    truth = np.array([[c in row for c in CODES] for row in codes])
    assert ((code_p[:, :3] >= 0.5) == truth[:, :3]).mean(axis=0).min() >= 0.9
    predicted = np.array(model.value_classes())[model.predict_value_proba(test).argmax(axis=1)]
    assert (predicted == np.array(stages)).mean() >= 0.9
