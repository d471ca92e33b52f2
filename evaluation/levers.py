"""Measure the model levers of issue 13 (item 4) by grouped CV on the AnnoMI pool.

Usage: python evaluation/levers.py [--levers a,b,...] [--folds 5] [--repeats 3] [--k 32]
                                  [--cache PATH] [--out DIR] [--tasks therapist,client]

Grouped 5-fold CV (groups = transcripts) on the 126 singly-coded AnnoMI transcripts, both
tasks (therapist utterances -> main_therapist_behaviour, client utterances ->
client_talk_type); the 7 ten-annotator test transcripts are never read. In each fold and
repeat, K seeds per label are drawn from the training folds (the same seeds for every
lever, so the comparison is paired); the shipped trainer
(:func:`isp_nlp.suggest.trainer.train_single_label`) fits with the benchmark codebook
(evaluation/annomi_codebook.yaml) as the prior, as evaluation/annomi.py does, and scores
every utterance of the held-out transcripts against its one coder: Cohen's kappa,
macro-F1, the coverage at which percent agreement on the most confident utterances first
drops below 0.80 (therapist) / 0.70 (client), the area under the accuracy-coverage curve,
and kappa on the longest 20 % of the pool's utterances. The held-out fold plays the
project's uncoded segments (pool for EM priors and self-training). Embeddings come from a
cache (default /tmp/isp-nlp-annomi/cache.sqlite, as evaluation/annomi.py writes it).
Writes evaluation/results/levers.json and levers.md. Exit status 2 = ../shared is missing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lever_priors import adjust_priors  # noqa: E402
from lever_self_training import train_self_training  # noqa: E402

from isp_nlp.coded.batch import ContextHistory, SegmentBatch, history_from_sequence  # noqa: E402
from isp_nlp.coded.units import CodedUnits  # noqa: E402
from isp_nlp.suggest.trainer import TrainParams, train_single_label  # noqa: E402

ANNOMI = REPO.parent / "shared" / "data" / "annomi" / "AnnoMI-full.csv"
CODEBOOK = REPO / "evaluation" / "annomi_codebook.yaml"
RESULTS = REPO / "evaluation" / "results"
TEST_TRANSCRIPTS = frozenset({7, 27, 55, 56, 66, 109, 130})
TASKS = {"therapist": ("therapist", "main_therapist_behaviour", 0.80),
         "client": ("client", "client_talk_type", 0.70)}
MAX_TURNS = 8
LONG_SHARE = 0.2


@dataclass(frozen=True)
class Lever:
    """A configuration: trainer parameters plus an optional post-processing step."""

    params: TrainParams
    post: str = ""  # "", "em", "em<strength>", "self", "self:<per-label share of K>:<rounds>"
    note: str = ""


BASE = TrainParams(context_turns=1, context_same_weight=0.0)
LEVERS: dict[str, Lever] = {
    "baseline": Lever(BASE, note="shipped default before this work (previous turn only)"),
    "ctx2": Lever(replace(BASE, context_turns=2), note="2 previous turns, decay 0.5"),
    "ctx4": Lever(replace(BASE, context_turns=4), note="4 previous turns, decay 0.5"),
    "ctx8": Lever(replace(BASE, context_turns=8), note="8 previous turns, decay 0.5"),
    "ctx8d0.8": Lever(replace(BASE, context_turns=8, context_decay=0.8),
                      note="8 previous turns, decay 0.8"),
    "ctx4+same": Lever(replace(BASE, context_turns=4, context_same_weight=0.5),
                       note="4 turns + same-speaker block 0.5"),
    "ctx8+same": Lever(replace(BASE, context_turns=8, context_same_weight=0.5),
                       note="8 turns + same-speaker block 0.5"),
    "ctx8+same1": Lever(replace(BASE, context_turns=8, context_same_weight=1.0),
                        note="8 turns + same-speaker block 1"),
    "ctx8+same0.25": Lever(replace(BASE, context_turns=8, context_same_weight=0.25),
                           note="8 turns + same-speaker block 0.25"),
    "ctx2+same": Lever(replace(BASE, context_turns=2, context_same_weight=0.5),
                       note="2 turns + same-speaker block 0.5"),
    "ctx8d0.8+same": Lever(replace(BASE, context_turns=8, context_decay=0.8,
                                   context_same_weight=0.5),
                           note="8 turns, decay 0.8, + same-speaker block 0.5"),
    "ctx4w1": Lever(replace(BASE, context_turns=4, context_weight=1.0),
                    note="4 turns, context weight 1"),
    "em": Lever(BASE, "em", "EM prior adjustment on the held-out pool, full"),
    "em0.5": Lever(BASE, "em0.5", "EM prior adjustment, strength 0.5"),
    "em0.25": Lever(BASE, "em0.25", "EM prior adjustment, strength 0.25"),
    "ctx8+same+em0.5": Lever(replace(BASE, context_turns=8, context_same_weight=0.5), "em0.5",
                             "shipped context + EM prior adjustment, strength 0.5"),
    "self": Lever(BASE, "self", "self-training: + K pseudo-labels per predicted label, 1 round"),
    "self:0.5:1": Lever(BASE, "self:0.5:1", "self-training, K/2 pseudo-labels per label"),
    "self:2:1": Lever(BASE, "self:2:1", "self-training, 2K pseudo-labels per label"),
    "self:1:2": Lever(BASE, "self:1:2", "self-training, K per label, 2 rounds"),
    "ctx8+same+self": Lever(replace(BASE, context_turns=8, context_same_weight=0.5), "self",
                            "8 turns + same-speaker block + self-training"),
    "ctx4+same+self": Lever(replace(BASE, context_turns=4, context_same_weight=0.5), "self",
                            "4 turns + same-speaker block + self-training"),
    "ctx8+self": Lever(replace(BASE, context_turns=8), "self", "8 turns + self-training"),
}


@dataclass
class Task:
    name: str
    threshold: float
    documents: np.ndarray
    labels: np.ndarray
    batch: SegmentBatch
    long: np.ndarray
    units: CodedUnits


def load(name: str, cache_path: Path) -> tuple[Task, dict[str, np.ndarray]]:
    """The task's pool utterances with multi-turn history, and the codebook prototypes."""
    import pandas as pd

    from isp_nlp.embed import SentenceTransformerEmbedder, embed_texts
    from isp_nlp.store.database import Store
    from isp_nlp.suggest.evaluate import label_prototypes

    speaker, column, threshold = TASKS[name]
    frame = pd.read_csv(ANNOMI, dtype=str, keep_default_na=False)
    frame["tid"] = frame["transcript_id"].astype(int)
    frame["uid"] = frame["utterance_id"].astype(int)
    turns = (frame[~frame["tid"].isin(TEST_TRANSCRIPTS)].drop_duplicates(["tid", "uid"])
             .sort_values(["tid", "uid"]).reset_index(drop=True))
    embedder = SentenceTransformerEmbedder()
    cache = Store.create(cache_path).embedding_cache()
    table = embed_texts(turns["utterance_text"].tolist(), embedder, cache)
    docs, spk = turns["tid"].tolist(), turns["interlocutor"].tolist()
    keep = ((turns["interlocutor"] == speaker) & (turns[column] != "n/a")
            & (turns[column] != "")).to_numpy()
    rows = np.flatnonzero(keep)
    index, same = history_from_sequence(docs, spk, list(rows), MAX_TURNS)
    texts = turns["utterance_text"].to_numpy(dtype=object)
    prev = np.where(index[:, 0] >= 0, texts[np.maximum(index[:, 0], 0)], "")
    ctx = np.where((index[:, 0] >= 0)[:, None], table[np.maximum(index[:, 0], 0)], 0.0)
    keys = tuple(f"{docs[r]}/{turns['uid'][r]}" for r in rows)
    batch = SegmentBatch(keys, tuple(texts[rows]), table[rows], tuple(str(p) for p in prev),
                         ctx, ContextHistory(index, same, table))
    labels = turns[column].to_numpy(dtype=object)[rows]
    words = np.array([len(str(t).split()) for t in texts[rows]])
    long = words >= np.quantile(words, 1 - LONG_SHARE)
    units = CodedUnits(name, list(keys), [str(docs[r]) for r in rows], list(batch.texts),
                       list(batch.context_texts or ()), [{"a": (str(v),)} for v in labels],
                       False)
    protos = label_prototypes(CODEBOOK, units, embedder, cache)
    return (Task(name, threshold, np.array([docs[r] for r in rows]), labels, batch, long,
                 units), protos)


