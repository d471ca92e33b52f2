"""The suggester bundle on disk: the model's config and arrays, their canonical JSON and
content hash, checked reading and atomic writing.

A saved model is a folder with ``manifest.json`` (provenance), ``config.json``
(labels, thresholds, hyper-parameters, estimator state) and ``weights.npz``
(arrays only, loaded with ``allow_pickle=False``). ``model_id`` is a short
hash of config + arrays, so identical training gives the same id and a
changed or damaged file is detected on load. Version 5 holds one single-label model per
single-choice dimension of the codebook (``dimensions``); a model saved in an earlier
version (one stage model) is refused with the advice to train again.
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
from isp_nlp.records import CODE_DIMENSION
from isp_nlp.store.files import atomic_path, atomic_write_text
from isp_nlp.suggest.estimators import CodeSuggester, ValueClassifier
from isp_nlp.suggest.features import FeatureBuilder
from isp_nlp.suggest.prototypes import Prototypes

FORMAT = "isp-nlp-suggester"
#: Version 5: one model per single-choice dimension (versions 1-4 had a stage model).
FORMAT_VERSION = 5
READABLE_VERSIONS = (5,)
FILES = ("manifest.json", "config.json", "weights.npz")
#: The groups of arrays in weights.npz (``code/...``, ``dimensions/0/estimator/...``,
#: ...) and the plain arrays.
ARRAY_PARTS = ("code", "dimensions", "features", "prototypes", "exemplars", "code_platt")
#: A bundle's JSON files and arrays are a few MB; larger ones are refused before reading.
MAX_JSON_BYTES = 64_000_000
MAX_ARRAY_BYTES = 512_000_000
MAX_ARRAYS = 1_000


class BundledDimension(Protocol):
    """The fields of :class:`~isp_nlp.suggest.bundle.DimensionModel` a bundle stores."""

    labels: list[str]
    estimator: ValueClassifier
    exemplar_values: list[str | None]
    threshold: float
    prototypes: Prototypes | None
    prototype_weight: float
    temperature: float
    prior_weights: np.ndarray | None


class BundledModel(Protocol):
    """The fields of :class:`~isp_nlp.suggest.bundle.SuggesterModel` a bundle stores."""

    code_labels: list[str]
    code_estimator: CodeSuggester | None
    exemplars: np.ndarray
    exemplar_ids: list[str]
    exemplar_texts: list[str]
    exemplar_codes: list[tuple[str, ...] | None]
    embedder_id: str
    code_threshold: float
    hyper_parameters: dict[str, Any]
    features: FeatureBuilder | None
    prototypes: Prototypes | None
    code_platt: np.ndarray | None
    certified: dict[str, dict[str, Any]]

    @property
    def dimensions(self) -> Mapping[str, BundledDimension]: ...


def _estimator_state(est: CodeSuggester | ValueClassifier, prefix: str,
                     arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    state, est_arrays = est.get_learned_state()
    arrays.update({f"{prefix}/{k}": np.asarray(v) for k, v in est_arrays.items()})
    return {"params": est.get_params(), "state": state}


def _dimension_state(dim: str, m: BundledDimension, prefix: str,
                     arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": dim,
        "labels": list(m.labels),
        "estimator": _estimator_state(m.estimator, f"{prefix}/estimator", arrays),
        "exemplar_values": list(m.exemplar_values),
        "threshold": float(m.threshold),
        "temperature": float(m.temperature),
        "prior_weights": (None if m.prior_weights is None
                          else [float(v) for v in m.prior_weights]),
        "prototypes": None,
        "prototype_weight": float(m.prototype_weight),
    }
    if m.prototypes is not None:
        out["prototypes"], proto_arrays = m.prototypes.get_state()
        arrays.update({f"{prefix}/prototypes/{k}": np.asarray(v)
                       for k, v in proto_arrays.items()})
    return out


# -- model <-> (config, arrays) ------------------------------------------------------------
def model_state(model: BundledModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The model's ``config.json`` object and its ``weights.npz`` arrays."""
    arrays: dict[str, np.ndarray] = {"exemplars": np.asarray(model.exemplars, np.float32)}
    code = (None if model.code_estimator is None
            else _estimator_state(model.code_estimator, "code", arrays))
    features = None
    if model.features is not None:
        features, feature_arrays = model.features.get_state()
        arrays.update({f"features/{k}": np.asarray(v) for k, v in feature_arrays.items()})
    config: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "embedder_id": model.embedder_id,
        "n_features": int(model.exemplars.shape[1]),
        "code_labels": list(model.code_labels),
        "code_threshold": float(model.code_threshold),
        "hyper_parameters": dict(model.hyper_parameters),
        "code_estimator": code,
        "dimensions": [_dimension_state(dim, m, f"dimensions/{i}", arrays)
                       for i, (dim, m) in enumerate(model.dimensions.items())],
        "features": features,
        "exemplars": {
            "ids": list(model.exemplar_ids),
            "texts": list(model.exemplar_texts),
            "codes": [None if c is None else list(c) for c in model.exemplar_codes],
        },
        "prototypes": None,
        "certified": dict(model.certified),
    }
    if model.prototypes is not None:
        config["prototypes"], proto_arrays = model.prototypes.get_state()
        arrays.update({f"prototypes/{k}": np.asarray(v) for k, v in proto_arrays.items()})
    if model.code_platt is not None:
        arrays["code_platt"] = np.asarray(model.code_platt, dtype=np.float64)
    return config, arrays


