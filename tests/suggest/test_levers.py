"""Levers of issue 13 item 4: multi-turn context, EM priors, self-training, empty vocabulary."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from isp_nlp.coded.batch import ContextHistory, SegmentBatch, history_from_sequence
from isp_nlp.embed import HashingEmbedder
from isp_nlp.suggest.features import FeatureBuilder, FeatureSpec, history_mean
from isp_nlp.suggest.trainer import TrainParams, train_single_label
from tests.builders.paths import REPO

sys.path.insert(0, str(REPO / "evaluation"))
from lever_priors import adjust_priors  # noqa: E402  (measured levers that did not ship)
from lever_self_training import train_self_training  # noqa: E402

EMB = HashingEmbedder(32)


def test_history_lists_previous_turns_of_the_same_document() -> None:
    docs = ["a", "a", "a", "b", "b"]
    speakers = ["T", "C", "T", "T", None]
    index, same = history_from_sequence(docs, speakers, [2, 3, 4], 3)
    assert index.tolist() == [[1, 0, -1], [-1, -1, -1], [3, -1, -1]]
    # row 2 (T): turn 1 back is C, turn 2 back is T; an unknown speaker is never "same"
    assert same.tolist() == [[False, True, False], [False, False, False],
                             [False, False, False]]


def test_history_mean_decays_and_splits_by_speaker() -> None:
    table = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    hist = ContextHistory(np.array([[1, 0, -1], [-1, -1, -1]]),
                          np.array([[False, True, False], [False, False, False]]), table)
    mean = history_mean(hist, 3, 0.5)
    # (1 * [0, 1] + 0.5 * [1, 0]) / 1.5
    assert mean[0] == pytest.approx([1 / 3, 2 / 3])
    assert mean[1].tolist() == [0.0, 0.0]
    assert history_mean(hist, 1, 0.5)[0].tolist() == [0.0, 1.0]
    assert history_mean(hist, 3, 0.5, same_speaker_only=True)[0].tolist() == [1.0, 0.0]


def _batch(texts: list[str], history: bool = True) -> SegmentBatch:
    emb = EMB.encode(texts)
    n = len(texts)
    ctx = np.vstack([np.zeros((1, emb.shape[1])), emb[:-1]])
    hist = None
    if history:
        index, same = history_from_sequence(["d"] * n, ["T", "C"] * (n // 2) + ["T"] * (n % 2),
                                            list(range(n)), 4)
        hist = ContextHistory(index, same, emb)
    return SegmentBatch(tuple(f"s{i}" for i in range(n)), tuple(texts), emb,
                        ("", *texts[:-1]), ctx, hist)


def test_multi_turn_context_changes_features_and_falls_back_without_history() -> None:
    texts = [f"turn {i} about sleep {i % 3}" for i in range(12)]
    one = FeatureBuilder(FeatureSpec(context_weight=1.0)).fit(_batch(texts))
    four = FeatureBuilder(FeatureSpec(context_weight=1.0, context_turns=4,
                                      context_same_weight=0.5)).fit(_batch(texts))
    assert four.n_features == one.n_features + 32
    F1 = one.transform(_batch(texts)).toarray()
    F4 = four.transform(_batch(texts)).toarray()
    assert F4.shape[1] == F1.shape[1] + 32
    assert not np.allclose(F1[:, 32:64], F4[:, 32:64])  # the context block averages 4 turns
    assert np.allclose(F1[:, :32], F4[:, :32])  # the segment embedding is unchanged
    # without a history the 4-turn spec uses the previous turn and a zero same-speaker block
    bare = four.transform(_batch(texts, history=False)).toarray()
    assert np.allclose(bare[:, :64], F1)
    assert np.allclose(bare[:, 64:], 0.0)


def test_old_feature_state_loads_with_the_previous_context() -> None:
    batch = _batch([f"text {i}" for i in range(6)])
    builder = FeatureBuilder(FeatureSpec(context_weight=0.5, context_turns=4)).fit(batch)
    state, arrays = builder.get_state()
    old = {k: v for k, v in state["spec"].items()
           if k not in ("context_turns", "context_decay", "context_same_weight")}
    loaded = FeatureBuilder.from_state({**state, "spec": old}, arrays)
    assert loaded.spec.context_turns == 1 and loaded.spec.context_same_weight == 0.0
    again = FeatureBuilder.from_state(state, arrays)
    assert again.spec.context_turns == 4


def test_empty_texts_leave_the_lexical_blocks_out() -> None:
    batch = _batch([""] * 6)
    spec = FeatureSpec(word_weight=1.0, char_weight=1.0, surface_weight=1.0)
    builder = FeatureBuilder(spec).fit(batch)
    assert "char" not in builder.vectorizers_
    F = builder.transform(batch)
    assert F.shape == (6, builder.n_features)
    model = train_single_label(batch, ["a", "b"] * 3)
    assert model.predict_value_proba(batch).shape == (6, 2)


def test_adjust_priors_recovers_a_skewed_pool() -> None:
    rng = np.random.default_rng(0)
    truth = np.array([0.7, 0.2, 0.1])
    y = rng.choice(3, size=3000, p=truth)
    # a balanced-prior model that reads a noisy signal: the true label 60 % of the time,
    # each other label 20 %; p(y|x) = p(signal|y) under a uniform prior
    noise = rng.integers(1, 3, size=3000)
    signal = np.where(rng.random(3000) < 0.6, y, (y + noise) % 3)
    lik = np.full((3000, 3), 0.2)
    lik[np.arange(3000), signal] = 0.6
    proba = lik / lik.sum(axis=1, keepdims=True)
    adjusted, priors = adjust_priors(proba, np.ones(3))
    assert priors == pytest.approx(truth, abs=0.05)
    assert np.allclose(adjusted.sum(axis=1), 1.0)
    half, _ = adjust_priors(proba, np.ones(3), strength=0.5)
    assert (adjusted[:, 0].mean() > half[:, 0].mean() > proba[:, 0].mean())
    with pytest.raises(ValueError):
        adjust_priors(proba, np.ones(2))
    empty, pri = adjust_priors(np.zeros((0, 3)), np.array([1.0, 1.0, 2.0]))
    assert empty.shape == (0, 3) and pri.tolist() == [0.25, 0.25, 0.5]


def test_self_training_adds_pseudo_labels_from_the_pool() -> None:
    words = {"a": "sleep night tired bed", "b": "work boss office job"}
    texts = [f"{words[lab]} {i}" for i in range(20) for lab in "ab"]
    labels = [lab for _ in range(20) for lab in "ab"]
    batch = _batch(texts, history=False)
    seeds = batch.subset(range(4))
    pool = batch.subset(range(4, 40))
    model = train_self_training(seeds, labels[:4], pool, per_label=5,
                                params=TrainParams(char_weight=0.0))
    assert model.manifest["n_training_segments"] == 14
    proba = model.predict_value_proba(pool)
    pred = np.asarray(model.value_classes())[proba.argmax(axis=1)]
    assert (pred == np.asarray(labels[4:])).mean() >= 0.9


def test_evaluate_units_get_the_conversation_as_history() -> None:
    from isp_nlp.coded.units import CodedUnits, embed_units

    # therapist units T1..T3 of one document with the client turn before each
    units = CodedUnits("t.csv", ["d/1", "d/2", "d/3", "e/1"], ["d", "d", "d", "e"],
                       ["T1", "T2", "T3", "E1"], ["C0", "C1", "T2", ""],
                       [{"a": ("x",)}] * 4, False)
    embed_units(units, EMB)
    hist = units.history
    assert hist is not None
    n = 4
    # T3: its context T2 equals the unit before, so it is not repeated
    assert hist.index[2, :5].tolist() == [1, n + 1, 0, n + 0, -1]
    assert hist.index[1, :4].tolist() == [n + 1, 0, n + 0, -1]
    assert hist.index[3].tolist() == [-1] * 8
    assert np.allclose(hist.table[hist.index[1, 0]], EMB.encode(["C1"])[0])
    sub = units.subset([2]).batch()
    assert sub.history is not None and sub.history.index[0, 0] == 1


def test_project_batch_carries_previous_turns_with_speakers() -> None:
    from isp_nlp.embed import MemoryCache
    from isp_nlp.pipeline import segment_batch
    from isp_nlp.records import Segment

    def seg(doc: str, i: int, turn: int, speaker: str, text: str) -> Segment:
        return Segment(f"{doc}{i}", doc, i, turn, "sentence", speaker, 0, len(text), text)

    segs = [seg("a", 0, 0, "I", "How are you?"), seg("a", 1, 1, "P", "Fine."),
            seg("a", 2, 1, "P", "Tired."), seg("a", 3, 2, "I", "Why?"),
            seg("a", 4, 3, "P", "Work."), seg("b", 0, 0, "P", "Hello.")]
    targets = [segs[4], segs[2], segs[5]]
    batch = segment_batch(targets, segs, EMB, MemoryCache())
    hist = batch.history
    assert hist is not None
    table_text = {tuple(np.round(row, 6)): t for t, row in zip(
        ["How are you?", "Fine. Tired.", "Why?"],
        EMB.encode(["How are you?", "Fine. Tired.", "Why?"]), strict=True)}
    back = [table_text[tuple(np.round(hist.table[j], 6))] for j in hist.index[0] if j >= 0]
    assert back == ["Why?", "Fine. Tired.", "How are you?"]
    assert hist.same_speaker[0, :3].tolist() == [False, True, False]
    assert hist.index[1, :2].tolist()[1] == -1  # "Tired." looks back to turn 0 only
    assert (hist.index[2] == -1).all()
    assert batch.context_texts == ("Why?", "How are you?", "")
    assert np.allclose(batch.context_embeddings[0], EMB.encode(["Why?"])[0])


def test_evaluate_on_empty_texts_runs_instead_of_crashing(tmp_path) -> None:
    from click.testing import CliRunner

    from isp_nlp.cli import cli
    from tests.builders.coded_csv import coded_rows, write_coded_csv

    def blank(rows: list[dict]) -> list[dict]:
        return [{**r, "text": ""} for r in rows]

    train = write_coded_csv(tmp_path / "train.csv", blank(coded_rows(4, ("ann",))))
    test = write_coded_csv(tmp_path / "test.csv", blank(coded_rows(1, ("a", "b"))))
    r = CliRunner().invoke(cli, ["evaluate", "--train", str(train), "--test", str(test),
                                 "--seed-per-label", "2", "--repeats", "1",
                                 "--embedder", "hashing-256", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output


def test_evaluate_units_know_the_speaker_column(tmp_path) -> None:
    from isp_nlp.coded.units import embed_units, load_units

    path = tmp_path / "coded.csv"
    path.write_text("document,segment,text,coder,code,speaker\n"
                    "d,1,hello,a,x,T\nd,2,fine,a,y,C\nd,3,and you,a,x,T\n", encoding="utf-8")
    units = embed_units(load_units(path), EMB)
    assert units.speakers == ["T", "C", "T"]
    assert units.history is not None
    assert units.history.index[2, :2].tolist() == [1, 0]
    assert units.history.same_speaker[2, :2].tolist() == [False, True]
    assert units.subset([2]).speakers == ["T"]
