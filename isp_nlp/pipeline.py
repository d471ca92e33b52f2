"""Embed, train and suggest on a project: glue between the store and the models."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from isp_nlp.embed import (
    HashingEmbedder,
    SentenceTransformerEmbedder,
    embed_texts,
    embed_texts_with_stats,
)
from isp_nlp.errors import ModelError, ProjectError
from isp_nlp.project import DEFAULT_EMBEDDER, EMBEDDERS, require_codebook
from isp_nlp.records import CODE_DIMENSION, Annotation, Segment, Suggestion
from isp_nlp.store.database import Store
from isp_nlp.suggest.batch import SegmentBatch
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.calibration import choose_code_threshold
from isp_nlp.suggest.prototypes import embed_prototypes
from isp_nlp.suggest.trainer import TrainParams, train_suggester

HUMAN_SOURCES = ("human", "consensus")
CV_SUFFIX = "/cv"


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

    return embed_texts([s.text for s in segments], embedder, store.embedding_cache(),
                       progress=progress)


def codebook_prototypes(store: Store, codes, embedder) -> dict[str, np.ndarray]:
    """Embeddings of each code's codebook texts (definition, examples), for zero-shot codes."""

    return embed_prototypes(codes, lambda texts: embed_texts(texts, embedder,
                                                             store.embedding_cache()))


def previous_turn_texts(store: Store, segments: Sequence[Segment]) -> list[str]:
    """Each segment's context: the text of the previous turn of its document ("" if none).

    A turn split into several segments (sentence or paragraph units) is joined back
    with spaces; non-codable turns (e.g. the interviewer's questions) count as context.
    """
    turns: dict[str, dict[int, list[str]]] = {}
    for seg in store.segments():  # document order
        turns.setdefault(seg.document, {}).setdefault(seg.turn_index, []).append(seg.text)
    previous: dict[tuple[str, int], str] = {}
    for document, by_turn in turns.items():
        last = ""
        for turn_index in sorted(by_turn):
            previous[(document, turn_index)] = last
            last = " ".join(by_turn[turn_index])
    return [previous.get((s.document, s.turn_index), "") for s in segments]


def segment_batch(store: Store, segments: Sequence[Segment], embedder, *,
                  progress: bool = False):
    """A :class:`SegmentBatch` of ``segments`` with their previous turn as context."""

    X = embed_segments(store, segments, embedder, progress=progress)
    context = previous_turn_texts(store, segments)
    C = np.zeros_like(X)
    rows = [i for i, text in enumerate(context) if text]
    if rows:
        C[rows] = embed_texts([context[i] for i in rows], embedder, store.embedding_cache())
    return SegmentBatch(tuple(s.id for s in segments), tuple(s.text for s in segments), X,
                        tuple(context), C)


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


@dataclass(frozen=True)
class TrainingSet:
    """One row per human-coded segment, the coders' labels merged.

    A code counts as present when at least half of the coders who coded the
    segment applied it (for two coders: either of them), so a suggestion is
    what at least one trained coder would apply; the stage is the coders'
    most common label (ties: alphabetically first coder). ``code_sets[i]`` is
    None when no coder gave codes for the segment (stage only).
    """

    segments: list[Segment]
    coders: list[tuple[str, ...]]
    code_sets: list[frozenset[str] | None]
    stages: list[str | None]


def training_set(store: Store) -> TrainingSet:
    by_id = {s.id: s for s in store.segments()}
    codes: dict[str, dict[str, set[str]]] = {}
    stages: dict[str, dict[str, str]] = {}
    for a in store.annotations():
        if a.source not in HUMAN_SOURCES or a.segment_id not in by_id:
            continue
        if a.dimension == "code":
            labels = codes.setdefault(a.segment_id, {}).setdefault(a.coder, set())
            if a.label is not None:
                labels.add(a.label)
        elif a.dimension == "stage" and a.label:
            stages.setdefault(a.segment_id, {})[a.coder] = a.label
    ids = sorted(set(codes) | set(stages), key=lambda i: (by_id[i].document, by_id[i].index))
    ts = TrainingSet(segments=[], coders=[], code_sets=[], stages=[])
    for sid in ids:
        per_coder = codes.get(sid)
        code_set = None
        if per_coder is not None:
            counts = Counter(c for labels in per_coder.values() for c in labels)
            code_set = frozenset(c for c, n in counts.items() if 2 * n >= len(per_coder))
        st = stages.get(sid, {})
        stage = None
        if st:
            votes = Counter(st[c] for c in sorted(st))
            stage = votes.most_common(1)[0][0]  # ties: first coder in sorted order
        ts.segments.append(by_id[sid])
        ts.coders.append(tuple(sorted(set(per_coder or {}) | set(st))))
        ts.code_sets.append(code_set)
        ts.stages.append(stage)
    return ts


