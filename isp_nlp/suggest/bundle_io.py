"""File helpers of the suggester bundle: canonical JSON, content hash, atomic writes."""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from isp_nlp.errors import ModelError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION

#: A bundle's JSON files and arrays are a few MB; larger ones are refused before reading.
MAX_JSON_BYTES = 64_000_000
MAX_ARRAY_BYTES = 512_000_000
MAX_ARRAYS = 1_000


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
        raise ModelError(f"{path} is {size / 1e6:.0f} MB; a model's JSON files are far "
                         f"smaller, so it is refused; {fix}.")
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
        raise ModelError(f"{path} unpacks to {total / 1e6:.0f} MB; a model is far smaller, so "
                         f"it is refused before loading; {fix}.")
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
