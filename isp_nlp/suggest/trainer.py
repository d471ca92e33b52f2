"""The one trainer: fit a :class:`SuggesterModel` from embeddings of human-coded segments.

``isp-nlp train`` (and its out-of-fold predictions), ``isp-nlp evaluate`` and the AnnoMI
benchmark all fit through :func:`train_suggester` with :class:`TrainParams`, so what is
measured is what ships. A model is a :class:`~isp_nlp.suggest.features.FeatureBuilder`
(embedding, previous turn, TF-IDF and surface features) followed by balanced logistic
regression: one per code (multi-label) and one over the values of each single-choice
dimension of the codebook (single-label; any one-label-per-segment task in ``evaluate``).
Codebook definitions and examples (:mod:`isp_nlp.suggest.prototypes`) give codes without
seeds a zero-shot probability and each single-label model a prior.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

import isp_nlp
from isp_nlp.coded.batch import ContextHistory, SegmentBatch
from isp_nlp.errors import ModelError
from isp_nlp.suggest.bundle import DimensionModel, SuggesterModel
from isp_nlp.suggest.estimators import CodeSuggester, ValueClassifier
from isp_nlp.suggest.features import FeatureBuilder, FeatureSpec
from isp_nlp.suggest.prototypes import (
    Prototypes,
    choose_prior_weight,
    fit_prototypes,
    stack_prototypes,
)
from isp_nlp.suggest.selection import select_spec
from isp_nlp.suggest.training_checks import training_batch, validate_training

NO_CODES_HINT = "import seed codes with `isp-nlp import-codes` first"


@dataclass(frozen=True)
class TrainParams:
    """Hyper-parameters of the suggester (all JSON-safe)."""

    code_C: float = 1.0
    value_C: float = 1.0
    class_weight: str | None = "balanced"
    max_iter: int = 1000
    code_threshold: float = 0.5
    #: Abstain threshold of every dimension's suggestion (until calibration chooses one).
    value_threshold: float = 0.5
    #: Feature block weights (see :mod:`isp_nlp.suggest.features`; 0 = block off).
    #: Defaults chosen by grouped CV on AnnoMI (evaluation/results/tuning.md).
    embedding_weight: float = 1.0
    context_weight: float = 0.5
    word_weight: float = 1.0
    char_weight: float = 1.0
    context_word_weight: float = 0.0
    surface_weight: float = 1.0
    #: Most frequent terms kept per TF-IDF vocabulary (0 = all); keeps training fast.
    max_terms: int = 2000
    #: Keep the configured features or drop the lexical and surface blocks, whichever
    #: scores better for the first trainable dimension's (single-label) model by internal
    #: CV on its seeds
    #: (see :mod:`isp_nlp.suggest.selection`).
    select_features: bool = False
    #: Share of a single-label (dimension) probability that comes from the codebook prior
    #: when value prototypes are given; chosen by grouped CV on the AnnoMI pool
    #: (evaluation/results/tuning.md).
    prototype_weight: float = 0.3
    #: Previous turns in the context block, their decay and the same-speaker block
    #: (see :class:`~isp_nlp.suggest.features.FeatureSpec`; evaluation/results/levers.md).
    context_turns: int = 8
    context_decay: float = 0.5
    context_same_weight: float = 0.5
    #: Drop the prior (share 0) when the codebook alone does not agree with a dimension's
    #: seeds better than chance (:func:`~isp_nlp.suggest.prototypes.choose_prior_weight`;
    #: evaluation/results/codebook_robustness.md); the manifest's ``priors`` say which.
    choose_prototype_weight: bool = True

    def feature_spec(self) -> FeatureSpec:
        """The :class:`FeatureSpec` these parameters ask for."""
        return FeatureSpec(
            embedding_weight=self.embedding_weight, context_weight=self.context_weight,
            word_weight=self.word_weight, char_weight=self.char_weight,
            context_word_weight=self.context_word_weight, surface_weight=self.surface_weight,
            max_terms=self.max_terms, context_turns=self.context_turns,
            context_decay=self.context_decay, context_same_weight=self.context_same_weight,
        )


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries a saved model depends on (no heavy imports)."""
    import sklearn

    versions: dict[str, str | None] = {
        "isp_nlp": isp_nlp.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }
    try:
        versions["sentence-transformers"] = metadata.version("sentence-transformers")
    except metadata.PackageNotFoundError:
        versions["sentence-transformers"] = None
    return versions


