"""Tune the suggester on AnnoMI: grouped CV on the singly-coded pool, then the 10-coder test.

Usage:
  python evaluation/tune_suggester.py cv   [--k 32] [--folds 5] [--repeats 2] [--configs a,b]
  python evaluation/tune_suggester.py test [--config NAME] [--ks 8,32,128] [--repeats 3]

``cv`` selects hyper-parameters by grouped cross-validation (groups = transcripts) on the
126 transcripts coded by one annotator only: in each fold, K seed utterances per class
are drawn from the other transcripts, a model is fitted through
:func:`isp_nlp.suggest.trainer.train_single_label` (the shipped trainer) and scored
by Cohen's kappa against the annotator on every utterance of the held-out transcripts.
The 7 ten-coder transcripts are never touched by ``cv``. ``test`` trains on the whole
pool and reports the mean over the 10 annotators of kappa(model, annotator) on those 7
transcripts, plus the time and peak memory of the last K=32 repeat. Embeddings are
cached in ``--cache`` (SQLite).
Exit status 2 = the data folder is missing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from isp_nlp.coded.batch import SegmentBatch  # noqa: E402
from isp_nlp.suggest.trainer import TrainParams, train_single_label  # noqa: E402

ANNOMI = REPO.parent / "shared" / "data" / "annomi" / "AnnoMI-full.csv"
TEST_TRANSCRIPTS = frozenset({"7", "27", "55", "56", "66", "109", "130"})
TASKS = {"therapist": ("therapist", "main_therapist_behaviour"),
         "client": ("client", "client_talk_type")}
BASE = TrainParams(context_weight=0.0, word_weight=0.0, char_weight=0.0,
                   context_word_weight=0.0, surface_weight=0.0, value_C=1.0)
CONFIGS: dict[str, TrainParams] = {
    "embedding": BASE,
    "emb+ctx": replace(BASE, context_weight=0.5),
    "emb+ctx1": replace(BASE, context_weight=1.0),
    "emb+surface": replace(BASE, surface_weight=1.0),
    "emb+word": replace(BASE, word_weight=1.0),
    "emb+char": replace(BASE, char_weight=1.0),
    "emb+word+char": replace(BASE, word_weight=1.0, char_weight=1.0),
    "lex+surf": replace(BASE, word_weight=1.0, char_weight=1.0, surface_weight=1.0),
    "all": replace(BASE, context_weight=0.5, word_weight=1.0, char_weight=1.0,
                   surface_weight=1.0),
    "all+ctxword": replace(BASE, context_weight=0.5, word_weight=1.0, char_weight=1.0,
                           surface_weight=1.0, context_word_weight=0.5),
    "all-C0.3": replace(BASE, context_weight=0.5, word_weight=1.0, char_weight=1.0,
                        surface_weight=1.0, value_C=0.3),
    "all-C3": replace(BASE, context_weight=0.5, word_weight=1.0, char_weight=1.0,
                      surface_weight=1.0, value_C=3.0),
    "all-C10": replace(BASE, context_weight=0.5, word_weight=1.0, char_weight=1.0,
                       surface_weight=1.0, value_C=10.0),
    "default": TrainParams(),
}


_SHORT = {"emb": "embedding_weight", "ctx": "context_weight", "word": "word_weight",
          "char": "char_weight", "ctxword": "context_word_weight", "surf": "surface_weight",
          "C": "value_C", "sel": "select_features",
          "terms": "max_terms"}


def config(name: str) -> TrainParams:
    """A named config, or a spec like ``surf=2/word=1/C=3`` on top of the embedding-only one."""
    if name in CONFIGS:
        return CONFIGS[name]
    changes = {}
    for part in name.split("/"):
        key, _, value = part.partition("=")
        changes[_SHORT[key]] = int(value) if key in ("sel", "terms") else float(value)
    return replace(BASE, **changes)


@dataclass
class Task:
    """Utterances of one speaker: texts, previous-turn context, labels."""

    transcripts: np.ndarray
    batch: SegmentBatch
    labels: np.ndarray  # pool: the one annotator's label; test: "" (see test_labels)
    test_labels: dict[str, np.ndarray]  # annotator id -> labels, test rows only


def load(task: str, cache_path: Path) -> Task:
    import pandas as pd

    from isp_nlp.embed import SentenceTransformerEmbedder, embed_texts
    from isp_nlp.store.database import Store

    speaker, column = TASKS[task]
    frame = pd.read_csv(ANNOMI, dtype=str, keep_default_na=False)
    frame["uid"] = frame["utterance_id"].astype(int)
    turns = (frame.drop_duplicates(["transcript_id", "uid"])
             .sort_values(["transcript_id", "uid"]).reset_index(drop=True))
    previous = turns.groupby("transcript_id")["utterance_text"].shift(1).fillna("")
    turns["context"] = previous
    rows = turns[turns["interlocutor"] == speaker].reset_index(drop=True)
    key = rows["transcript_id"] + "/" + rows["uid"].astype(str)
    cache = Store.create(cache_path).embedding_cache()
    embedder = SentenceTransformerEmbedder()
    emb = embed_texts(rows["utterance_text"].tolist(), embedder, cache)
    ctx_emb = embed_texts(rows["context"].tolist(), embedder, cache)
    ctx_emb[(rows["context"] == "").to_numpy()] = 0.0
    batch = SegmentBatch(tuple(key), tuple(rows["utterance_text"]), emb,
                         tuple(rows["context"]), ctx_emb)
    coded = frame[frame["interlocutor"] == speaker]
    test_labels: dict[str, np.ndarray] = {}
    test_rows = coded[coded["transcript_id"].isin(TEST_TRANSCRIPTS)]
    for annotator, part in test_rows.groupby("annotator_id"):
        lab = dict(zip(part["transcript_id"] + "/" + part["uid"].astype(str), part[column],
                       strict=True))
        test_labels[str(annotator)] = np.array([lab.get(k, "") for k in key], dtype=object)
    return Task(rows["transcript_id"].to_numpy(), batch, rows[column].to_numpy(dtype=object),
                test_labels)


def sample_seeds(labels: np.ndarray, pool: np.ndarray, k: int,
                 rng: np.random.Generator) -> np.ndarray:
    """K random rows per class among ``pool`` (all of a class's rows when it has fewer)."""
    picked = []
    for label in sorted(set(labels[pool])):
        rows = pool[labels[pool] == label]
        picked.append(rng.choice(rows, size=min(k, len(rows)), replace=False))
    return np.sort(np.concatenate(picked))


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(a, b))


