"""The suggester bundle on disk: the model's config and arrays, their canonical JSON and
content hash, checked reading and atomic writing.

A saved model is a folder with ``manifest.json`` (provenance), ``config.json``
(labels, thresholds, hyper-parameters, estimator state) and ``weights.npz``
(arrays only, loaded with ``allow_pickle=False``). ``model_id`` is a short
hash of config + arrays, so identical training gives the same id and a
changed or damaged file is detected on load. Version 3 adds codebook prototypes
(zero-shot probabilities for codes without seed examples), version 4 the stage's
codebook prior; a model without them is still written as version 2 (or 3).
:class:`~isp_nlp.suggest.bundle.SuggesterModel` is read through :class:`BundledModel`
(its fields) and rebuilt from the keyword arguments :func:`read_bundle` returns.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION
from isp_nlp.store.files import atomic_path, atomic_write_text
from isp_nlp.suggest.estimators import CodeSuggester, StageClassifier
from isp_nlp.suggest.features import FeatureBuilder
from isp_nlp.suggest.prototypes import Prototypes

FORMAT = "isp-nlp-suggester"
FORMAT_VERSION = 4
# version 1: embedding-only models without a feature builder; 2: no prototypes;
# 3: code prototypes only
READABLE_VERSIONS = (1, 2, 3, 4)
FILES = ("manifest.json", "config.json", "weights.npz")
#: The groups of arrays in weights.npz (``code/...``, ...) and the one plain array.
ARRAY_PARTS = ("code", "stage", "features", "prototypes", "stage_prototypes", "exemplars",
               "code_platt")
#: A bundle's JSON files and arrays are a few MB; larger ones are refused before reading.
MAX_JSON_BYTES = 64_000_000
MAX_ARRAY_BYTES = 512_000_000
MAX_ARRAYS = 1_000


class BundledModel(Protocol):
    """The fields of :class:`~isp_nlp.suggest.bundle.SuggesterModel` a bundle stores."""

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
    code_threshold: float
    stage_threshold: float
    hyper_parameters: dict[str, Any]
    features: FeatureBuilder | None
    prototypes: Prototypes | None
    stage_prototypes: Prototypes | None
    prototype_weight: float
    stage_temperature: float
    stage_prior_weights: np.ndarray | None
    code_platt: np.ndarray | None
    certified: dict[str, dict[str, Any]]


# -- model <-> (config, arrays) ------------------------------------------------------------
def model_state(model: BundledModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The model's ``config.json`` object and its ``weights.npz`` arrays."""
    arrays: dict[str, np.ndarray] = {"exemplars": np.asarray(model.exemplars, np.float32)}
    estimators: dict[str, Any] = {}
    for name, est in (("code", model.code_estimator), ("stage", model.stage_estimator)):
        if est is None:
            estimators[name] = None
            continue
        state, est_arrays = est.get_learned_state()
        estimators[name] = {"params": est.get_params(), "state": state}
        arrays.update({f"{name}/{k}": np.asarray(v) for k, v in est_arrays.items()})
    features = None
    if model.features is not None:
        features, feature_arrays = model.features.get_state()
        arrays.update({f"features/{k}": np.asarray(v) for k, v in feature_arrays.items()})
    config = {
        "format": FORMAT,
        "format_version": (FORMAT_VERSION if model.stage_prototypes is not None
                           else 3 if model.prototypes is not None else 2),
        "embedder_id": model.embedder_id,
        "n_features": int(model.exemplars.shape[1]),
        "code_labels": list(model.code_labels),
        "stage_labels": list(model.stage_labels),
        "code_threshold": float(model.code_threshold),
        "stage_threshold": float(model.stage_threshold),
        "hyper_parameters": dict(model.hyper_parameters),
        "estimators": estimators,
        "features": features,
        "exemplars": {
            "ids": list(model.exemplar_ids),
            "texts": list(model.exemplar_texts),
            "codes": [None if c is None else list(c) for c in model.exemplar_codes],
            "stages": list(model.exemplar_stages),
        },
    }
    if model.prototypes is not None:  # absent (not null) keeps older models' ids stable
        config["prototypes"], proto_arrays = model.prototypes.get_state()
        arrays.update({f"prototypes/{k}": np.asarray(v) for k, v in proto_arrays.items()})
    if model.stage_prototypes is not None:
        config["stage_prototypes"], proto_arrays = model.stage_prototypes.get_state()
        config["prototype_weight"] = float(model.prototype_weight)
        arrays.update({f"stage_prototypes/{k}": np.asarray(v)
                       for k, v in proto_arrays.items()})
    if model.stage_temperature != 1.0:  # absent when unused: older models' ids stay
        config["stage_temperature"] = float(model.stage_temperature)
    if model.stage_prior_weights is not None:
        config["stage_prior_weights"] = [float(v) for v in model.stage_prior_weights]
    if model.code_platt is not None:
        arrays["code_platt"] = np.asarray(model.code_platt, dtype=np.float64)
    if model.certified:
        config["certified"] = model.certified
    return config, arrays