def training_data_hash(
    segment_ids: Sequence[str],
    code_sets: Sequence[Collection[str] | None],
    values: Mapping[str, Sequence[str | None]],
) -> str:
    """sha256 over the sorted (segment id, codes, values by dimension) rows used for
    training."""
    rows = sorted(
        (str(sid), None if codes is None else sorted(codes),
         sorted((dim, v[i]) for dim, v in values.items() if v[i] is not None))
        for i, (sid, codes) in enumerate(zip(segment_ids, code_sets, strict=True))
    )
    return hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest()


#: The dimension id of a model trained on one label per segment
#: (:func:`train_single_label` without a ``dimension``).
SINGLE_LABEL = "label"


def train_suggester(
    X: np.ndarray,
    segment_ids: Sequence[str],
    texts: Sequence[str],
    code_sets: Sequence[Collection[str] | None],
    values: Mapping[str, Sequence[str | None]] | None = None,
    *,
    code_labels: Sequence[str],
    value_labels: Mapping[str, Sequence[str]] | None = None,
    embedder_id: str,
    params: TrainParams | None = None,
    context_texts: Sequence[str] | None = None,
    context_embeddings: np.ndarray | None = None,
    prototype_embeddings: Mapping[str, np.ndarray] | None = None,
    value_prototype_embeddings: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    history: ContextHistory | None = None,
    code_known: Sequence[Collection[str] | None] | None = None,
) -> SuggesterModel:
    """Train the code suggester and one suggester per single-choice dimension on
    human-coded segments.

    ``code_sets[i]`` None means segment i has no code annotation (it trains only
    dimensions); an empty set means "seen, no code" (a negative for every code).
    ``value_labels`` maps each dimension id (in the codebook's order) to its values;
    ``values[dim][i]`` is segment i's value on it (None: not coded on it). A part with
    too little data (no code annotations, or fewer than two distinct values of a
    dimension) is skipped and the reason recorded in ``manifest["skipped"]`` by dimension
    id ("code" for codes); if every part is skipped a :class:`ModelError` explains what
    is missing. ``context_texts`` / ``context_embeddings`` are each segment's previous
    turn ("" / zero vector when none); without them the context features are zero;
    ``history`` the turns further back (see :class:`~isp_nlp.coded.batch.ContextHistory`).
    ``prototype_embeddings`` maps codes to embeddings of their codebook texts (see
    :func:`isp_nlp.suggest.prototypes.prototype_texts`); codes without seed positives
    then get zero-shot probabilities (listed in ``manifest["zero_shot_codes"]``).
    ``value_prototype_embeddings[dim]`` maps a dimension's values to embeddings of their
    codebook texts: its model's prior (``params.prototype_weight``); every trained value
    needs some. ``code_known[i]`` (None, or the list None: every code) names the codes
    row i is a label for (a rejected suggestion: its codes, absent); each code fits on
    the rows known for it, and the zero-shot map on rows with every code known.
    """
    params = params or TrainParams()
    ids = [str(s) for s in segment_ids]
    value_labels = {str(d): list(v) for d, v in (value_labels or {}).items()}
    unknown = sorted(set(values or {}) - set(value_labels))
    given = values or {}
    values = {d: [None] * len(ids) if given.get(d) is None else list(given[d])
              for d in value_labels}
    if unknown:
        raise ModelError(f"Training got values of {', '.join(unknown)}, which are not among the "
                         f"dimensions {list(value_labels)}; fix the caller.")
    X = validate_training(X, ids, texts, code_sets, values, code_labels, value_labels)
    batch = training_batch(X, ids, texts, context_texts, context_embeddings, history)
    code_rows = [i for i, c in enumerate(code_sets) if c is not None]
    rows_of = {d: [i for i, v in enumerate(vs) if v is not None] for d, vs in values.items()}
    y_of = {d: np.asarray([str(values[d][i]) for i in rows], dtype=object)
            for d, rows in rows_of.items()}
    trainable = [d for d in value_labels if len(set(y_of[d])) >= 2]
    spec = params.feature_spec()
    if params.select_features and trainable:
        d = trainable[0]
        spec, _ = select_spec(batch.subset(rows_of[d]), y_of[d], spec, lambda: ValueClassifier(
            C=params.value_C, class_weight=params.class_weight, max_iter=params.max_iter))
    features = FeatureBuilder(spec).fit(batch)
    F = features.transform(batch)
    if not code_rows and not any(rows_of.values()):
        raise ModelError(
            f"No human-coded segments were given ({len(ids)} segments, none with a code or "
            f"a dimension's value); expected at least a few coded segments; {NO_CODES_HINT}."
        )
    skipped: dict[str, str] = {}
    code_est: CodeSuggester | None = None
    Y = np.zeros((0, len(code_labels)), dtype=np.int64)
    if not code_labels:
        skipped["code"] = "the codebook has no codes"
    elif not code_rows:
        skipped["code"] = "no segment has a code annotation"
    else:
        row_sets = [set(code_sets[i] or ()) for i in code_rows]
        Y = np.array([[int(c in row) for c in code_labels] for row in row_sets], dtype=np.int64)
        known = _known(code_known, code_rows, code_labels)
        code_est = CodeSuggester(C=params.code_C, class_weight=params.class_weight,
                                 max_iter=params.max_iter, threshold=params.code_threshold)
        code_est.fit(F[code_rows], Y, known)
    dimensions: dict[str, DimensionModel] = {}
    priors: dict[str, dict[str, Any]] = {}
    for d in value_labels:
        rows, y = rows_of[d], y_of[d].astype(str)
        distinct = sorted({str(v) for v in y})
        if len(distinct) < 2:
            skipped[d] = (f"{len(rows)} segments coded with {len(distinct)} distinct value(s) "
                          f"{distinct}; at least 2 distinct values are needed")
            continue
        est = ValueClassifier(C=params.value_C, class_weight=params.class_weight,
                              max_iter=params.max_iter)
        est.fit(F[rows], y)
        protos: Prototypes | None = None
        prior: dict[str, Any] = {}
        embeddings = (value_prototype_embeddings or {}).get(d)
        if embeddings is not None:
            protos = _value_prototypes(distinct, embeddings, X.shape[1])
            prior = _prior_weight(params, protos, X[rows], y)
            priors[d] = prior
        dimensions[d] = DimensionModel(
            labels=list(value_labels[d]), estimator=est,
            exemplar_values=[None if v is None else str(v) for v in values[d]],
            threshold=params.value_threshold, prototypes=protos,
            prototype_weight=prior.get("weight", 0.0))
    prototypes: Prototypes | None = None
    if prototype_embeddings and code_labels:
        whole = _known(code_known, code_rows, code_labels).all(axis=1)
        prototypes = fit_prototypes(code_labels, prototype_embeddings,
                                    X[code_rows][whole], Y[whole])
    if code_est is None and not dimensions:
        raise ModelError(
            f"Nothing can be trained: {'; '.join(f'{k}: {v}' for k, v in skipped.items())}; "
            "expected code annotations or at least two distinct values of a dimension; "
            f"{NO_CODES_HINT}."
        )
    model = SuggesterModel(
        code_labels=list(code_labels),
        code_estimator=code_est,
        exemplars=X.astype(np.float32),
        exemplar_ids=ids,
        exemplar_texts=[str(t) for t in texts],
        exemplar_codes=[None if c is None else tuple(sorted(c)) for c in code_sets],
        embedder_id=embedder_id,
        dimensions=dimensions,
        code_threshold=params.code_threshold,
        hyper_parameters=asdict(params),
        features=features,
        prototypes=prototypes,
    )
    model.manifest = _manifest(model, ids, code_sets, values, value_labels, len(code_rows),
                               {d: len(r) for d, r in rows_of.items()}, skipped)
    if priors:
        model.manifest["priors"] = priors
    return model


