"""The trained suggester: predict, explain with exemplars, save and load without pickle.

A saved model is a folder with ``manifest.json`` (provenance), ``config.json``
(labels, thresholds, hyper-parameters, estimator state) and ``weights.npz``
(arrays only, loaded with ``allow_pickle=False``). ``model_id`` is a short
hash of config + arrays, so identical training gives the same id and a
changed or damaged file is detected on load. Version 3 adds codebook prototypes
(zero-shot probabilities for codes without seed examples), version 4 the stage's
codebook prior; a model without them is still written as version 2 (or 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, Evidence, Suggestion
from isp_nlp.store.files import atomic_path, atomic_write_text
from isp_nlp.suggest.batch import SegmentBatch
from isp_nlp.suggest.bundle_io import certificates, check_unit_interval, platt_maps, positive
from isp_nlp.suggest.bundle_io import content_hash as _content_hash
from isp_nlp.suggest.bundle_io import dumps as _dumps
from isp_nlp.suggest.bundle_io import prefixed as _prefixed
from isp_nlp.suggest.bundle_io import read_arrays as _read_arrays
from isp_nlp.suggest.bundle_io import read_json as _read_json
from isp_nlp.suggest.calibration import apply_platt, apply_temperature
from isp_nlp.suggest.estimators import CodeSuggester, StageClassifier
from isp_nlp.suggest.evidence import nearest_exemplars, uncertainty_scores
from isp_nlp.suggest.features import FeatureBuilder
from isp_nlp.suggest.prototypes import Prototypes

FORMAT = "isp-nlp-suggester"
FORMAT_VERSION = 4
# version 1: embedding-only models without a feature builder; 2: no prototypes;
# 3: code prototypes only
READABLE_VERSIONS = (1, 2, 3, 4)
FILES = ("manifest.json", "config.json", "weights.npz")
#: Segments scored at a time by :meth:`SuggesterModel.suggest` (features of a large wave
#: would otherwise all be in memory at once).
SUGGEST_CHUNK = 2048
#: The groups of arrays in weights.npz (``code/...``, ...) and the one plain array.
ARRAY_PARTS = ("code", "stage", "features", "prototypes", "stage_prototypes", "exemplars",
               "code_platt")


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
                    "pass isp_nlp.suggest.batch.SegmentBatch."
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
                best = int(np.argmax(stage_p[i]))
                p = float(stage_p[i, best])
                out.append(Suggestion(sid, mid, STAGE_DIMENSION, stage_classes[best], p,
                                      p >= self.stage_threshold, evidence))
        return out

    # ---- persistence ------------------------------------------------------------------

    def _config_and_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays: dict[str, np.ndarray] = {"exemplars": np.asarray(self.exemplars, np.float32)}
        estimators: dict[str, Any] = {}
        for name, est in (("code", self.code_estimator), ("stage", self.stage_estimator)):
            if est is None:
                estimators[name] = None
                continue
            state, est_arrays = est.get_learned_state()
            estimators[name] = {"params": est.get_params(), "state": state}
            arrays.update({f"{name}/{k}": np.asarray(v) for k, v in est_arrays.items()})
        features = None
        if self.features is not None:
            features, feature_arrays = self.features.get_state()
            arrays.update({f"features/{k}": np.asarray(v) for k, v in feature_arrays.items()})
        config = {
            "format": FORMAT,
            "format_version": (FORMAT_VERSION if self.stage_prototypes is not None
                               else 3 if self.prototypes is not None else 2),
            "embedder_id": self.embedder_id,
            "n_features": self.n_features,
            "code_labels": list(self.code_labels),
            "stage_labels": list(self.stage_labels),
            "code_threshold": float(self.code_threshold),
            "stage_threshold": float(self.stage_threshold),
            "hyper_parameters": dict(self.hyper_parameters),
            "estimators": estimators,
            "features": features,
            "exemplars": {
                "ids": list(self.exemplar_ids),
                "texts": list(self.exemplar_texts),
                "codes": [None if c is None else list(c) for c in self.exemplar_codes],
                "stages": list(self.exemplar_stages),
            },
        }
        if self.prototypes is not None:  # absent (not null) keeps older models' ids stable
            config["prototypes"], proto_arrays = self.prototypes.get_state()
            arrays.update({f"prototypes/{k}": np.asarray(v) for k, v in proto_arrays.items()})
        if self.stage_prototypes is not None:
            config["stage_prototypes"], proto_arrays = self.stage_prototypes.get_state()
            config["prototype_weight"] = float(self.prototype_weight)
            arrays.update({f"stage_prototypes/{k}": np.asarray(v)
                           for k, v in proto_arrays.items()})
        if self.stage_temperature != 1.0:  # absent when unused: older models' ids stay
            config["stage_temperature"] = float(self.stage_temperature)
        if self.code_platt is not None:
            arrays["code_platt"] = np.asarray(self.code_platt, dtype=np.float64)
        if self.certified:
            config["certified"] = self.certified
        return config, arrays

    def content_hash(self) -> str:
        """A short sha256 over the config and arrays (the model's id)."""
        config, arrays = self._config_and_arrays()
        return _content_hash(config, arrays)

    def save(self, directory: str | Path) -> Path:
        """Write manifest.json, config.json and weights.npz into ``directory``."""
        path = Path(directory)
        config, arrays = self._config_and_arrays()
        manifest = dict(self.manifest)
        manifest["model_id"] = _content_hash(config, arrays)
        try:
            path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path / "config.json", _dumps(config))
            with atomic_path(path / "weights.npz") as tmp, open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
            atomic_write_text(path / "manifest.json", _dumps(manifest))
        except OSError as exc:
            raise ModelError(
                f"Could not write the suggester to {path} ({exc.strerror or exc}); expected a "
                "writable folder; fix the permissions or choose another folder."
            ) from exc
        self.manifest = manifest
        return path

    @classmethod
    def load(cls, directory: str | Path) -> SuggesterModel:
        """Read a folder written by :meth:`save`; raises ModelError if it is unusable."""
        path = Path(directory)
        fix = "fix it by retraining with `isp-nlp train`"
        for name in FILES:
            if not (path / name).is_file():
                raise ModelError(
                    f"The suggester folder {path} has no {name}; expected {', '.join(FILES)}; "
                    f"{fix}."
                )
        manifest = _read_json(path / "manifest.json", fix)
        config = _read_json(path / "config.json", fix)
        if config.get("format") != FORMAT or config.get("format_version") not in READABLE_VERSIONS:
            raise ModelError(
                f"{path / 'config.json'} has format {config.get('format')!r} version "
                f"{config.get('format_version')!r}; expected {FORMAT!r} version {FORMAT_VERSION}; "
                f"{fix}."
            )
        check_unit_interval({k: config.get(k, 0.0) for k in (
            "code_threshold", "stage_threshold", "prototype_weight")}, path / "config.json", fix)
        weights = path / "weights.npz"
        arrays = _read_arrays(weights, ARRAY_PARTS, fix)
        expected_id = manifest.get("model_id")
        if expected_id != _content_hash(config, arrays):
            raise ModelError(
                f"{weights} and config.json do not match the model_id {expected_id!r} in "
                f"manifest.json; expected files saved together by one training run; {fix}."
            )
        try:
            return cls._from_config(config, arrays, manifest)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ModelError(
                f"{path / 'config.json'} or weights.npz is incomplete or inconsistent ({exc!r}); "
                f"expected a model saved by this version of isp-nlp; {fix}."
            ) from exc

    @classmethod
    def _from_config(
        cls, config: Mapping[str, Any], arrays: Mapping[str, np.ndarray], manifest: dict
    ) -> SuggesterModel:
        ests: dict[str, Any] = {}
        for name, kind in (("code", CodeSuggester), ("stage", StageClassifier)):
            spec = config["estimators"][name]
            if spec is None:
                ests[name] = None
                continue
            ests[name] = kind.from_learned_state(spec["params"], spec["state"],
                                                 _prefixed(arrays, name))
        features = None
        if config.get("features") is not None:
            features = FeatureBuilder.from_state(config["features"], _prefixed(arrays, "features"))
        prototypes = None  # absent in older models
        if config.get("prototypes") is not None:
            prototypes = Prototypes.from_state(config["prototypes"],
                                                   _prefixed(arrays, "prototypes"))
        stage_prototypes = None  # absent before version 4
        if config.get("stage_prototypes") is not None:
            stage_prototypes = Prototypes.from_state(config["stage_prototypes"],
                                                     _prefixed(arrays, "stage_prototypes"))
        ex = config["exemplars"]
        exemplars = np.asarray(arrays["exemplars"], dtype=np.float32)
        n_ex = len(ex["ids"])
        if exemplars.shape != (n_ex, int(config["n_features"])):
            raise ValueError(f"exemplars has shape {exemplars.shape}, expected ({n_ex}, dims)")
        if not (len(ex["texts"]) == len(ex["codes"]) == len(ex["stages"]) == n_ex):
            raise ValueError("exemplar ids, texts, codes and stages differ in length")
        code_labels = [str(c) for c in config["code_labels"]]
        if ests["code"] is not None and len(ests["code"].classes_) != len(code_labels):
            raise ValueError("the code estimator and code_labels differ in length")
        if prototypes is not None and (list(prototypes.code_labels) != code_labels
                                       or prototypes.dim != exemplars.shape[1]):
            raise ValueError("the prototypes do not match code_labels or the embedding size")
        return cls(
            code_labels=code_labels,
            stage_labels=[str(s) for s in config["stage_labels"]],
            code_estimator=ests["code"],
            stage_estimator=ests["stage"],
            exemplars=exemplars,
            exemplar_ids=[str(s) for s in ex["ids"]],
            exemplar_texts=[str(t) for t in ex["texts"]],
            exemplar_codes=[None if c is None else tuple(c) for c in ex["codes"]],
            exemplar_stages=list(ex["stages"]),
            embedder_id=str(config["embedder_id"]),
            code_threshold=float(config["code_threshold"]),
            stage_threshold=float(config["stage_threshold"]),
            hyper_parameters=dict(config["hyper_parameters"]),
            manifest=manifest,
            features=features,
            prototypes=prototypes,
            stage_prototypes=stage_prototypes,
            prototype_weight=float(config.get("prototype_weight", 0.0)),
            stage_temperature=positive(config.get("stage_temperature", 1.0)),
            code_platt=platt_maps(arrays.get("code_platt"), len(code_labels)),
            certified=certificates(config.get("certified") or {}),
        )

    def with_thresholds(
        self, *, code: float | None = None, stage: float | None = None
    ) -> SuggesterModel:
        """A copy with other abstain thresholds (keeps the manifest; a new id once saved)."""
        return replace(
            self,
            code_threshold=self.code_threshold if code is None else float(code),
            stage_threshold=self.stage_threshold if stage is None else float(stage),
        )

