"""The codebook prior's share is checked per fit on the seeds: none for a codebook that
does not beat chance there, the fixed share for an informative one
(isp_nlp.suggest.prototypes.choose_prior_weight)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.embed import HashingEmbedder
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.prototypes import choose_prior_weight, prior_skill
from isp_nlp.suggest.trainer import MIN_PRIOR_CHECK_SEEDS, TrainParams, train_single_label

EMB_ONLY = TrainParams(context_weight=0.0, word_weight=0.0, char_weight=0.0,
                       context_word_weight=0.0, surface_weight=0.0)
LABELS = ("a", "b", "c")
DIM = 24


def _seeds(per_label: int, noise: float, seed: int = 0) -> tuple[SegmentBatch, list[str]]:
    """Noisy points around the first three axes, ``per_label`` per label."""
    rng = np.random.default_rng(seed)
    eye = np.eye(DIM)
    y = [lab for lab in LABELS for _ in range(per_label)]
    X = np.vstack([eye[LABELS.index(lab)] + rng.normal(scale=noise, size=DIM) for lab in y])
    n = len(y)
    return SegmentBatch(tuple(f"s{i}" for i in range(n)), ("",) * n, X.astype(np.float32)), y


def _informative() -> dict[str, np.ndarray]:
    eye = np.eye(DIM, dtype=np.float32)
    return {lab: eye[j][None] for j, lab in enumerate(LABELS)}


def _same_for_all() -> dict[str, np.ndarray]:
    """A codebook that says the same about every label."""
    return {lab: np.ones((1, DIM), dtype=np.float32) for lab in LABELS}


def _misleading() -> dict[str, np.ndarray]:
    """Each label's definition describes another label."""
    eye = np.eye(DIM, dtype=np.float32)
    return {"a": eye[1][None], "b": eye[2][None], "c": eye[0][None]}


# ---- the pure rule --------------------------------------------------------------------


def test_skill_is_a_kappa_on_the_priors_probabilities() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    right = np.eye(3)[y] * 0.6 + 0.4 / 3  # 0.73 on the seed's label, 0.13 on the others
    assert prior_skill(right, y) == pytest.approx((0.6 + 0.4 / 3 - 1 / 3) / (2 / 3))
    shifted = np.eye(3)[(y + 1) % 3] * 0.6 + 0.4 / 3
    assert prior_skill(shifted, y) == pytest.approx((0.4 / 3 - 1 / 3) / (2 / 3))
    one_label = np.tile([0.5, 0.3, 0.2], (6, 1))  # the same for every seed
    assert prior_skill(one_label, y) == pytest.approx(0.0)


def test_skill_is_chance_corrected_for_unbalanced_seeds() -> None:
    y = np.array([0, 0, 0, 0, 1])
    majority = np.tile([0.8, 0.2], (5, 1))  # right on 4 of 5 seeds, by favouring label 0
    assert prior_skill(majority, y) == pytest.approx(0.0)
    assert choose_prior_weight(majority, y, 0.3)[0] == 0.0


def test_the_prior_keeps_its_share_only_when_it_beats_chance() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    good = np.array([[.9, .1], [.9, .1], [.2, .8], [.1, .9], [.1, .9], [.1, .9]])
    assert choose_prior_weight(good, y, 0.3) == (0.3, pytest.approx((4.7 / 6 - .5) / .5))
    assert choose_prior_weight(good[:, ::-1], y, 0.3) == (0.0, pytest.approx((1.3 / 6 - .5) / .5))
    assert choose_prior_weight(np.tile([.6, .4], (6, 1)), y, 0.3)[0] == 0.0


def test_rule_refuses_shapes_that_disagree() -> None:
    with pytest.raises(ValueError, match="disagree"):
        prior_skill(np.ones((3, 2)) / 2, np.array([0, 1]))


# ---- through the trainer --------------------------------------------------------------


@pytest.mark.parametrize("codebook", [_same_for_all(), _misleading()])
def test_a_useless_codebook_gets_no_weight(codebook: dict[str, np.ndarray]) -> None:
    batch, y = _seeds(12, noise=0.45)
    model = train_single_label(batch, y, params=EMB_ONLY, prototypes=codebook)
    prior = model.manifest["priors"]["label"]
    assert prior["chosen_by"] == "the codebook alone does not beat chance on the seeds"
    assert prior["seed_kappa"] <= 0 and prior["weight"] == 0.0
    assert model.dimension().prototype_weight == 0.0
    plain = train_single_label(batch, y, params=EMB_ONLY)
    test, _ = _seeds(5, noise=0.45, seed=3)
    np.testing.assert_allclose(model.predict_value_proba(test), plain.predict_value_proba(test))


