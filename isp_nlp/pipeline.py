"""Embed, train and suggest on a project: glue between the store and the models.

Each command reads what it needs from the store once into plain data, runs the pure
library functions of :mod:`isp_nlp.suggest`, and writes its results once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from isp_nlp.codebook.load import trainable_codes
from isp_nlp.coded.batch import (
    HISTORY_TURNS,
    ContextHistory,
    SegmentBatch,
    document_turns,
    history_from_sequence,
)
from isp_nlp.embed import (
    HashingEmbedder,
    SentenceTransformerEmbedder,
    embed_texts,
    embed_texts_with_stats,
)
from isp_nlp.errors import IspNlpError, ModelError, ProjectError
from isp_nlp.records import CODE_DIMENSION, LEARNING_SOURCES, Code, Segment
from isp_nlp.review.items import keep_review_scores
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import effective_rejects
from isp_nlp.store.folder import DEFAULT_EMBEDDER, EMBEDDERS, require_codebook
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.certify import check_target
from isp_nlp.suggest.next_to_code import code_probabilities, propose, worth_coding
from isp_nlp.suggest.project_fit import fit_project
from isp_nlp.suggest.prototypes import embed_prototypes
from isp_nlp.suggest.training_data import (
    TrainingData,
    TrainingSet,
    humanly_coded,
    merge_labels,
    previous_turns,
)


def make_embedder(name: str):
    """The embedder a project is configured with (imports torch only for MiniLM)."""

    if name == "minilm":
        return SentenceTransformerEmbedder()
    if name.startswith("hashing-"):
        return HashingEmbedder(dim=int(name.split("-", 1)[1]))
    raise ProjectError(f"unknown embedder '{name}'; expected one of {', '.join(EMBEDDERS)}")


def project_embedder(store: Store):
    return make_embedder(store.get_setting("embedder", DEFAULT_EMBEDDER) or DEFAULT_EMBEDDER)


def embed_segments(store: Store, segments: Sequence[Segment], embedder, *,
                   progress: bool = False) -> np.ndarray:
    """The segments' embeddings (through the project's cache)."""
    return embed_texts([s.text for s in segments], embedder, store.embedding_cache(),
                       progress=progress)


def codebook_prototypes(codes: Sequence[Code], embedder, cache) -> dict[str, np.ndarray]:
    """Embeddings of each code's (or dimension value's) codebook texts (definition,
    examples)."""

    return embed_prototypes(codes, lambda texts: embed_texts(texts, embedder, cache))


def segment_batch(segments: Sequence[Segment], all_segments: Sequence[Segment], embedder,
                  cache, *, progress: bool = False) -> SegmentBatch:
    """A :class:`SegmentBatch` of ``segments`` with their previous turn (among
    ``all_segments``, the project's segments in document order) as context, and up to
    :data:`HISTORY_TURNS` previous turns with their speakers as history."""

    context = previous_turns(all_segments, segments)
    keys, speakers, texts = document_turns(all_segments)
    position = {key: i for i, key in enumerate(keys)}
    rows = [position.get((s.document, s.turn_index), -1) for s in segments]
    docs = [k[0] for k in keys]
    index, same = history_from_sequence(docs, speakers, [max(r, 0) for r in rows],
                                        HISTORY_TURNS)
    index[np.asarray(rows) < 0] = -1
    needed = np.unique(index[index >= 0])
    compact = np.full(len(keys) + 1, -1, dtype=np.int64)
    compact[needed] = np.arange(len(needed))
    # One call for the segments and the turns before them: one progress bar, and the
    # encoder batches all texts by length together.
    both = embed_texts([s.text for s in segments] + [texts[j] for j in needed], embedder,
                       cache, progress=progress)
    X = both[:len(segments)]
    table = both[len(segments):] if len(needed) else np.zeros((0, X.shape[1]), dtype=X.dtype)
    index = compact[index]  # -1 stays -1 (the last entry)
    C = np.zeros_like(X)
    has = np.flatnonzero(index[:, 0] >= 0)
    C[has] = table[index[has, 0]]
    return SegmentBatch(tuple(s.id for s in segments), tuple(s.text for s in segments), X,
                        tuple(context), C, ContextHistory(index, same, table))


def embed_project(store: Store, embedder=None, *, progress: bool = False) -> dict:
    """Embed every segment (context turns too); cached vectors are reused."""

    embedder = embedder or project_embedder(store)
    segments = store.segments()
    if not segments:
        raise ProjectError("the project has no segments; ingest transcripts first")
    _, n_cached, n_encoded = embed_texts_with_stats(
        [s.text for s in segments], embedder, store.embedding_cache(), progress=progress)
    return {"segments": len(segments), "cached": n_cached, "encoded": n_encoded,
            "model_id": embedder.model_id}


def training_set(store: Store) -> TrainingSet:
    """The project's human-coded segments with their merged labels (codes and the
    codebook's dimensions; every dimension the annotations use without a codebook)."""
    codebook = store.codebook()
    return merge_labels(store.segments(), store.annotations(),
                        None if codebook is None else codebook.dimension_ids)


def read_training_data(store: Store, embedder, *, progress: bool = False) -> TrainingData:
    """Everything ``train`` needs from the store, read once: the learning sources'
    codes (:data:`~isp_nlp.records.LEARNING_SOURCES`) and the effective rejects."""
    codebook = require_codebook(store)
    segments = store.segments()
    ts = merge_labels(segments, store.annotations(), codebook.dimension_ids,
                      sources=LEARNING_SOURCES, rejects=effective_rejects(store))
    if not ts.segments:
        raise ModelError(
            "no human-coded segments to train on; import seed codes with "
            "`isp-nlp import-codes FILE.csv` first"
        )
    cache = store.embedding_cache()
    codes = trainable_codes(codebook, {c for cs in ts.code_sets for c in cs or ()})
    return TrainingData(
        labels=ts,
        batch=segment_batch(ts.segments, segments, embedder, cache, progress=progress),
        code_labels=[c.id for c in codes],
        value_labels={d.id: list(d.value_ids) for d in codebook.dimensions},
        embedder_id=embedder.model_id,
        code_prototypes=codebook_prototypes(codes, embedder, cache),
        value_prototypes={d.id: codebook_prototypes(d.values, embedder, cache)
                          for d in codebook.dimensions},
        dimension_names={d.id: d.name or d.id for d in codebook.dimensions},
        exclusive_groups=codebook.exclusive_groups)


def train_project(store: Store, embedder=None, *, folds: int = 5,
                  target_agreement: float | None = None, progress: bool = False) -> dict:
    """Fit the code suggester and one suggester per single-choice dimension of the
    codebook on human annotations and save them.

    Reads the store once (:func:`read_training_data`), fits
    (:func:`isp_nlp.suggest.project_fit.fit_project`: the model plus out-of-fold
    predictions, grouped by document, that agreement compares with the coders), then
    writes the bundle, its registration and the out-of-fold suggestions. A dimension
    with too little data is not trained (``skipped`` says why, by dimension id).
    """
    if target_agreement is not None:
        check_target(target_agreement)
    data = read_training_data(store, embedder or project_embedder(store), progress=progress)
    fit = fit_project(data, folds, target_agreement=target_agreement)
    model = fit.model
    model.manifest["cv_folds"] = fit.cv_folds  # what the out-of-fold numbers rest on
    model.manifest["dimension_names"] = dict(data.dimension_names)
    model.manifest["model_human"] = fit.model_human or {}
    model.manifest["learned_from"] = data.labels.learned_from()
    model_id = model.manifest["model_id"]
    with tempfile.TemporaryDirectory(prefix="isp-nlp-model-") as staging:
        directory = save_bundle(store, model, model.save(Path(staging) / model_id))
    store.replace_out_of_fold(model_id, fit.out_of_fold)
    ts = data.labels
    skipped = model.manifest.get("skipped") or {}
    return {"model_id": model_id, "path": str(directory), "segments": len(ts.segments),
            "learned_from": ts.learned_from(),
            "coders": sorted({c for cs in ts.coders for c in cs}),
            "code_labels": data.code_labels, "cv_folds": fit.cv_folds,
            "code_threshold": model.code_threshold,
            "code_threshold_from_cv": fit.code_threshold_from_cv,
            "dimensions": list(model.dimensions),
            "dimension_names": dict(data.dimension_names),
            "skipped": {d: skipped[d] for d in data.value_labels if d in skipped},
            "thresholds": model.thresholds,
            "thresholds_from_cv": {d: fit.thresholds_from_cv.get(d, False)
                                   for d in model.dimensions},
            "temperatures": {d: m.temperature for d, m in model.dimensions.items()},
            "zero_shot_codes": list(model.manifest.get("zero_shot_codes", [])),
            "model_human": fit.model_human or {},
            "certified": {dim: {**cert.to_dict(), "target_from": (fit.targets or {})[dim][1]}
                          for dim, cert in (fit.certificates or {}).items()}}


def _registered_manifest(model) -> dict:
    """The model's manifest with the thresholds its stored suggestions use."""
    return {**model.manifest, "code_threshold": model.code_threshold,
            "thresholds": model.thresholds}


def save_bundle(store: Store, model, folder: Path) -> Path:
    """Keep the bundle saved in ``folder`` in the project (its models folder, or its
    PostgreSQL database) and register it; return the project's local copy."""
    return store.save_model_bundle(model.manifest["model_id"], folder,
                                   _registered_manifest(model))


def register_bundle(store: Store, model, path: str) -> None:
    """Record the registered model ``model`` (its folder ``path`` as registered) with the
    thresholds its stored suggestions use."""
    store.register_model(model.manifest["model_id"], path, _registered_manifest(model))


def load_latest_model(store: Store) -> SuggesterModel:
    """The project's most recently trained model."""
    return _latest_model(store)[0]


def _latest_model(store: Store) -> tuple[SuggesterModel, dict]:
    info = store.latest_model()
    if info is None:
        raise ModelError("the project has no trained model yet; run `isp-nlp train` first")
    return SuggesterModel.load(store.model_bundle(info["id"])), info


def suggest_project(store: Store, embedder=None, *, code_threshold: float | None = None,
                    value_threshold: float | None = None, progress: bool = False) -> dict:
    """Score every codable segment that has no human code with the latest model: codes,
    and a value of every dimension the model suggests (``value_threshold``: every
    dimension's abstain threshold instead of the model's). Codes the codebook in force
    declares mutually exclusive are never suggested together (the most probable stays,
    :mod:`isp_nlp.suggest.exclusive`)."""
    latest, info = _latest_model(store)
    codebook = store.codebook()
    model = latest.with_thresholds(code=code_threshold, values=value_threshold).with_exclusive(
        () if codebook is None else codebook.exclusive_groups)
    embedder = embedder or project_embedder(store)
    if embedder.model_id != model.embedder_id:
        raise ModelError(
            f"the latest model was trained on '{model.embedder_id}' embeddings but the project "
            f"embeds with '{embedder.model_id}'; run `isp-nlp train` again"
        )
    coded = humanly_coded(store.annotations())
    segments = store.segments()
    targets = [s for s in segments if s.codable and s.id not in coded]
    model_id = model.manifest["model_id"]
    dims = list(model.dimensions)
    result = {"model_id": model_id, "segments": len(targets), "suggested_codes": 0,
              "dimensions": dims, "abstained": dict.fromkeys(dims, 0),
              "code_threshold": model.code_threshold, "thresholds": model.thresholds}
    if not targets:
        store.replace_suggestions(model_id, [])
        return result
    batch = segment_batch(targets, segments, embedder, store.embedding_cache(),
                          progress=progress)
    suggestions = model.suggest(batch, [s.id for s in targets], top_evidence=3)
    store.replace_suggestions(model_id, suggestions)
    register_bundle(store, model, str(info["path"]))
    keep_review_scores(store, model_id)  # the first review draws its first segment at once
    for s in suggestions:
        if s.dimension == CODE_DIMENSION:
            result["suggested_codes"] += bool(s.suggested)
        elif not s.suggested:
            result["abstained"][s.dimension] += 1
    return result


def next_to_code(store: Store, n: int = 20, *, seed: int = 0,
                 embedder=None) -> list[dict[str, Any]]:
    """The project's uncoded codable segments whose human codes would help the suggester
    most (:func:`isp_nlp.suggest.next_to_code.propose` over data read once)."""
    if n < 1:
        raise IspNlpError(f"--n is {n}; expected 1 or more segments to propose.")
    segments = store.segments()
    codable = [s for s in segments if s.codable]
    if not codable:
        raise ProjectError("the project has no codable segments; ingest transcripts first.")
    annotations = store.annotations()
    coded_ids = humanly_coded(annotations)
    todo = worth_coding([s for s in codable if s.id not in coded_ids], n)
    if not todo:
        return []
    embedder = embedder or project_embedder(store)
    cache = store.embedding_cache()
    info = store.latest_model()
    manifest = (info or {}).get("manifest", {})
    labels = list(manifest.get("code_labels") or [])
    stored = store.suggestions(info["id"]) if info is not None else []
    proba = code_probabilities(stored, [s.id for s in todo], labels) if labels else None
    coded = [s for s in codable if s.id in coded_ids]
    ts = merge_labels(segments, annotations, ())
    return propose(
        todo, embed_texts([s.text for s in todo], embedder, cache), n, seed=seed,
        proba=proba, code_labels=labels,
        coded_counts=[sum(c in (cs or ()) for cs in ts.code_sets) for c in labels],
        coded_embeddings=(embed_texts([s.text for s in coded], embedder, cache)
                          if proba is None and coded else None),
        stored=stored, code_threshold=float(manifest.get("code_threshold", 0.5)))
