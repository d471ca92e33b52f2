"""File helpers of the suggester bundle: canonical JSON, content hash, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from isp_nlp.errors import ModelError


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


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_json(path: Path, fix: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{path} is not readable JSON ({exc}); expected the file written by "
            f"SuggesterModel.save; {fix}."
        ) from exc
    if not isinstance(data, dict):
        raise ModelError(
            f"{path} holds a JSON {type(data).__name__}; expected a JSON object; {fix}."
        )
    return data
