"""The trained suggester: predict, explain with exemplars, save and load without pickle.

A saved model is a folder of ``manifest.json``, ``config.json`` and ``weights.npz``
(plain arrays, no pickle); :mod:`isp_nlp.suggest.bundle_io` reads and writes it, and
``model_id`` is a short hash of config + arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, Evidence, Suggestion
from isp_nlp.suggest.bundle_io import content_hash, model_state, read_bundle, write_bundle
from isp_nlp.suggest.calibration import apply_platt, apply_temperature, top_label_confidence
from isp_nlp.suggest.estimators import CodeSuggester, ValueClassifier
from isp_nlp.suggest.evidence import nearest_exemplars, uncertainty_scores
from isp_nlp.suggest.exclusive import exclusive_mask
from isp_nlp.suggest.features import FeatureBuilder
from isp_nlp.suggest.prototypes import Prototypes

#: Segments scored at a time by :meth:`SuggesterModel.suggest` (features of a large wave
#: would otherwise all be in memory at once).
SUGGEST_CHUNK = 2048


@dataclass
class DimensionModel:
    """The single-label suggester of one single-choice dimension (its values).

    ``labels`` are the dimension's values in the codebook's order; ``estimator`` is fitted
    on those coded (its ``classes_``: the values seen, at least two). ``exemplar_values[i]``
    is exemplar i's value (None: not coded on this dimension). ``prototypes`` (optional)
    are the values' codebook prior: the probability is ``(1 - w) * estimator + w * prior``
    with ``w = prototype_weight``. Post-hoc calibration fitted on out-of-fold predictions
    (:mod:`.out_of_fold`): ``temperature``, and ``prior_weights`` (per class, population
    share / training share: a suggestion's confidence is its probability under the coded
    segments' label mix, :func:`~isp_nlp.suggest.calibration.top_label_confidence`; None:
    the probability). ``threshold``: suggest abstains below it.
    """

    labels: list[str]
    estimator: ValueClassifier
    exemplar_values: list[str | None]
    threshold: float = 0.5
    prototypes: Prototypes | None = None
    prototype_weight: float = 0.0
    temperature: float = 1.0
    prior_weights: np.ndarray | None = None

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.estimator.classes_]

    @property
    def balanced(self) -> bool:
        """Trained with balanced class weights (as if every value were equally common)."""
        return getattr(self.estimator, "class_weight", None) == "balanced"

    def proba(self, X: np.ndarray, F: Any) -> np.ndarray:
        """(n, len(classes)) calibrated probabilities (``X`` embeddings, ``F`` features)."""
        proba = self.estimator.predict_proba(F)
        if self.prototypes is not None and self.prototype_weight:
            w = self.prototype_weight
            proba = (1 - w) * proba + w * self.prototypes.class_proba(X, self.classes)
        return apply_temperature(proba, self.temperature)


@dataclass
class SuggesterModel:
    """Code estimator, one single-label model per single-choice dimension, and the
    exemplars that explain their suggestions.

    ``exemplar_codes[i]`` is None for an exemplar coded only on dimensions.
    ``dimensions`` maps dimension ids (the codebook's order) to their
    :class:`DimensionModel`; a dimension without enough data is absent (see
    ``manifest["skipped"]``). ``features`` maps a :class:`SegmentBatch` to the
    estimators' input (None: the embeddings themselves). Prediction methods take a
    :class:`SegmentBatch`, or a plain embedding matrix when the features need no text.
    ``prototypes`` (optional) give codes the code estimator could not fit (no seed
    positives) a zero-shot probability from the codebook.
    """

    code_labels: list[str]
    code_estimator: CodeSuggester | None
    exemplars: np.ndarray
    exemplar_ids: list[str]
    exemplar_texts: list[str]
    exemplar_codes: list[tuple[str, ...] | None]
    embedder_id: str
    dimensions: dict[str, DimensionModel] = field(default_factory=dict)
    code_threshold: float = 0.5
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    features: FeatureBuilder | None = None
    prototypes: Prototypes | None = None
    #: Per-code (a, b) Platt maps fitted on out-of-fold predictions (:mod:`.out_of_fold`).
    code_platt: np.ndarray | None = None
    #: Certificates by dimension (dimension ids and "code"; :mod:`isp_nlp.suggest.certify`):
    #: a suggestion is made only at or above ``threshold`` (codes: the segment's confidence).
    certified: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Groups of mutually exclusive codes (:mod:`isp_nlp.suggest.exclusive`): at most one
    #: of each is suggested on a segment. Not saved with the model: whoever scores with it
    #: sets the codebook in force (:meth:`with_exclusive`), so a changed codebook applies
    #: without retraining.
    exclusive_groups: tuple[tuple[str, ...], ...] = ()

    @property
    def model_id(self) -> str:
        return str(self.manifest.get("model_id") or self.content_hash())

    @property
    def n_features(self) -> int:
        return int(self.exemplars.shape[1])

    @property
    def thresholds(self) -> dict[str, float]:
        """The abstain threshold of each dimension."""
        return {dim: float(m.threshold) for dim, m in self.dimensions.items()}

    def dimension(self, dimension: str | None = None) -> DimensionModel:
        """The model of ``dimension``; None: the only one (a single-label model).
        Raises ModelError when there is no such dimension model."""
        if dimension is None:
            if len(self.dimensions) != 1:
                raise ModelError(
                    f"Suggester {self.model_id} has {len(self.dimensions)} dimension models "
                    f"({', '.join(self.dimensions) or 'none'}); expected exactly one; fix the "
                    "caller to name the dimension.")
            return next(iter(self.dimensions.values()))
        found = self.dimensions.get(dimension)
        if found is None:
            raise ModelError(
                f"Suggester {self.model_id} has no model of the dimension {dimension!r} (it "
                f"has {', '.join(self.dimensions) or 'none'}); retrain with `isp-nlp train`.")
        return found

    def value_classes(self, dimension: str | None = None) -> list[str]:
        """The values ``dimension``'s probabilities are over (None: the only dimension)."""
        return self.dimension(dimension).classes

    # ---- prediction -------------------------------------------------------------------

    @property
    def needs_text(self) -> bool:
        spec = None if self.features is None else self.features.spec
        return spec is not None and bool(spec.uses_text or spec.surface_weight)

    def _inputs(self, data: SegmentBatch | np.ndarray) -> tuple[np.ndarray, Any]:
        """(embeddings, estimator input) for a batch or an embedding matrix."""
        if isinstance(data, SegmentBatch):
            X = self._check_X(data.embeddings)
            if data.context_embeddings is not None:
                self._check_X(data.context_embeddings)
            batch = data
        else:
            X = self._check_X(data)
            if self.needs_text:
                raise ModelError(
                    f"Suggester {self.model_id} uses the segments' text but got only an "
                    "embedding matrix; expected a SegmentBatch with texts; fix the caller to "
                    "pass isp_nlp.coded.batch.SegmentBatch."
                )
            ids = tuple(str(i) for i in range(X.shape[0]))
            batch = SegmentBatch(ids, ("",) * X.shape[0], X)
        if self.features is None:
            return X, X
        return X, self.features.transform(batch)

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ModelError(
                f"Suggester {self.model_id} got embeddings of shape {X.shape}; expected "
                f"(n, {self.n_features}) from embedder {self.embedder_id}; fix it by embedding "
                "with that model or retraining the suggester."
            )
        if not np.isfinite(X).all():
            raise ModelError(
                f"Suggester {self.model_id} got embeddings containing NaN or infinity; expected "
                "finite vectors; fix it by clearing the embedding cache and re-embedding."
            )
        return X

    def _fitted_mask(self) -> np.ndarray | None:
        return None if self.code_estimator is None else self.code_estimator.fitted_mask_

    @property
    def zero_shot_codes(self) -> list[str]:
        """Codes suggested from the codebook only (no seed positives to learn from)."""
        if self.prototypes is None:
            return []
        mask = self.prototypes.zero_shot_mask(self._fitted_mask())
        return [c for c, z in zip(self.code_labels, mask, strict=True) if z]

    @property
    def code_thresholds(self) -> np.ndarray:
        """(n_codes,) probability at which each code is suggested: ``code_threshold``, or
        a zero-shot code's higher floor (:mod:`isp_nlp.suggest.prototypes`)."""
        if self.prototypes is None:
            return np.full(len(self.code_labels), float(self.code_threshold))
        return self.prototypes.thresholds(self.code_threshold, self._fitted_mask())

    def _code_proba(self, X: np.ndarray, F: Any) -> np.ndarray | None:
        proba = None if self.code_estimator is None else self.code_estimator.predict_proba(F)
        if self.prototypes is not None:
            proba = self.prototypes.fill_unfitted(X, proba, self._fitted_mask())
        if proba is None or self.code_platt is None:
            return proba
        return apply_platt(proba, self.code_platt)

    def certified_threshold(self, dimension: str) -> float | None:
        """The certified threshold of ``dimension`` (a dimension id or "code"), None if
        uncertified."""
        value = (self.certified.get(dimension) or {}).get("threshold")
        return None if value is None else float(value)

    def predict_code_proba(self, data: SegmentBatch | np.ndarray) -> np.ndarray | None:
        """(n, len(code_labels)) probabilities, or None without a code model."""
        return self._code_proba(*self._inputs(data))

    def predict_value_proba(self, data: SegmentBatch | np.ndarray,
                            dimension: str | None = None) -> np.ndarray:
        """(n, len(value_classes(dimension))) calibrated probabilities of ``dimension``'s
        values (None: the only dimension)."""
        model = self.dimension(dimension)
        return model.proba(*self._inputs(data))

    def uncertainty(self, data: SegmentBatch | np.ndarray) -> np.ndarray:
        """Per-segment review-order score in [0, 1]; higher = more uncertain."""
        X, F = self._inputs(data)
        return uncertainty_scores(self._code_proba(X, F),
                                  [m.proba(X, F) for m in self.dimensions.values()])

    def suggest(
        self, data: SegmentBatch | np.ndarray, segment_ids: Sequence[str], *,
        top_evidence: int = 3,
    ) -> list[Suggestion]:
        """One code suggestion per code and one suggestion per dimension per segment
        (its most confident value, ``suggested`` at or above the dimension's threshold).
        A code is ``suggested`` at or above its threshold, and of mutually exclusive codes
        (``exclusive_groups``) only the most probable (:mod:`isp_nlp.suggest.exclusive`).

        Evidence is the ``top_evidence`` most similar exemplars (never the
        segment itself); its ``labels`` are the exemplar's codes on code
        suggestions and its value on a dimension's suggestions.
        """
        ids = [str(s) for s in segment_ids]
        n = len(data)
        if n > SUGGEST_CHUNK and len(ids) == n:  # rows are independent: bound the memory
            out_all: list[Suggestion] = []
            for start in range(0, n, SUGGEST_CHUNK):
                rows = np.arange(start, min(start + SUGGEST_CHUNK, n))
                part = data.subset(rows) if isinstance(data, SegmentBatch) else data[rows]
                out_all += self.suggest(part, ids[start:start + SUGGEST_CHUNK],
                                        top_evidence=top_evidence)
            return out_all
        X, F = self._inputs(data)
        if len(ids) != X.shape[0]:
            raise ModelError(
                f"Suggester got {X.shape[0]} embeddings but {len(ids)} segment ids; expected one "
                "id per row; fix the caller to pass matching lists."
            )
        code_p = self._code_proba(X, F)
        code_t = self.code_thresholds
        tops = {dim: (m, *top_label_confidence(m.proba(X, F), m.prior_weights))
                for dim, m in self.dimensions.items()}
        code_cut = self.certified_threshold(CODE_DIMENSION)
        code_ok = (np.ones(X.shape[0], dtype=bool) if code_p is None or code_cut is None
                   else np.maximum(code_p, 1 - code_p).min(axis=1) >= code_cut - 1e-12)
        code_on = None if code_p is None else exclusive_mask(
            code_p, (code_p >= code_t) & code_ok[:, None], self.code_labels,
            self.exclusive_groups)
        idx, sims = nearest_exemplars(X, ids, self.exemplars, self.exemplar_ids, top_evidence)
        out: list[Suggestion] = []
        mid = self.model_id
        for i, sid in enumerate(ids):
            hits = [(int(j), float(s)) for j, s in zip(idx[i], sims[i], strict=True) if j >= 0]
            if code_p is not None and code_on is not None:
                evidence = tuple(
                    Evidence(self.exemplar_ids[j], s, self.exemplar_texts[j],
                             self.exemplar_codes[j] or ())
                    for j, s in hits
                )
                for c, label in enumerate(self.code_labels):
                    out.append(Suggestion(sid, mid, CODE_DIMENSION, label,
                                          float(code_p[i, c]), bool(code_on[i, c]), evidence))
            for dim, (m, top, conf) in tops.items():
                evidence = tuple(
                    Evidence(self.exemplar_ids[j], s, self.exemplar_texts[j],
                             (v,) if (v := m.exemplar_values[j]) else ())
                    for j, s in hits
                )
                p = float(conf[i])
                out.append(Suggestion(sid, mid, dim, m.classes[int(top[i])], p,
                                      p >= m.threshold, evidence))
        return out

    # ---- persistence (the folder's format: :mod:`isp_nlp.suggest.bundle_io`) -----------

    def content_hash(self) -> str:
        """A short sha256 over the config and arrays (the model's id)."""
        return content_hash(*model_state(self))

    def save(self, directory: str | Path) -> Path:
        """Write manifest.json, config.json and weights.npz into ``directory``."""
        path = Path(directory)
        self.manifest = write_bundle(path, self, self.manifest)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> SuggesterModel:
        """Read a folder written by :meth:`save`; raises ModelError if it is unusable."""
        fields = read_bundle(Path(directory))
        fields["dimensions"] = {dim: DimensionModel(**f)
                                for dim, f in fields["dimensions"].items()}
        return cls(**fields)

    def with_exclusive(self, groups: Sequence[Sequence[str]]) -> SuggesterModel:
        """A copy that suggests at most one code of each of ``groups`` per segment (the
        codebook's :attr:`~isp_nlp.records.Codebook.exclusive_groups`)."""
        return replace(self, exclusive_groups=tuple(tuple(g) for g in groups))

    def with_thresholds(
        self, *, code: float | None = None, values: float | Mapping[str, float] | None = None
    ) -> SuggesterModel:
        """A copy with other abstain thresholds (keeps the manifest; a new id once saved):
        ``values`` one threshold for every dimension, or thresholds by dimension id."""
        dims = dict(self.dimensions)
        if values is not None:
            wanted = ({dim: values for dim in dims} if isinstance(values, int | float)
                      else dict(values))
            dims = {dim: m if dim not in wanted else replace(m, threshold=float(wanted[dim]))
                    for dim, m in dims.items()}
        return replace(
            self,
            code_threshold=self.code_threshold if code is None else float(code),
            dimensions=dims,
        )