def _known(code_known: Sequence[Collection[str] | None] | None, rows: Sequence[int],
           code_labels: Sequence[str]) -> np.ndarray:
    """The (rows, codes) mask of the code entries that are labels."""
    mask = np.ones((len(rows), len(code_labels)), dtype=bool)
    for r, i in enumerate(rows):
        got = None if code_known is None else code_known[i]
        if got is not None:
            mask[r] = [c in got for c in code_labels]
    return mask


def train_single_label(batch: SegmentBatch, y: Sequence[str], *,
                       dimension: str = SINGLE_LABEL,
                       params: TrainParams | None = None,
                       prototypes: Mapping[str, np.ndarray] | None = None,
                       embedder_id: str = "") -> SuggesterModel:
    """:func:`train_suggester` on one label per segment: a model of the one dimension
    ``dimension`` (:meth:`SuggesterModel.dimension` without an id finds it).

    ``prototypes`` maps each label to the embeddings of its codebook texts: the prior.
    """
    labels = [str(v) for v in y]
    if len(set(labels)) < 2:
        raise ModelError(f"need at least 2 different labels to train; found {sorted(set(labels))}")
    return train_suggester(
        batch.embeddings, list(batch.segment_ids), list(batch.texts), [None] * len(labels),
        {dimension: labels}, code_labels=[], value_labels={dimension: sorted(set(labels))},
        embedder_id=embedder_id, params=params, context_texts=batch.context_texts,
        context_embeddings=batch.context_embeddings,
        value_prototype_embeddings=None if prototypes is None else {dimension: prototypes},
        history=batch.history)