def _dimension_fields(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                      prefix: str, n_exemplars: int, n_features: int) -> dict[str, Any]:
    """A :class:`~isp_nlp.suggest.bundle.DimensionModel`'s fields from its saved spec."""
    own = prefixed(arrays, prefix)
    est_spec = spec["estimator"]
    estimator = ValueClassifier.from_learned_state(est_spec["params"], est_spec["state"],
                                                   prefixed(own, "estimator"))
    labels = [str(v) for v in spec["labels"]]
    classes = [str(c) for c in estimator.classes_]
    if not set(classes) <= set(labels) or len(set(labels)) != len(labels):
        raise ValueError(f"dimension {spec['id']!r}: its classes {classes} are not among its "
                         f"values {labels}")
    values = list(spec["exemplar_values"])
    if len(values) != n_exemplars or any(v is not None and str(v) not in labels
                                         for v in values):
        raise ValueError(f"dimension {spec['id']!r}: exemplar values do not fit the exemplars")
    prototypes = None
    if spec.get("prototypes") is not None:
        prototypes = Prototypes.from_state(spec["prototypes"], prefixed(own, "prototypes"))
        if list(prototypes.code_labels) != classes or prototypes.dim != n_features:
            raise ValueError(f"dimension {spec['id']!r}: its prototypes do not match its "
                             "classes or the embedding size")
    return {
        "labels": labels,
        "estimator": estimator,
        "exemplar_values": [None if v is None else str(v) for v in values],
        "threshold": unit_interval(spec["threshold"], "threshold"),
        "prototypes": prototypes,
        "prototype_weight": unit_interval(spec.get("prototype_weight", 0.0),
                                          "prototype_weight"),
        "temperature": positive(spec.get("temperature", 1.0)),
        "prior_weights": prior_weights(spec.get("prior_weights"), len(classes)),
    }