#: Four stages share the probability mass, so 0.5 abstains on most segments; at 0.4
#: the out-of-fold stage labels on the demo corpus cover about half the segments at
#: 66 % agreement with a coder (the coders agree with each other on 75 %).
DEFAULT_STAGE_THRESHOLD = 0.4


def _fit(ts: TrainingSet, batch, idx: np.ndarray, code_labels, stage_labels,
         embedder_id: str, prototypes=None):

    part = batch.subset(idx)
    return train_suggester(
        part.embeddings, list(part.segment_ids), list(part.texts),
        [ts.code_sets[i] for i in idx], [ts.stages[i] for i in idx],
        code_labels=code_labels, stage_labels=stage_labels, embedder_id=embedder_id,
        params=TrainParams(stage_threshold=DEFAULT_STAGE_THRESHOLD),
        context_texts=part.context_texts, context_embeddings=part.context_embeddings,
        prototype_embeddings=prototypes,
    )


def train_project(store: Store, embedder=None, *, folds: int = 5,
                  progress: bool = False) -> dict:
    """Fit the code and stage suggesters on human annotations and save them.

    Also computes out-of-fold predictions for the human-coded segments
    (grouped by document, so a transcript is never scored by a model trained
    on it); those are what agreement compares with the human coders.
    """
    codebook = require_codebook(store)
    ts = training_set(store)
    if not ts.segments:
        raise ModelError(
            "no human-coded segments to train on; import seed codes with "
            "`isp-nlp import-codes FILE.csv` first"
        )
    embedder = embedder or project_embedder(store)
    batch = segment_batch(store, ts.segments, embedder, progress=progress)
    code_labels = [c.id for c in codebook.codes if not _is_parent(codebook, c.id)]
    stage_labels = list(codebook.stage_ids)
    protos = codebook_prototypes(store, [c for c in codebook.codes if c.id in code_labels],
                                 embedder)
    everything = np.arange(len(ts.segments))
    model = _fit(ts, batch, everything, code_labels, stage_labels, embedder.model_id, protos)
    cv, by_fold, floors = _cross_validate(ts, batch, code_labels, stage_labels,
                                          embedder.model_id, folds, protos)
    default = model.code_threshold
    threshold = _code_threshold(ts, [s for fold in by_fold for s in fold], code_labels)
    if threshold is not None:
        model = model.with_thresholds(code=threshold)
        model = replace(model, manifest={**model.manifest, "model_id": model.content_hash(),
                                         "code_threshold": threshold,
                                         "code_threshold_from": "out-of-fold kappa"})
    model_id = model.manifest["model_id"]
    directory = store.path.parent / "models" / model_id
    model.save(directory)
    _register(store, model, directory)
    store.replace_suggestions(model_id + CV_SUFFIX, _flag_out_of_fold(
        ts, by_fold, code_labels, model_id + CV_SUFFIX, default, choose=threshold is not None,
        floors=floors))
    return {"model_id": model_id, "path": str(directory), "segments": len(ts.segments),
            "coders": sorted({c for cs in ts.coders for c in cs}),
            "code_labels": code_labels, "cv_folds": cv,
            "code_threshold": model.code_threshold,
            "code_threshold_from_cv": threshold is not None,
            "zero_shot_codes": list(model.manifest.get("zero_shot_codes", []))}


def _flag_out_of_fold(ts: TrainingSet, by_fold: Sequence[Sequence[Suggestion]],
                      code_labels: Sequence[str], model_id: str, default: float, *,
                      choose: bool,
                      floors: Sequence[Mapping[str, float]] | None = None) -> list[Suggestion]:
    """The out-of-fold suggestions as stored for ``agreement``: each fold's codes are
    suggested at the threshold chosen on the *other* folds (``default`` when not
    ``choose`` or too little data), so agreement never scores a choice made on the
    segments it scores. ``floors[f]`` holds fold ``f``'s zero-shot floors by code (a
    code with no positive in that fold's training documents), which a code also needs."""
    out: list[Suggestion] = []
    for f, fold in enumerate(by_fold):
        others = [s for g, other in enumerate(by_fold) if g != f for s in other]
        t = _code_threshold(ts, others, code_labels) if choose else None
        t = default if t is None else t
        floor = floors[f] if floors else {}
        out += [Suggestion(segment_id=s.segment_id, model_id=model_id, dimension=s.dimension,
                           label=s.label, probability=s.probability,
                           suggested=(s.probability >= max(t, floor.get(s.label, 0.0))
                                      if s.dimension == CODE_DIMENSION else s.suggested))
                for s in fold]
    return out