def predict(model, batch: SegmentBatch, prior: dict[str, float] | None) -> np.ndarray:
    """Predicted labels; with ``prior``, probabilities are re-weighted by the class prior
    (the balanced seed set implies a uniform one), the Bayes-optimal shift."""
    classes = np.asarray(model.value_classes(), dtype=object)
    if prior is None:
        return classes[np.argmax(model.predict_value_proba(batch), axis=1)]
    weights = np.array([prior.get(str(c), 0.0) for c in classes])
    return classes[np.argmax(model.predict_value_proba(batch) * weights, axis=1)]


def pool_prior(task: Task, rows: np.ndarray) -> dict[str, float]:
    values, counts = np.unique(task.labels[rows], return_counts=True)
    return {str(v): float(c) / counts.sum() for v, c in zip(values, counts, strict=True)}


def expected_calibration_error(proba: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-class probability: mean |confidence - accuracy| over 10 equal bins."""
    conf = proba.max(axis=1)
    edges = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(conf[edges == b].mean() - correct[edges == b].mean())
                     * (edges == b).mean() for b in range(bins) if (edges == b).any()))


def cross_validate(task: Task, params: TrainParams, k: int, folds: int, repeats: int,
                   use_prior: bool = False) -> tuple[float, float]:
    """(mean kappa, expected calibration error) over folds and repeats."""
    pool_mask = ~np.isin(task.transcripts, list(TEST_TRANSCRIPTS))
    docs = np.array(sorted(set(task.transcripts[pool_mask]), key=int))
    scores, eces = [], []
    for r in range(repeats):
        rng = np.random.default_rng(1000 + r)
        fold_of = dict(zip(rng.permutation(docs), np.arange(len(docs)) % folds, strict=True))
        fold = np.array([fold_of.get(t, -1) for t in task.transcripts])
        for f in range(folds):
            train = np.flatnonzero(pool_mask & (fold != f))
            held = np.flatnonzero(pool_mask & (fold == f))
            seeds = sample_seeds(task.labels, train, k, rng)
            model = train_single_label(task.batch.subset(seeds), task.labels[seeds], params=params)
            prior = pool_prior(task, train) if use_prior else None
            held_batch = task.batch.subset(held)
            pred = predict(model, held_batch, prior)
            scores.append(kappa(pred, task.labels[held]))
            eces.append(expected_calibration_error(model.predict_value_proba(held_batch),
                                                   pred == task.labels[held]))
    return float(np.mean(scores)), float(np.mean(eces))


def test_kappa(task: Task, params: TrainParams, k: int, seed: int,
               use_prior: bool = False) -> tuple[float, float]:
    """(mean kappa over annotators, seconds to train + predict) for one repeat."""
    is_test = np.isin(task.transcripts, list(TEST_TRANSCRIPTS))
    pool, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    t0 = time.perf_counter()
    seeds = sample_seeds(task.labels, pool, k, np.random.default_rng(seed))
    model = train_single_label(task.batch.subset(seeds), task.labels[seeds], params=params)
    prior = pool_prior(task, pool) if use_prior else None
    pred = predict(model, task.batch.subset(test), prior)
    seconds = time.perf_counter() - t0
    ks = [kappa(pred, lab[test]) for lab in task.test_labels.values()]
    return float(np.mean(ks)), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("cv", "test"))
    parser.add_argument("--task", choices=(*TASKS, "both"), default="both")
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--ks", default="8,32,128")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--config", default="default")
    parser.add_argument("--prior", action="store_true",
                        help="re-weight predictions by the pool's class prior (experiment)")
    parser.add_argument("--cache", type=Path,
                        default=Path("/tmp/isp-nlp-annomi-cache/project.sqlite"))
    args = parser.parse_args(argv)
    if not ANNOMI.is_file():
        print(f"../shared not found: tuning needs {ANNOMI}", file=sys.stderr)
        return 2
    tasks = list(TASKS) if args.task == "both" else [args.task]
    for name in tasks:
        task = load(name, args.cache)
        if args.mode == "cv":
            for cfg in args.configs.split(","):
                t0 = time.perf_counter()
                score, ece = cross_validate(task, config(cfg), args.k, args.folds,
                                            args.repeats, args.prior)
                print(f"cv {name:9s} K={args.k:<4d} {cfg:28s} kappa={score:.3f} ECE={ece:.3f} "
                      f"({time.perf_counter() - t0:.1f}s)", flush=True)
            continue
        params = config(args.config)
        for k in (int(x) for x in args.ks.split(",")):
            results = [test_kappa(task, params, k, seed, args.prior)
                       for seed in range(args.repeats)]
            ks = [r[0] for r in results]
            print(f"test {name:9s} K={k:<4d} {args.config}: mean kappa {np.mean(ks):.3f} "
                  f"(repeats {', '.join(f'{x:.3f}' for x in ks)}); one repeat "
                  f"{results[-1][1]:.1f}s", flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS so far {peak:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
