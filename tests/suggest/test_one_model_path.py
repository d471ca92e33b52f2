"""What we measure is what ships: ``isp-nlp evaluate`` on a coded CSV and the project's
``train`` on the same seeds and codebook fit the same model (hashing embedder, fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isp_nlp.coded.units import embed_units, load_units
from isp_nlp.pipeline import load_latest_model, make_embedder, segment_batch, train_project
from isp_nlp.store.folder import open_project
from isp_nlp.suggest.evaluate import check_labels, label_prototypes, seed_coder_agreement
from isp_nlp.suggest.study_fit import fit_calibrated, sample_seeds
from isp_nlp.suggest.training_data import merge_labels
from tests.builders.coded_projects import EMBEDDER, coded_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    path, coded, book = coded_project(tmp_path_factory.mktemp("one_path"))
    with open_project(path) as store:
        train_project(store)
        model = load_latest_model(store)
        segments = store.segments()
        ts = merge_labels(segments, store.annotations())
        batch = segment_batch(ts.segments, segments, make_embedder(EMBEDDER),
                              store.embedding_cache())
    key = {s.id: f"{s.document}\x1ftext:{' '.join(s.text.split())}" for s in ts.segments}
    return model, batch, [key[i] for i in batch.segment_ids], coded, book


def _evaluate_model(coded: Path, book: Path, *, multi_label: bool, certify: bool = False,
                    zero_shot: tuple[str, ...] = ()):
    """The model ``isp-nlp evaluate --train CODED --test CODED --codebook BOOK`` fits
    with every row as a seed (K = None), calibrated on the same grouped folds as train;
    with ``certify``, certified for the seed coders' agreement as evaluate's default;
    ``zero_shot``: codebook codes without seeds that join the labels."""
    embedder = make_embedder(EMBEDDER)
    units = embed_units(load_units(coded, label_column="code" if multi_label else "stage",
                                   multi_label=multi_label), embedder)
    labels = sorted({*check_labels(units, units)[0], *zero_shot})
    protos = label_prototypes(book, units, embedder, multi_label=multi_label,
                              dimension=None if multi_label else "stage", extra=zero_shot)
    idx = sample_seeds(units, None, np.random.default_rng(0), labels)
    target = seed_coder_agreement([units]) if certify else None
    return fit_calibrated(units, idx, labels, prototypes=protos, target=target,
                          dimension="stage")[0], units


def test_evaluate_and_train_give_the_same_stage_predictions(trained) -> None:
    model, batch, keys, coded, book = trained
    ev, units = _evaluate_model(coded, book, multi_label=False)
    stage = model.dimension("stage")
    assert stage.prototypes is not None and stage.prototype_weight > 0
    assert ev.value_classes("stage") == model.value_classes("stage")
    position = {k: i for i, k in enumerate(units.keys)}
    assert sorted(position) == sorted(keys)
    test = units.batch([position[k] for k in keys])
    assert test.context_texts == batch.context_texts  # the previous turn, both ways
    shipped = model.predict_value_proba(batch, "stage")
    measured = ev.predict_value_proba(test, "stage")
    assert shipped is not None and measured is not None
    # the codebook's embeddings differ in the last float32 bit (project cache vs direct)
    np.testing.assert_allclose(shipped, measured, rtol=0, atol=1e-6)
    assert (shipped.argmax(axis=1) == measured.argmax(axis=1)).all()


def test_evaluate_and_train_give_the_same_code_predictions(trained) -> None:
    model, batch, keys, coded, book = trained
    ev, units = _evaluate_model(coded, book, multi_label=True)
    assert "strategies" not in model.code_labels  # a parent code: leaf codes only
    assert model.zero_shot_codes == ["funding"]
    common = list(ev.code_labels)
    assert common == ["barriers", "coaching", "training"]
    position = {k: i for i, k in enumerate(units.keys)}
    test = units.batch([position[k] for k in keys])
    shipped, measured = model.predict_code_proba(batch), ev.predict_code_proba(test)
    assert shipped is not None and measured is not None
    cols = [model.code_labels.index(c) for c in common]
    np.testing.assert_allclose(shipped[:, cols], measured, rtol=0, atol=1e-9)
    cut = ev.code_thresholds
    np.testing.assert_array_equal(shipped[:, cols] >= cut, measured >= cut)


@pytest.mark.parametrize("multi_label", [False, True], ids=["stage", "code"])
def test_evaluate_and_train_give_the_same_calibration_and_certificates(trained,
                                                                       multi_label) -> None:
    """One fit -> calibrate -> certify: train and evaluate on the same coded rows, codebook
    and target agree on the thresholds, the calibration maps and the certificate."""
    model, _, _, coded, book = trained
    dimension = "code" if multi_label else "stage"
    ev, _ = _evaluate_model(coded, book, multi_label=multi_label, certify=True,
                            zero_shot=tuple(model.zero_shot_codes) if multi_label else ())
    shipped, measured = model.certified[dimension], ev.certified[dimension]
    assert shipped["n_seeds"] == 42 and shipped["reason"]
    assert measured == shipped  # same target (the seed coders' agreement), same walk
    if multi_label:
        assert shipped["threshold"] is not None  # codes are certified, stages are not
        assert sorted(ev.code_labels) == sorted(model.code_labels)
        assert ev.code_threshold == model.code_threshold
        assert model.code_platt is not None and ev.code_platt is not None
        cols = [model.code_labels.index(c) for c in ev.code_labels]
        np.testing.assert_allclose(ev.code_platt, model.code_platt[cols], rtol=1e-6)
        assert not np.allclose(model.code_platt[cols[0]], [1.0, 0.0])  # a map was fitted
    else:
        shipped_dim, measured_dim = model.dimension("stage"), ev.dimension("stage")
        assert measured_dim.classes == shipped_dim.classes
        assert measured_dim.threshold == shipped_dim.threshold
        assert shipped_dim.temperature != 1.0
        assert measured_dim.temperature == pytest.approx(shipped_dim.temperature, rel=1e-6)
        assert shipped_dim.prior_weights is not None and measured_dim.prior_weights is not None
        np.testing.assert_allclose(measured_dim.prior_weights, shipped_dim.prior_weights,
                                   rtol=1e-9)