def model_fields(config: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The model's fields (all but ``manifest``) from a saved config and arrays; KeyError,
    ValueError, TypeError or IndexError when they are incomplete or inconsistent."""
    ests: dict[str, Any] = {}
    for name, kind in (("code", CodeSuggester), ("stage", StageClassifier)):
        spec = config["estimators"][name]
        if spec is None:
            ests[name] = None
            continue
        ests[name] = kind.from_learned_state(spec["params"], spec["state"],
                                             prefixed(arrays, name))
    features = None
    if config.get("features") is not None:
        features = FeatureBuilder.from_state(config["features"], prefixed(arrays, "features"))
    prototypes = None  # absent in older models
    if config.get("prototypes") is not None:
        prototypes = Prototypes.from_state(config["prototypes"], prefixed(arrays, "prototypes"))
    stage_prototypes = None  # absent before version 4
    if config.get("stage_prototypes") is not None:
        stage_prototypes = Prototypes.from_state(config["stage_prototypes"],
                                                 prefixed(arrays, "stage_prototypes"))
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
    return {
        "code_labels": code_labels,
        "stage_labels": [str(s) for s in config["stage_labels"]],
        "code_estimator": ests["code"],
        "stage_estimator": ests["stage"],
        "exemplars": exemplars,
        "exemplar_ids": [str(s) for s in ex["ids"]],
        "exemplar_texts": [str(t) for t in ex["texts"]],
        "exemplar_codes": [None if c is None else tuple(c) for c in ex["codes"]],
        "exemplar_stages": list(ex["stages"]),
        "embedder_id": str(config["embedder_id"]),
        "code_threshold": float(config["code_threshold"]),
        "stage_threshold": float(config["stage_threshold"]),
        "hyper_parameters": dict(config["hyper_parameters"]),
        "features": features,
        "prototypes": prototypes,
        "stage_prototypes": stage_prototypes,
        "prototype_weight": float(config.get("prototype_weight", 0.0)),
        "stage_temperature": positive(config.get("stage_temperature", 1.0)),
        "stage_prior_weights": prior_weights(config.get("stage_prior_weights"),
                                             ests["stage"]),
        "code_platt": platt_maps(arrays.get("code_platt"), len(code_labels)),
        "certified": certificates(config.get("certified") or {}),
    }


# -- the folder ----------------------------------------------------------------------------
def write_bundle(path: Path, model: BundledModel, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Write manifest.json, config.json and weights.npz into ``path``; returns the manifest
    written (``manifest`` with the ``model_id``)."""
    config, arrays = model_state(model)
    written = dict(manifest)
    written["model_id"] = content_hash(config, arrays)
    try:
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path / "config.json", dumps(config))
        with atomic_path(path / "weights.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        atomic_write_text(path / "manifest.json", dumps(written))
    except OSError as exc:
        raise ModelError(
            f"Could not write the suggester to {path} ({exc.strerror or exc}); expected a "
            "writable folder; fix the permissions or choose another folder."
        ) from exc
    return written


def read_bundle(path: Path) -> dict[str, Any]:
    """The model's fields, ``manifest`` included, from a folder :func:`write_bundle` wrote;
    raises ModelError if it is unusable."""
    fix = "fix it by retraining with `isp-nlp train`"
    for name in FILES:
        if not (path / name).is_file():
            raise ModelError(
                f"The suggester folder {path} has no {name}; expected {', '.join(FILES)}; "
                f"{fix}."
            )
    manifest = read_json(path / "manifest.json", fix)
    config = read_json(path / "config.json", fix)
    if config.get("format") != FORMAT or config.get("format_version") not in READABLE_VERSIONS:
        raise ModelError(
            f"{path / 'config.json'} has format {config.get('format')!r} version "
            f"{config.get('format_version')!r}; expected {FORMAT!r} version {FORMAT_VERSION}; "
            f"{fix}."
        )
    check_unit_interval({k: config.get(k, 0.0) for k in (
        "code_threshold", "stage_threshold", "prototype_weight")}, path / "config.json", fix)
    weights = path / "weights.npz"
    arrays = read_arrays(weights, ARRAY_PARTS, fix)
    expected_id = manifest.get("model_id")
    if expected_id != content_hash(config, arrays):
        raise ModelError(
            f"{weights} and config.json do not match the model_id {expected_id!r} in "
            f"manifest.json; expected files saved together by one training run; {fix}."
        )
    try:
        return {**model_fields(config, arrays), "manifest": manifest}
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ModelError(
            f"{path / 'config.json'} or weights.npz is incomplete or inconsistent ({exc!r}); "
            f"expected a model saved by this version of isp-nlp; {fix}."
        ) from exc


# -- file helpers and validators -----------------------------------------------------------
def prefixed(arrays: Mapping[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """The arrays saved under ``name/``, without that prefix."""
    prefix = f"{name}/"
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def content_hash(config: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8"))
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"\n{name}:{arr.dtype.str}:{arr.shape}\n".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()[:16]


def read_json(path: Path, fix: str) -> dict[str, Any]:
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ModelError(f"{path} is {size:,} bytes, beyond the limit of {MAX_JSON_BYTES:,} "
                         f"bytes; a model's JSON files are far smaller, so it is refused; {fix}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{path} is not readable JSON ({exc}); expected the file written by "
            f"SuggesterModel.save; {fix}."
        ) from exc
    except RecursionError:
        raise ModelError(f"{path} is nested too deeply to be a model file; {fix}.") from None
    if not isinstance(data, dict):
        raise ModelError(
            f"{path} holds a JSON {type(data).__name__}; expected a JSON object; {fix}."
        )
    return data


def read_arrays(path: Path, parts: Iterable[str], fix: str) -> dict[str, np.ndarray]:
    """The plain arrays of ``weights.npz``, checked before anything is loaded: a real zip,
    at most :data:`MAX_ARRAYS` members, every name under one of ``parts`` (``code/...``) or
    a part itself, and at most :data:`MAX_ARRAY_BYTES` once unpacked."""
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path} is not a numpy .npz archive (it is not even a zip file); "
                         f"{fix}.")
    allowed = tuple(parts)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path} cannot be read ({exc}); {fix}.") from None
    if len(members) > MAX_ARRAYS:
        raise ModelError(f"{path} holds {len(members)} arrays; a model has far fewer; {fix}.")
    total = sum(m.file_size for m in members)
    if total > MAX_ARRAY_BYTES:
        raise ModelError(f"{path} unpacks to {total:,} bytes, beyond the limit of "
                         f"{MAX_ARRAY_BYTES:,} bytes; a model is far smaller, so it is refused "
                         f"before loading; {fix}.")
    for m in members:
        name = m.filename.removesuffix(".npy")
        if not m.filename.endswith(".npy") or not (
                name in allowed or name.split("/", 1)[0] in allowed):
            raise ModelError(f"{path} holds {m.filename!r}, which no part of the model uses; "
                             f"expected only the arrays SuggesterModel.save writes; {fix}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = "it holds Python objects" if "pickle" in str(exc) else str(exc)
        raise ModelError(f"{path} cannot be read ({reason}); expected a numpy .npz of plain "
                         f"numbers; {fix}.") from None
    return arrays


def check_unit_interval(values: Mapping[str, Any], where: Path, fix: str) -> None:
    """Refuse thresholds and weights that are not finite numbers in [0, 1]."""
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ModelError(f"{where} has {key} = {value!r}; expected a number from 0 to 1; "
                             f"{fix}.")


def positive(value: Any) -> float:
    """A saved temperature: a finite positive number (ValueError otherwise)."""
    t = float(value)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"stage_temperature is {value!r}, expected a positive number")
    return t


def prior_weights(value: Any, stage: StageClassifier | None) -> np.ndarray | None:
    """Saved stage prior weights: finite, positive, one per stage class (ValueError)."""
    if value is None:
        return None
    out = np.asarray(value, dtype=np.float64)
    n = 0 if stage is None else len(stage.classes_)
    if out.shape != (n,) or not (np.isfinite(out).all() and (out > 0).all()):
        raise ValueError(f"stage_prior_weights has shape {out.shape} (or values that are not "
                         f"positive), expected {n} positive numbers")
    return out


def platt_maps(array: np.ndarray | None, n_codes: int) -> np.ndarray | None:
    """Saved per-code Platt maps: finite, shape (n_codes, 2) (ValueError otherwise)."""
    if array is None:
        return None
    out = np.asarray(array, dtype=np.float64)
    if out.shape != (n_codes, 2) or not np.isfinite(out).all():
        raise ValueError(f"code_platt has shape {out.shape} (or non-finite values), expected "
                         f"({n_codes}, 2)")
    return out


def certificates(value: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Saved certificates by dimension, each threshold None or in [0, 1] (ValueError)."""
    out = {}
    for dim, cert in dict(value).items():
        t = cert.get("threshold")
        if dim not in (CODE_DIMENSION, STAGE_DIMENSION) or (
                t is not None and not (np.isfinite(float(t)) and 0.0 <= float(t) <= 1.0)):
            raise ValueError(f"certified[{dim!r}] is not a certificate with a threshold in [0, 1]")
        out[dim] = dict(cert)
    return out