def test_an_informative_codebook_keeps_its_share() -> None:
    batch, y = _seeds(12, noise=0.8)
    model = train_single_label(batch, y, params=EMB_ONLY, prototypes=_informative())
    prior = model.manifest["priors"]["label"]
    assert prior["chosen_by"] == "the codebook alone beats chance on the seeds"
    assert prior["seed_kappa"] > 0.5
    assert prior["weight"] == model.dimension().prototype_weight
    assert model.dimension().prototype_weight == TrainParams().prototype_weight == 0.3
    plain = train_single_label(batch, y, params=EMB_ONLY)
    test, y_test = _seeds(20, noise=0.8, seed=3)
    hits = [np.mean(np.asarray(m.value_classes())[m.predict_value_proba(test).argmax(axis=1)]
                    == np.asarray(y_test)) for m in (plain, model)]
    assert hits[1] > hits[0]  # here the codebook does help on new segments


def test_too_few_seeds_keep_the_fixed_weight() -> None:
    batch, y = _seeds(MIN_PRIOR_CHECK_SEEDS - 1, noise=0.45)
    model = train_single_label(batch, y, params=EMB_ONLY, prototypes=_misleading())
    assert model.dimension().prototype_weight == 0.3
    assert model.manifest["priors"]["label"]["chosen_by"].startswith("fixed: fewer than 5 seeds")


def test_choosing_can_be_switched_off() -> None:
    batch, y = _seeds(12, noise=0.45)
    params = replace(EMB_ONLY, choose_prototype_weight=False, prototype_weight=0.2)
    model = train_single_label(batch, y, params=params, prototypes=_misleading())
    assert model.dimension().prototype_weight == 0.2
    assert model.manifest["priors"]["label"] == {"weight": 0.2, "chosen_by": "fixed"}
    assert model.manifest["hyper_parameters"]["choose_prototype_weight"] is False


def test_the_chosen_weight_is_saved_and_loaded(tmp_path: Path) -> None:
    batch, y = _seeds(12, noise=0.45)
    model = train_single_label(batch, y, params=EMB_ONLY, prototypes=_informative())
    folder = model.save(tmp_path / "m")
    loaded = SuggesterModel.load(folder)
    assert loaded.dimension().prototype_weight == model.dimension().prototype_weight > 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["priors"]["label"]["weight"] == model.dimension().prototype_weight
    test, _ = _seeds(4, noise=0.45, seed=5)
    np.testing.assert_allclose(loaded.predict_value_proba(test), model.predict_value_proba(test))


def test_with_the_hashing_embedder_definitions_in_the_labels_words_count() -> None:
    """Real texts: the segments use each label's words; a codebook that defines the labels
    in those words gets weight, one of unrelated words does not."""
    embedder = HashingEmbedder(64)
    words = {"a": "budget money funding grant cost", "b": "trust relationship partner honest",
             "c": "training workshop manual webinar"}
    rng = np.random.default_rng(0)
    filler = "the and we then so it was they our some with about more".split()
    texts, y = [], []
    for lab in LABELS:
        for _ in range(12):
            # one telling word among many shared ones, sometimes one from another label
            own = rng.choice(words[lab].split())
            other = rng.choice(words[str(rng.choice([x for x in LABELS if x != lab]))].split())
            extra = [other] if rng.random() < 0.5 else []
            texts.append(" ".join([own, *extra, *rng.choice(filler, size=8)]))
            y.append(lab)
    X = embedder.encode(texts)
    batch = SegmentBatch(tuple(f"s{i}" for i in range(len(y))), tuple(texts), X)
    good = {lab: embedder.encode([f"{lab}: {words[lab]}"]) for lab in LABELS}
    bad = {lab: embedder.encode([f"{lab}: {w}"]) for lab, w in
           zip(LABELS, ("weather rain sunny", "football goal match", "piano violin song"),
               strict=True)}
    w_good = train_single_label(batch, y, params=EMB_ONLY,
                                prototypes=good).dimension().prototype_weight
    w_bad = train_single_label(batch, y, params=EMB_ONLY,
                               prototypes=bad).dimension().prototype_weight
    assert w_bad == 0.0
    assert w_good > w_bad