def _code_threshold(ts: TrainingSet, oof: Sequence[Suggestion],
                    code_labels: Sequence[str]) -> float | None:
    """The code threshold that best matches the coders on the out-of-fold suggestions."""

    row = {s.id: i for i, s in enumerate(ts.segments) if ts.code_sets[i] is not None}
    col = {c: j for j, c in enumerate(code_labels)}
    P = np.full((len(ts.segments), len(code_labels)), np.nan)
    for s in oof:
        if s.dimension == CODE_DIMENSION and s.segment_id in row and s.label in col:
            P[row[s.segment_id], col[s.label]] = s.probability
    keep = ~np.isnan(P).any(axis=1)
    if not keep.any():
        return None
    Y = np.array([[c in (ts.code_sets[i] or ()) for c in code_labels]
                  for i in range(len(ts.segments))], dtype=int)
    return choose_code_threshold(P[keep], Y[keep])


def _register(store: Store, model, directory: Path) -> None:
    """Record the model with the thresholds its stored suggestions use."""
    store.register_model(
        model.manifest["model_id"], str(directory.relative_to(store.path.parent)),
        {**model.manifest, "code_threshold": model.code_threshold,
         "stage_threshold": model.stage_threshold},
    )


def _is_parent(codebook, code_id: str) -> bool:
    return any(c.parent == code_id for c in codebook.codes)


def _cross_validate(ts: TrainingSet, batch, code_labels, stage_labels, embedder_id: str,
                    folds: int, prototypes=None
                    ) -> tuple[int, list[list[Suggestion]], list[dict[str, float]]]:
    """(folds used, each fold's out-of-fold suggestions for its coded segments, each fold
    model's zero-shot floors by code); folds are grouped by document."""
    from sklearn.model_selection import GroupKFold

    documents = np.array([s.document for s in ts.segments])
    n_folds = min(folds, len(set(documents)))
    if n_folds < 2:
        return 0, [], []
    out: list[list[Suggestion]] = []
    floors: list[dict[str, float]] = []
    rows = np.arange(len(ts.segments))
    for train_idx, test_idx in GroupKFold(n_splits=n_folds).split(rows, groups=documents):
        try:
            fold_model = _fit(ts, batch, train_idx, code_labels, stage_labels, embedder_id,
                              prototypes)
        except ModelError:
            continue
        ids = [ts.segments[i].id for i in test_idx]
        out.append(fold_model.suggest(batch.subset(test_idx), ids, top_evidence=0))
        cut = fold_model.with_thresholds(code=0.0).code_thresholds
        floors.append({c: float(t) for c, t in zip(fold_model.code_labels, cut, strict=True)
                       if t > 0})
    return n_folds, out, floors


def load_latest_model(store: Store):

    info = store.latest_model()
    if info is None:
        raise ModelError("the project has no trained model yet; run `isp-nlp train` first")
    return SuggesterModel.load(store.path.parent / info["path"])


def humanly_coded(annotations: Sequence[Annotation]) -> set[str]:
    return {a.segment_id for a in annotations if a.source in HUMAN_SOURCES}


def suggest_project(store: Store, embedder=None, *, code_threshold: float | None = None,
                    stage_threshold: float | None = None, progress: bool = False) -> dict:
    """Score every codable segment that has no human code with the latest model."""
    model = load_latest_model(store).with_thresholds(code=code_threshold, stage=stage_threshold)
    embedder = embedder or project_embedder(store)
    if embedder.model_id != model.embedder_id:
        raise ModelError(
            f"the latest model was trained on '{model.embedder_id}' embeddings but the project "
            f"embeds with '{embedder.model_id}'; run `isp-nlp train` again"
        )
    coded = humanly_coded(store.annotations())
    targets = [s for s in store.segments(codable_only=True) if s.id not in coded]
    model_id = model.manifest["model_id"]
    if not targets:
        store.replace_suggestions(model_id, [])
        return {"model_id": model_id, "segments": 0, "suggested_codes": 0, "stage_abstained": 0}
    batch = segment_batch(store, targets, embedder, progress=progress)
    suggestions = model.suggest(batch, [s.id for s in targets], top_evidence=3)
    store.replace_suggestions(model_id, suggestions)
    _register(store, model, model_directory(store))
    stage = [s for s in suggestions if s.dimension == "stage"]
    return {
        "model_id": model_id,
        "segments": len(targets),
        "suggested_codes": sum(s.suggested for s in suggestions if s.dimension == "code"),
        "stage_abstained": sum(not s.suggested for s in stage),
        "code_threshold": model.code_threshold,
        "stage_threshold": model.stage_threshold,
    }


def model_directory(store: Store) -> Path | None:
    info = store.latest_model()
    return None if info is None else store.path.parent / info["path"]
