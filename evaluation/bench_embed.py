"""Benchmark: raw sentence-transformers vs. isp-nlp embedding with a cold and a warm cache.

Usage: python evaluation/bench_embed.py [--n 5000] [--batch-size 64] [--repeats 1]
                                        [--memory-cache]

Texts are the first N unique utterances of ../shared/data/annomi/AnnoMI-full.csv.
Targets: cold-cache isp-nlp >= 0.95x raw ``SentenceTransformer.encode`` throughput;
warm cache >= 100x faster than cold. Exit status 0 = both pass, 1 = a target failed,
2 = the data folder is missing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANNOMI = REPO.parent / "shared" / "data" / "annomi" / "AnnoMI-full.csv"
COLD_TARGET, WARM_TARGET = 0.95, 100.0


def load_texts(n: int) -> list[str]:
    import pandas as pd

    frame = pd.read_csv(ANNOMI, usecols=["utterance_text"], dtype=str)
    texts = frame["utterance_text"].dropna().drop_duplicates()
    return texts.head(n).tolist()


class _TimedEmbedder:
    """Pass-through embedder that adds up the time spent in ``encode``."""

    def __init__(self, inner) -> None:
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.seconds = 0.0

    def encode(self, texts, *, progress: bool = False):
        t0 = time.perf_counter()
        try:
            return self.inner.encode(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="number of unique texts")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1,
                        help="run raw and cold this many times (alternating); report the best")
    parser.add_argument("--memory-cache", action="store_true",
                        help="use the in-memory cache instead of the project's SQLite cache")
    args = parser.parse_args(argv)
    if not ANNOMI.is_file():
        print(f"../shared not found: the benchmark needs {ANNOMI}", file=sys.stderr)
        return 2

    from isp_nlp.embed import MemoryCache, SentenceTransformerEmbedder, embed_texts_with_stats

    texts = load_texts(args.n)
    embedder = SentenceTransformerEmbedder(batch_size=args.batch_size)
    model = embedder.load()  # the very model isp-nlp uses, for the raw baseline
    import torch

    print(f"{len(texts)} unique AnnoMI utterances; model {embedder.model_id}; "
          f"batch size {args.batch_size}; torch threads {torch.get_num_threads()}; "
          f"best of {args.repeats}")
    model.encode(texts[:64], batch_size=args.batch_size)  # warm-up

    timed = _TimedEmbedder(embedder)
    t_raw = t_cold = t_warm = float("inf")
    overheads: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Alternate raw/cold (ABBA order) so drifting machine speed hits both; keep the best.
        for rep in range(args.repeats):
            for step in ("raw", "cold") if rep % 2 == 0 else ("cold", "raw"):
                if step == "raw":
                    t0 = time.perf_counter()
                    raw = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
                    elapsed = time.perf_counter() - t0
                    t_raw = min(t_raw, elapsed)
                    print(f"  run {rep + 1} raw : {elapsed:7.2f} s", flush=True)
                    continue
                store = None
                if args.memory_cache:
                    cache, cache_name = MemoryCache(), "memory"
                else:
                    from isp_nlp.store.database import Store

                    store = Store.create(Path(tmp) / f"project-{rep}.sqlite")
                    cache, cache_name = store.embedding_cache(), "sqlite"
                try:
                    timed.seconds = 0.0
                    t0 = time.perf_counter()
                    cold, n_cached, n_encoded = embed_texts_with_stats(texts, timed, cache)
                    elapsed = time.perf_counter() - t0
                    t_cold = min(t_cold, elapsed)
                    overheads.append(elapsed - timed.seconds)
                    print(f"  run {rep + 1} cold: {elapsed:7.2f} s", flush=True)
                    assert n_cached == 0 and n_encoded == len(texts)
                    t0 = time.perf_counter()
                    warm, n_cached, n_encoded = embed_texts_with_stats(texts, timed, cache)
                    t_warm = min(t_warm, time.perf_counter() - t0)
                    assert n_cached == len(texts) and n_encoded == 0
                finally:
                    if store is not None:
                        store.close()

    import numpy as np

    max_diff = float(np.abs(cold - raw).max())
    assert np.array_equal(cold, warm), "warm-cache vectors differ from the cold run"
    n = len(texts)
    cold_ratio, warm_ratio = t_raw / t_cold, t_cold / t_warm
    print(f"raw SentenceTransformer.encode : {n / t_raw:10.1f} sentences/s ({t_raw:.2f} s)")
    print(f"isp-nlp, cold {cache_name} cache   : {n / t_cold:10.1f} sentences/s ({t_cold:.2f} s)")
    print(f"isp-nlp, warm {cache_name} cache   : {n / t_warm:10.1f} sentences/s ({t_warm:.3f} s)")
    overhead = min(overheads)
    print(f"isp-nlp work outside encode (hash, cache get/put, reorder): {overhead:.3f} s "
          f"= {overhead / t_cold:.1%} of the cold run")
    print(f"max |isp-nlp - raw| = {max_diff:.2e}")
    cold_ok, warm_ok = cold_ratio >= COLD_TARGET, warm_ratio >= WARM_TARGET
    print(f"cold/raw throughput = {cold_ratio:.3f} (target >= {COLD_TARGET}) "
          f"{'PASS' if cold_ok else 'FAIL'}")
    print(f"warm/cold speed-up  = {warm_ratio:.1f}x (target >= {WARM_TARGET:.0f}x) "
          f"{'PASS' if warm_ok else 'FAIL'}")
    return 0 if cold_ok and warm_ok else 1


if __name__ == "__main__":
    sys.exit(main())