def train_multi_label(batch: SegmentBatch, Y: np.ndarray, labels: Sequence[str], *,
                      params: TrainParams | None = None,
                      prototypes: Mapping[str, np.ndarray] | None = None,
                      embedder_id: str = "") -> SuggesterModel:
    """:func:`train_suggester` on codes (``Y``: 0/1 matrix, columns = ``labels``).

    ``prototypes`` maps codes to the embeddings of their codebook texts (zero-shot codes).
    """
    Y = np.asarray(Y)
    code_sets = [frozenset(lab for lab, v in zip(labels, row, strict=True) if v) for row in Y]
    return train_suggester(
        batch.embeddings, list(batch.segment_ids), list(batch.texts), code_sets,
        code_labels=list(labels), embedder_id=embedder_id, params=params,
        context_texts=batch.context_texts, context_embeddings=batch.context_embeddings,
        prototype_embeddings=prototypes, history=batch.history)


def _value_prototypes(classes: Sequence[str], embeddings: Mapping[str, np.ndarray],
                      dim: int) -> Prototypes:
    """A dimension's prior prototypes; raises ModelError when a trained class has none."""
    missing = [c for c in classes if np.asarray(embeddings.get(c, ())).size == 0]
    if missing:
        raise ModelError(f"the codebook has no definition or example for {', '.join(missing)}; "
                         "expected one for every label; add them to the codebook.")
    return stack_prototypes(classes, {c: embeddings[c] for c in classes}, dim)


#: Fewer seeds than this per class on average and the prior keeps
#: ``TrainParams.prototype_weight`` unchecked: a kappa on a handful of seeds says little.
MIN_PRIOR_CHECK_SEEDS = 5


def _prior_weight(params: TrainParams, protos: Prototypes, X: np.ndarray,
                  y: np.ndarray) -> dict[str, Any]:
    """A dimension prior's share (``weight``), how it was set (``chosen_by``) and, when checked,
    the kappa of the prior alone with the seeds (``seed_kappa``)."""
    weight = float(params.prototype_weight)
    if not params.choose_prototype_weight:
        return {"weight": weight, "chosen_by": "fixed"}
    classes = np.unique(y)
    if len(y) < MIN_PRIOR_CHECK_SEEDS * len(classes):
        return {"weight": weight, "chosen_by": f"fixed: fewer than {MIN_PRIOR_CHECK_SEEDS} "
                                               "seeds per class to check it on"}
    chosen, skill = choose_prior_weight(protos.class_proba(X, [str(c) for c in classes]),
                                        np.searchsorted(classes, y), weight)
    return {"weight": chosen, "seed_kappa": round(skill, 4),
            "chosen_by": "the codebook alone " + ("beats" if skill > 0 else "does not beat")
                         + " chance on the seeds"}


def _floors(code_labels: Sequence[str], floors: np.ndarray | None) -> dict[str, float]:
    """The zero-shot floors by code, for the manifest."""
    if floors is None:
        return {}
    return {c: round(float(f), 4) for c, f in zip(code_labels, floors, strict=True)
            if not np.isnan(f)}


def _manifest(
    model: SuggesterModel,
    ids: Sequence[str],
    code_sets: Sequence[Collection[str] | None],
    values: Mapping[str, Sequence[str | None]],
    value_labels: Mapping[str, Sequence[str]],
    n_code_rows: int,
    n_value_rows: Mapping[str, int],
    skipped: dict[str, str],
) -> dict[str, Any]:
    return {
        "format": "isp-nlp-suggester",
        "model_id": model.content_hash(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedder_id": model.embedder_id,
        "versions": library_versions(),
        "code_labels": list(model.code_labels),
        "dimension_labels": {d: list(v) for d, v in value_labels.items()},
        "dimension_classes": {d: m.classes for d, m in model.dimensions.items()},
        "training_data_hash": training_data_hash(ids, code_sets, values),
        "n_training_segments": len(ids),
        "n_code_segments": n_code_rows,
        "n_value_segments": dict(n_value_rows),
        "hyper_parameters": dict(model.hyper_parameters),
        "skipped": skipped,
        "zero_shot_codes": model.zero_shot_codes,
        **({} if model.prototypes is None else {"prototype_map": {
            "source": model.prototypes.source, "a": model.prototypes.a,
            "b": model.prototypes.b, "n_calibration_codes": model.prototypes.n_calibration_codes,
            "zero_shot_floors": _floors(model.code_labels, model.prototypes.floors),
        }}),
    }