def model_fields(config: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The model's fields (all but ``manifest``) from a saved config and arrays; KeyError,
    ValueError, TypeError or IndexError when they are incomplete or inconsistent. The
    dimensions come as {id: fields of a DimensionModel}."""
    spec = config["code_estimator"]
    code_est = (None if spec is None else CodeSuggester.from_learned_state(
        spec["params"], spec["state"], prefixed(arrays, "code")))
    features = None
    if config.get("features") is not None:
        features = FeatureBuilder.from_state(config["features"], prefixed(arrays, "features"))
    prototypes = None
    if config.get("prototypes") is not None:
        prototypes = Prototypes.from_state(config["prototypes"], prefixed(arrays, "prototypes"))
    ex = config["exemplars"]
    exemplars = np.asarray(arrays["exemplars"], dtype=np.float32)
    n_ex = len(ex["ids"])
    n_features = int(config["n_features"])
    if exemplars.shape != (n_ex, n_features):
        raise ValueError(f"exemplars has shape {exemplars.shape}, expected ({n_ex}, dims)")
    if not (len(ex["texts"]) == len(ex["codes"]) == n_ex):
        raise ValueError("exemplar ids, texts and codes differ in length")
    code_labels = [str(c) for c in config["code_labels"]]
    if code_est is not None and len(code_est.classes_) != len(code_labels):
        raise ValueError("the code estimator and code_labels differ in length")
    if prototypes is not None and (list(prototypes.code_labels) != code_labels
                                   or prototypes.dim != n_features):
        raise ValueError("the prototypes do not match code_labels or the embedding size")
    dimensions: dict[str, dict[str, Any]] = {}
    for i, dim_spec in enumerate(config["dimensions"]):
        dim = str(dim_spec["id"])
        if not dim or dim == CODE_DIMENSION or dim in dimensions:
            raise ValueError(f"dimension id {dim!r} is empty, 'code' or repeated")
        dimensions[dim] = _dimension_fields(dim_spec, arrays, f"dimensions/{i}", n_ex,
                                            n_features)
    return {
        "code_labels": code_labels,
        "code_estimator": code_est,
        "exemplars": exemplars,
        "exemplar_ids": [str(s) for s in ex["ids"]],
        "exemplar_texts": [str(t) for t in ex["texts"]],
        "exemplar_codes": [None if c is None else tuple(c) for c in ex["codes"]],
        "embedder_id": str(config["embedder_id"]),
        "code_threshold": unit_interval(config["code_threshold"], "code_threshold"),
        "hyper_parameters": dict(config["hyper_parameters"]),
        "features": features,
        "prototypes": prototypes,
        "dimensions": dimensions,
        "code_platt": platt_maps(arrays.get("code_platt"), len(code_labels)),
        "certified": certificates(config.get("certified") or {}, [*dimensions, CODE_DIMENSION]),
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
    version = config.get("format_version")
    if config.get("format") == FORMAT and isinstance(version, int) and 0 < version < 5:
        raise ModelError(
            f"The model in {path} was saved by an earlier isp-nlp (one stage model, format "
            f"version {version}) and cannot be read any more; run `isp-nlp train` again.")
    if config.get("format") != FORMAT or version not in READABLE_VERSIONS:
        raise ModelError(
            f"{path / 'config.json'} has format {config.get('format')!r} version "
            f"{config.get('format_version')!r}; expected {FORMAT!r} version {FORMAT_VERSION}; "
            f"{fix}."
        )
    dims = config.get("dimensions")
    check_unit_interval({"code_threshold": config.get("code_threshold", 0.0), **{
        f"{d.get('id')!s} {key}": d.get(key, 0.0) for d in (dims if isinstance(dims, list)
                                                             else ()) if isinstance(d, dict)
        for key in ("threshold", "prototype_weight")}}, path / "config.json", fix)
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


def unit_interval(value: Any, name: str) -> float:
    """A saved threshold or share: a finite number in [0, 1] (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} is {value!r}, expected a number from 0 to 1")
    return float(value)


def positive(value: Any) -> float:
    """A saved temperature: a finite positive number (ValueError otherwise)."""
    t = float(value)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"temperature is {value!r}, expected a positive number")
    return t


def prior_weights(value: Any, n_classes: int) -> np.ndarray | None:
    """Saved prior weights of a dimension: finite, positive, one per class (ValueError)."""
    if value is None:
        return None
    out = np.asarray(value, dtype=np.float64)
    if out.shape != (n_classes,) or not (np.isfinite(out).all() and (out > 0).all()):
        raise ValueError(f"prior_weights has shape {out.shape} (or values that are not "
                         f"positive), expected {n_classes} positive numbers")
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


def certificates(value: Mapping[str, Any], dimensions: Iterable[str]
                 ) -> dict[str, dict[str, Any]]:
    """Saved certificates by dimension (one of ``dimensions``), each threshold None or in
    [0, 1] (ValueError)."""
    known = set(dimensions)
    out = {}
    for dim, cert in dict(value).items():
        t = cert.get("threshold")
        if dim not in known or (
                t is not None and not (np.isfinite(float(t)) and 0.0 <= float(t) <= 1.0)):
            raise ValueError(f"certified[{dim!r}] is not a certificate with a threshold in [0, 1]")
        out[dim] = dict(cert)
    return out
