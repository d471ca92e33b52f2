"""The trained suggester: predict, explain with exemplars, save and load without pickle.

A saved model is a folder of ``manifest.json``, ``config.json`` and ``weights.npz``
(plain arrays, no pickle); :mod:`isp_nlp.suggest.bundle_io` reads and writes it, and
``model_id`` is a short hash of config + arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from isp_nlp.coded.batch import SegmentBatch
from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, Evidence, Suggestion
from isp_nlp.suggest.bundle_io import content_hash, model_state, read_bundle, write_bundle
from isp_nlp.suggest.calibration import apply_platt, apply_temperature, top_label_confidence
from isp_nlp.suggest.estimators import CodeSuggester, StageClassifier
from isp_nlp.suggest.evidence import nearest_exemplars, uncertainty_scores
from isp_nlp.suggest.features import FeatureBuilder
from isp_nlp.suggest.prototypes import Prototypes

#: Segments scored at a time by :meth:`SuggesterModel.suggest` (features of a large wave
#: would otherwise all be in memory at once).
SUGGEST_CHUNK = 2048


@dataclass
class SuggesterModel:
    """Code and stage estimators plus the exemplars that explain their suggestions.

    ``exemplar_codes[i]`` is None for an exemplar coded only for the stage;
    ``exemplar_stages[i]`` is None for one coded only for codes. ``features`` maps a
    :class:`SegmentBatch` to the estimators' input (None: the embeddings themselves).
    Prediction methods take a :class:`SegmentBatch`, or a plain embedding matrix when
    the features need no text. ``prototypes`` (optional) give codes the code estimator
    could not fit (no seed positives) a zero-shot probability from the codebook.
    ``stage_prototypes`` (optional) are the stage classes' codebook prior: the stage
    probability is ``(1 - w) * estimator + w * prior`` with ``w = prototype_weight``.
    """

    code_labels: list[str]
    stage_labels: list[str]
    code_estimator: CodeSuggester | None
    stage_estimator: StageClassifier | None
    exemplars: np.ndarray
    exemplar_ids: list[str]
    exemplar_texts: list[str]
    exemplar_codes: list[tuple[str, ...] | None]
    exemplar_stages: list[str | None]
    embedder_id: str
    code_threshold: float = 0.5
    stage_threshold: float = 0.5
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    features: FeatureBuilder | None = None
    prototypes: Prototypes | None = None
    stage_prototypes: Prototypes | None = None
    prototype_weight: float = 0.0
    #: Post-hoc calibration fitted on out-of-fold predictions (:mod:`.out_of_fold`): a
    #: temperature for the stage probabilities, (a, b) Platt maps per code.
    stage_temperature: float = 1.0
    #: Per stage class, population share / training share: a stage suggestion's
    #: confidence is its probability under the coded segments' label mix
    #: (:func:`~isp_nlp.suggest.calibration.top_label_confidence`); None: the probability.
    stage_prior_weights: np.ndarray | None = None
    code_platt: np.ndarray | None = None
    #: Certificates by dimension ("stage" / "code"; :mod:`isp_nlp.suggest.certify`): a
    #: suggestion is made only at or above ``threshold`` (codes: the segment's confidence).
    certified: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return str(self.manifest.get("model_id") or self.content_hash())

    @property
    def n_features(self) -> int:
        return int(self.exemplars.shape[1])

    @property
    def stage_classes(self) -> list[str]:
        if self.stage_estimator is None:
            return []
        return [str(c) for c in self.stage_estimator.classes_]

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

    def _stage_proba(self, X: np.ndarray, F: Any) -> np.ndarray | None:
        if self.stage_estimator is None:
            return None
        proba = self.stage_estimator.predict_proba(F)
        if self.stage_prototypes is not None and self.prototype_weight:
            w = self.prototype_weight
            proba = (1 - w) * proba + w * self.stage_prototypes.class_proba(X, self.stage_classes)
        return apply_temperature(proba, self.stage_temperature)

    def certified_threshold(self, dimension: str) -> float | None:
        """The certified threshold of ``dimension`` ("stage" or "code"), None if uncertified."""
        value = (self.certified.get(dimension) or {}).get("threshold")
        return None if value is None else float(value)

    def predict_code_proba(self, data: SegmentBatch | np.ndarray) -> np.ndarray | None:
        """(n, len(code_labels)) probabilities, or None without a code model."""
        return self._code_proba(*self._inputs(data))

    def predict_stage_proba(self, data: SegmentBatch | np.ndarray) -> np.ndarray | None:
        """(n, len(stage_classes)) probabilities, or None without a stage model."""
        return self._stage_proba(*self._inputs(data))

    def uncertainty(self, data: SegmentBatch | np.ndarray) -> np.ndarray:
        """Per-segment review-order score in [0, 1]; higher = more uncertain."""
        X, F = self._inputs(data)
        return uncertainty_scores(self._code_proba(X, F), self._stage_proba(X, F))

    def suggest(
        self, data: SegmentBatch | np.ndarray, segment_ids: Sequence[str], *,
        top_evidence: int = 3,
    ) -> list[Suggestion]:
        """One code suggestion per code and one stage suggestion per segment.

        Evidence is the ``top_evidence`` most similar exemplars (never the
        segment itself); its ``labels`` are the exemplar's codes on code
        suggestions and its stage on stage suggestions.
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
        stage_p = self._stage_proba(X, F)
        if stage_p is not None:
            stage_top, stage_conf = top_label_confidence(stage_p, self.stage_prior_weights)
        stage_classes = self.stage_classes
        code_cut = self.certified_threshold(CODE_DIMENSION)
        code_ok = (np.ones(X.shape[0], dtype=bool) if code_p is None or code_cut is None
                   else np.maximum(code_p, 1 - code_p).min(axis=1) >= code_cut - 1e-12)
        idx, sims = nearest_exemplars(X, ids, self.exemplars, self.exemplar_ids, top_evidence)
        out: list[Suggestion] = []
        mid = self.model_id
        for i, sid in enumerate(ids):
            hits = [(int(j), float(s)) for j, s in zip(idx[i], sims[i], strict=True) if j >= 0]
            if code_p is not None:
                evidence = tuple(
                    Evidence(self.exemplar_ids[j], s, self.exemplar_texts[j],
                             self.exemplar_codes[j] or ())
                    for j, s in hits
                )
                for c, label in enumerate(self.code_labels):
                    p = float(code_p[i, c])
                    out.append(Suggestion(sid, mid, CODE_DIMENSION, label, p,
                                          bool(p >= code_t[c] and code_ok[i]), evidence))
            if stage_p is not None:
                evidence = tuple(
                    Evidence(self.exemplar_ids[j], s, self.exemplar_texts[j],
                             (st,) if (st := self.exemplar_stages[j]) else ())
                    for j, s in hits
                )
                best = int(stage_top[i])
                p = float(stage_conf[i])
                out.append(Suggestion(sid, mid, STAGE_DIMENSION, stage_classes[best], p,
                                      p >= self.stage_threshold, evidence))
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
        return cls(**read_bundle(Path(directory)))

    def with_thresholds(
        self, *, code: float | None = None, stage: float | None = None
    ) -> SuggesterModel:
        """A copy with other abstain thresholds (keeps the manifest; a new id once saved)."""
        return replace(
            self,
            code_threshold=self.code_threshold if code is None else float(code),
            stage_threshold=self.stage_threshold if stage is None else float(stage),
        )