def risk_coverage(correct: np.ndarray, conf: np.ndarray, threshold: float,
                  min_n: int = 20) -> tuple[float, float]:
    """(coverage where agreement on the most confident first drops below ``threshold``,
    area under the accuracy-coverage curve). The first ``min_n`` rows are not judged."""
    order = np.argsort(-conf, kind="stable")
    acc = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    below = np.flatnonzero(acc[min_n - 1:] < threshold)
    coverage = 1.0 if len(below) == 0 else float(below[0] + min_n - 1) / len(order)
    return coverage, float(acc.mean())


def score(task: Task, held: np.ndarray, pred: np.ndarray, conf: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import cohen_kappa_score, f1_score

    truth = task.labels[held].astype(str)
    pred = pred.astype(str)
    long = task.long[held]
    coverage, area = risk_coverage(pred == truth, conf, task.threshold)
    return {"kappa": float(cohen_kappa_score(truth, pred)),
            "macro_f1": float(f1_score(truth, pred, average="macro")),
            "coverage_at_threshold": coverage, "aurc_accuracy": area,
            "kappa_long": float(cohen_kappa_score(truth[long], pred[long]))}


def fit_predict(task: Task, lever: Lever, seeds: np.ndarray, held: np.ndarray,
                protos: dict[str, np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    seed_batch, held_batch = task.batch.subset(seeds), task.batch.subset(held)
    y = [str(v) for v in task.labels[seeds]]
    if lever.post.startswith("self"):
        _, share, rounds = (lever.post + ":1:1").split(":")[:3]
        model = train_self_training(seed_batch, y, held_batch, per_label=round(float(share) * k),
                                    rounds=int(rounds), params=lever.params, prototypes=protos)
    else:
        model = train_single_label(seed_batch, y, params=lever.params, prototypes=protos)
    proba = model.predict_value_proba(held_batch)
    assert proba is not None
    if lever.post.startswith("em"):
        strength = float(lever.post[2:] or 1.0)
        counts = np.array([sum(v == c for v in y) for c in model.value_classes()], dtype=float)
        # balanced class weights make the effective training prior uniform
        train = counts if lever.params.class_weight is None else np.ones_like(counts)
        proba, _ = adjust_priors(proba, train, strength=strength)
    classes = np.asarray(model.value_classes(), dtype=object)
    return classes[proba.argmax(axis=1)], proba.max(axis=1)


def run(task: Task, protos: dict[str, np.ndarray], levers: list[str], k: int, folds: int,
        repeats: int, log: Callable[[str], None]) -> dict[str, Any]:
    docs = np.array(sorted(set(task.documents)))
    per: dict[str, list[dict[str, float]]] = {name: [] for name in levers}
    for r in range(repeats):
        order = np.random.default_rng(1000 + r).permutation(docs)
        fold_of = {d: i % folds for i, d in enumerate(order)}
        fold = np.array([fold_of[d] for d in task.documents])
        for f in range(folds):
            train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            rng = np.random.default_rng([r, f, 13])
            seeds = np.sort(np.concatenate([
                rng.choice(train[task.labels[train] == lab], size=k, replace=False)
                for lab in sorted(set(task.labels[train]))]))
            for name in levers:
                t0 = time.perf_counter()
                pred, conf = fit_predict(task, LEVERS[name], seeds, held, protos, k)
                s = score(task, held, pred, conf)
                s["seconds"] = time.perf_counter() - t0
                per[name].append(s)
            log(f"[{task.name}] repeat {r} fold {f}: " + ", ".join(
                f"{n} {per[n][-1]['kappa']:.3f}" for n in levers))
    return {name: summarise(per[name], per[levers[0]]) for name in levers}


def summarise(rows: list[dict[str, float]], base: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for key in rows[0]:
        v = np.array([r[key] for r in rows])
        d = v - np.array([b[key] for b in base])
        out[key] = {"mean": float(v.mean()), "se": float(v.std(ddof=1) / np.sqrt(len(v))),
                    "diff": float(d.mean()), "diff_se": float(d.std(ddof=1) / np.sqrt(len(d))),
                    "values": [round(float(x), 4) for x in v]}
    return out


#: The lever shipped as the TrainParams defaults (context_turns=8, context_same_weight=0.5).
SHIPPED = "ctx8+same"
NOTES = """## What shipped and why

`ctx8+same` became the `TrainParams` defaults (`context_turns=8`, `context_decay=0.5`,
`context_same_weight=0.5`): the context block is the decayed mean of the 8 previous turns
and a second block the decayed mean of the segment's own speaker's turns among them. Its
gain is small (+0.004 kappa on therapist behaviour, about 2.4 SE; client talk unchanged),
and 22 levers were compared, so one of them passing at 2 SE by chance is to be expected;
it was kept because every same-speaker variant with weight 0.5 (2, 4 and 8 turns) moved
therapist behaviour the same way (+0.004) while the plain multi-turn average (no speaker)
did not (+0.001). Where speakers are unknown (an evaluate CSV without a `speaker`
column) the same-speaker block is zero and the lever is just the 8-turn average.
Self-training pays on therapist behaviour (+0.008 to +0.012) but costs client talk
0.014-0.027 (the pseudo-labels of the 62 % neutral class drown the others); EM prior
adjustment helps client talk by +0.010 at strength 0.5 (within 2 SE) and costs therapist
behaviour 0.019; neither ships as a default. `evaluation/lever_priors.py` (adjust_priors) and
`evaluation/lever_self_training.py` (train_self_training) stay available for such a per-task
choice.

## Timing

`s` is wall seconds per fit + predict (K = 32, about 930 held-out utterances) on the
shared 2-core machine at load 8-11 from other jobs. The results merge four runs
(`--merge`): the first (`ctx2` ... `self`) ran with default BLAS threads and is 1.5-2x
slower than the later ones (run with `OMP_NUM_THREADS=1`), so compare `s` within a run.
Every lever stays far inside the 60 s budget; peak RSS below. With the shipped defaults,
`evaluation/annomi.py --bench-one` (one K = 32 fit on the pool + predict, a fresh process)
took 4.6 s (therapist) / 3.9 s (client) at load 7, peak RSS 213 / 212 MB.

## Levers not run here

* **Per-label thresholds** (item 4 d): measured on the AnnoMI protocol instead, by
  `evaluation/lever_per_label.py` (`lever_per_label.md`): per-label decision offsets fitted
  on the seeds' out-of-fold probabilities, and per-label abstention thresholds.
* **SetFit-style contrastive fine-tuning** (item 4 e): estimated, not rerun (the machine
  ran at load 8-11 from other jobs). Measured in tuning.md (session 2, 2 cores): 15-20 s
  for 320 pairs, 30-40 s for 640, 60-75 s for 1,280, plus 6-8 s to re-encode, peak RSS
  2.1-2.5 GB. A K = 32 pair budget of 10 pairs per seed (therapist: 4 labels x 32 seeds
  = 1,280 pairs) is therefore about 70-85 s per fit, over the 60 s budget, and every pair
  budget is over 2 GB; it added at most +0.01 kappa to the default features there.
"""


def pays(results: dict[str, Any], name: str) -> bool:
    """The shipping rule: a paired kappa gain beyond 2 SE on one task and no loss beyond
    2 SE on any."""
    cells = [results["tasks"][t][name]["kappa"] for t in results["tasks"]]
    gain = any(c["diff"] > 2 * c["diff_se"] for c in cells)
    loss = any(c["diff"] < -2 * c["diff_se"] for c in cells)
    return gain and not loss


def merge(paths: list[Path]) -> dict[str, Any]:
    """One result from several runs with the same protocol (the baseline is identical:
    the seeds depend only on repeat and fold)."""
    first = json.loads(paths[0].read_text(encoding="utf-8"))
    for path in paths[1:]:
        other = json.loads(path.read_text(encoding="utf-8"))
        if other["config"] != first["config"]:
            raise SystemExit(f"{path} was run with another protocol: {other['config']}")
        for task, res in other["tasks"].items():
            base = first["tasks"][task]["baseline"]["kappa"]["values"]
            if res["baseline"]["kappa"]["values"] != base:
                raise SystemExit(f"{path}: its {task} baseline differs; rerun with the same code")
            first["tasks"][task].update({n: v for n, v in res.items() if n != "baseline"})
        first["params"].update(other["params"])
        first["levers"] += [n for n in other["levers"] if n not in first["levers"]]
        first["peak_rss_mb"] = max(first["peak_rss_mb"], other["peak_rss_mb"])
        first["wall_s"] += other["wall_s"]
    return first


def write_markdown(results: dict[str, Any], path: Path) -> None:
    lines = ["# Model levers of issue 13 (item 4): grouped CV on the AnnoMI pool", "",
             "Generated by `evaluation/levers.py` (see its docstring for the protocol). "
             f"K = {results['config']['k']} seeds per label, {results['config']['folds']} "
             f"folds x {results['config']['repeats']} repeats, paired against `baseline` "
             "(mean ± SE over folds x repeats; Δ = paired difference ± its SE).", "",
             "Columns: kappa and macro-F1 against the one coder on every held-out utterance; "
             "cov = coverage where agreement on the most confident first drops below 0.80 "
             "(therapist) / 0.70 (client); AUC = area under the accuracy-coverage curve; "
             "long = kappa on the longest 20 % of utterances; s = seconds per fit + predict.",
             ""]
    for task, res in results["tasks"].items():
        lines += [f"## {task}", "",
                  "| lever | kappa | Δ kappa | macro-F1 | Δ F1 | cov | Δ cov | AUC | long | "
                  "Δ long | s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, s in res.items():
            def cell(key: str, diff: bool = False, s: dict = s) -> str:
                m = s[key]
                if diff:
                    return f"{m['diff']:+.3f} ± {m['diff_se']:.3f}"
                return f"{m['mean']:.3f} ± {m['se']:.3f}"
            lines.append(
                f"| {name} | {cell('kappa')} | {cell('kappa', True)} | {cell('macro_f1')} | "
                f"{cell('macro_f1', True)} | {s['coverage_at_threshold']['mean']:.3f} | "
                f"{cell('coverage_at_threshold', True)} | {s['aurc_accuracy']['mean']:.3f} | "
                f"{s['kappa_long']['mean']:.3f} | {cell('kappa_long', True)} | "
                f"{s['seconds']['mean']:.1f} |")
        lines.append("")
    tasks = list(results["tasks"])
    lines += ["## Verdict by the shipping rule", "",
              "A lever pays when its paired kappa gain is beyond 2 SE on at least one task "
              "and no task loses beyond 2 SE.", "",
              "| lever | " + " | ".join(f"Δ kappa {t}" for t in tasks) + " | pays |",
              "|---|" + "---|" * len(tasks) + "---|"]
    for name in results["levers"][1:]:
        cells = [results["tasks"][t][name]["kappa"] for t in tasks]
        lines.append(f"| {name} | " + " | ".join(
            f"{c['diff']:+.4f} ± {c['diff_se']:.4f}" for c in cells)
            + f" | {'yes' if pays(results, name) else 'no'} |")
    if SHIPPED in results["levers"]:
        lines += ["", "## Long utterances (issue 13 item 5)", "",
                  f"Kappa on the longest {LONG_SHARE:.0%} of each task's utterances (by words), "
                  f"the proxy for long narrative segments: `baseline` against `{SHIPPED}`.", "",
                  "| task | all, baseline | long, baseline | long, shipped | Δ long |",
                  "|---|---|---|---|---|"]
        for t in tasks:
            b, s_ = results["tasks"][t]["baseline"], results["tasks"][t][SHIPPED]
            lines.append(f"| {t} | {b['kappa']['mean']:.3f} | {b['kappa_long']['mean']:.3f} | "
                         f"{s_['kappa_long']['mean']:.3f} | {s_['kappa_long']['diff']:+.3f} ± "
                         f"{s_['kappa_long']['diff_se']:.3f} |")
    lines += ["", "Levers: " + "; ".join(f"`{n}` {LEVERS[n].note}" for n in results["levers"]
                                         if n in LEVERS),
              "", NOTES,
              f"Peak RSS {results['peak_rss_mb']:.0f} MB; wall {results['wall_s']:.0f} s.",
              ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", default=",".join(LEVERS))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/isp-nlp-annomi/cache.sqlite"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tag", default="levers", help="output file stem")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="combine earlier runs' JSON files into OUT/TAG.json and .md")
    args = parser.parse_args(argv)
    if args.merge:
        merged = merge(args.merge)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.tag}.json").write_text(json.dumps(merged, indent=1),
                                                   encoding="utf-8")
        write_markdown(merged, args.out / f"{args.tag}.md")
        return 0
    if not ANNOMI.is_file():
        print(f"Error: {ANNOMI} not found; this study needs ../shared (AnnoMI-full.csv).",
              file=sys.stderr)
        return 2
    levers = args.levers.split(",")
    if levers[0] != "baseline":
        levers.insert(0, "baseline")
    t0 = time.perf_counter()
    results: dict[str, Any] = {"config": {"k": args.k, "folds": args.folds,
                                          "repeats": args.repeats, "codebook": CODEBOOK.name,
                                          "max_turns": MAX_TURNS, "long_share": LONG_SHARE},
                               "levers": levers,
                               "params": {n: {**asdict(LEVERS[n].params), "post": LEVERS[n].post}
                                          for n in levers},
                               "tasks": {}}
    for name in args.tasks.split(","):
        task, protos = load(name, args.cache)
        shortest_long = min(len(t.split()) for t, lg in zip(task.batch.texts, task.long,
                                                             strict=True) if lg)
        print(f"[{name}] {len(task.labels)} utterances, {len(set(task.documents))} "
              f"transcripts, long >= {shortest_long} words", flush=True)
        results["tasks"][name] = run(task, protos, levers, args.k, args.folds, args.repeats,
                                     lambda m: print(m, flush=True))
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["wall_s"] = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.tag}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    write_markdown(results, args.out / f"{args.tag}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
