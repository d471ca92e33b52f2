"""AnnoMI agreement study: does the suggester agree with trained MI coders as well as they
agree with each other?

Usage: python evaluation/annomi.py [--quick] [--cache PATH] [--work DIR] [--repeats R]
                                   [--active-repeats R]
                                   [--render-only]

Converts ../shared/data/annomi/AnnoMI-full.csv into coded-segments CSVs (two tasks:
therapist behaviour on therapist utterances, client talk type on client utterances; TRAIN
= the 126 singly-coded transcripts, TEST = the 7 transcripts coded by 10 annotators), runs
:func:`isp_nlp.suggest.evaluate.run_study` for K = 8, 16, 32, 64, 128 seeds per label (R = 3),
with the benchmark codebook evaluation/annomi_codebook.yaml (each label's definition and
examples join the model) and without it, certifying the abstain threshold on the seeds
for a target agreement = the TEST coders' mean pairwise percent agreement (risk–coverage,
parity coverage, calibration error), measures the ceiling (every TRAIN utterance as a
seed, no codebook), compares seeds chosen by
:func:`isp_nlp.suggest.next_to_code.balanced_next` with random seeds at the same number of seeds,
times one K = 32 repeat (wall time and peak memory, in a
child process), and writes evaluation/results/annomi.md, annomi.json and one
learning-curve PNG per task. Exit status 2 when ../shared is missing.

Data: AnnoMI (Wu et al., ICASSP 2022; Future Internet 2023), github.com/uccollab/AnnoMI.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from annomi_report import fmt, plot, plot_risk_coverage, write_markdown

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ANNOMI = REPO.parent / "shared" / "data" / "annomi" / "AnnoMI-full.csv"
RESULTS = REPO / "evaluation" / "results"
TEST_TRANSCRIPTS = (7, 27, 55, 56, 66, 109, 130)
TASKS = {
    "therapist_behaviour": ("therapist", "main_therapist_behaviour"),
    "client_talk_type": ("client", "client_talk_type"),
}
KS = (8, 16, 32, 64, 128)
CODEBOOK = REPO / "evaluation" / "annomi_codebook.yaml"
COLUMNS = ("document", "segment", "text", "coder", "code", "speaker", "previous_text")


def convert(source: Path, out_dir: Path) -> dict[str, dict[str, Path]]:
    """Write <task>_train.csv and <task>_test.csv; return their paths by task."""
    import pandas as pd

    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame["tid"] = frame["transcript_id"].astype(int)
    frame["uid"] = frame["utterance_id"].astype(int)
    frame = frame.sort_values(["tid", "uid", "annotator_id"], kind="stable")
    utter = frame.drop_duplicates(["tid", "uid"])[["tid", "uid", "utterance_text"]]
    utter = utter.sort_values(["tid", "uid"])
    utter["previous_text"] = utter.groupby("tid")["utterance_text"].shift(1).fillna("")
    frame = frame.merge(utter[["tid", "uid", "previous_text"]], on=["tid", "uid"])
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, dict[str, Path]] = {}
    for task, (speaker, column) in TASKS.items():
        rows = frame[(frame["interlocutor"] == speaker) & (frame[column] != "n/a")
                     & (frame[column] != "")]
        paths[task] = {}
        for part, in_test in (("train", False), ("test", True)):
            part_rows = rows[rows["tid"].isin(TEST_TRANSCRIPTS) == in_test]
            path = out_dir / f"{task}_{part}.csv"
            with path.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(COLUMNS)
                for r in part_rows.itertuples(index=False):
                    writer.writerow([f"annomi_{r.tid}", str(r.uid), r.utterance_text,
                                     f"annotator_{r.annotator_id}", getattr(r, column),
                                     r.interlocutor, r.previous_text])
            paths[task][part] = path
    return paths


def load_task(paths: dict[str, Path], embedder, cache):
    from isp_nlp.coded.units import embed_units, load_units

    train = embed_units(load_units(paths["train"]), embedder, cache)
    test = embed_units(load_units(paths["test"]), embedder, cache)
    return train, test


def prepared_tasks(work: Path):
    """Yield (task, train, test, labels, codebook prototypes, embedder id) for each task,
    embedded with the shipped MiniLM (embedding cache: WORK/cache.sqlite)."""
    from isp_nlp.embed import SentenceTransformerEmbedder
    from isp_nlp.store.database import Store
    from isp_nlp.suggest.evaluate import check_labels, label_prototypes

    embedder = SentenceTransformerEmbedder()
    cache = Store.create(work / "cache.sqlite").embedding_cache()
    paths = convert(ANNOMI, work)
    for task in TASKS:
        train, test = load_task(paths[task], embedder, cache)
        labels = check_labels(train, test)[0]
        yield (task, train, test, labels, label_prototypes(CODEBOOK, train, embedder, cache),
               embedder.model_id)


def active_vs_random(train, test, labels, k: int, repeats: int, seed: int,
                     rounds: int = 5, prototypes=None) -> dict:
    """Simulated coding rounds, paired per repeat: from one random start set, the
    rest of the seeds chosen by :func:`~isp_nlp.suggest.next_to_code.balanced_next`
    or at random (same total);
    plus stratified random seeds (K per label, which needs the labels in advance) and whole
    transcripts in random order (the usual practice), both unpaired. Every model (in the
    rounds and at the end) uses the codebook ``prototypes`` when given."""
    from isp_nlp.suggest.next_to_code import balanced_next
    from isp_nlp.suggest.study_fit import fit_model, predict_labels, sample_seeds
    from isp_nlp.suggest.study_scores import encode_test, model_agreement
    from isp_nlp.suggest.trainer import train_single_label

    table = encode_test(test, labels)

    total = k * len(labels)
    ref = train.reference()
    out = {"seed_per_label": k, "n_seeds": total, "rounds": rounds, "active": [], "random": [],
           "stratified_random": [], "whole_transcripts": []}
    documents = list(dict.fromkeys(train.documents))
    rows_of = {d: [] for d in documents}
    for i, d in enumerate(train.documents):
        rows_of[d].append(i)
    for r in range(repeats):
        rng = np.random.default_rng([seed, r, 7])
        start = [int(i) for i in rng.choice(len(train), size=2 * len(labels), replace=False)]
        while len({ref[i] for i in start}) < 2:
            start.append(int(rng.integers(len(train))))
        chosen = list(start)
        step = int(np.ceil((total - len(chosen)) / rounds))
        while len(chosen) < total:
            pool = np.setdiff1d(np.arange(len(train)), chosen)
            model = train_single_label(train.batch(np.asarray(chosen)),
                                       [ref[i] for i in chosen], prototypes=prototypes)
            proba = model.predict_value_proba(train.subset(pool).batch())
            counts = [sum(ref[i] == c for i in chosen) for c in model.value_classes()]
            n = min(step, total - len(chosen))
            picks = balanced_next(train.embeddings[pool], proba, counts, n, seed=seed + r)
            chosen.extend(int(pool[p.index]) for p in picks)
        rest = np.setdiff1d(np.arange(len(train)), start)
        randomly = np.concatenate([start, rng.choice(rest, size=total - len(start),
                                                     replace=False)])
        for name, idx in (
            ("active", np.asarray(chosen)),
            ("random", randomly),
            ("stratified_random", sample_seeds(train, k, rng, labels)),
            ("whole_transcripts", _whole_transcripts(rows_of, documents, total,
                                                     np.random.default_rng([seed, r, 11]))),
        ):
            if len({ref[i] for i in idx}) < 2:
                out[name].append(None)
                continue
            # kappa needs only the labels, and calibration (a temperature) keeps them, so
            # these arms skip the calibration folds the shipped fit adds
            pred, _ = predict_labels(fit_model(train, idx, labels, prototypes=prototypes),
                                     test.batch())
            out[name].append(model_agreement(table, pred)["mean_kappa"])
    for name in ("active", "random", "stratified_random", "whole_transcripts"):
        vals = [v for v in out[name] if v is not None]
        out[f"{name}_mean"] = float(np.mean(vals)) if vals else None
    diffs = np.array([a - b for a, b in zip(out["active"], out["random"], strict=True)
                      if a is not None and b is not None])
    out["difference_mean"] = float(diffs.mean()) if len(diffs) else None
    out["difference_se"] = (float(diffs.std(ddof=1) / np.sqrt(len(diffs)))
                            if len(diffs) > 1 else None)
    out["active_wins"] = float(np.mean(diffs > 0)) if len(diffs) else None
    return out


def _whole_transcripts(rows_of: dict[str, list[int]], documents: list[str], total: int,
                       rng: np.random.Generator) -> np.ndarray:
    """The usual practice: code whole transcripts, in random order, until ``total`` rows."""
    rows: list[int] = []
    for d in rng.permutation(len(documents)):
        rows += rows_of[documents[d]]
        if len(rows) >= total:
            break
    return np.asarray(rows[:total])


def ceiling(train, test) -> dict:
    """Every TRAIN utterance as a seed: what this representation reaches with all labels."""
    from isp_nlp.suggest.evaluate import Split, StudyConfig, run_study

    res = run_study([Split(train, test)], StudyConfig(seed_per_label=[None], repeats=1),
                    test_all=test)
    point = res["learning_curve"][0]
    return {"n_seeds": len(train), "mean_kappa": point["mean_kappa"],
            "macro_f1": point["macro_f1"], "accuracy": point["accuracy"]}


def bench_one(task: str, work: Path, cache_path: Path, k: int) -> dict:
    """Time one K repeat (fit + predict) and report the process's peak memory."""
    import resource

    from isp_nlp.embed import SentenceTransformerEmbedder
    from isp_nlp.store.database import Store
    from isp_nlp.suggest.evaluate import check_labels, label_prototypes
    from isp_nlp.suggest.study_fit import fit_predict, sample_seeds

    paths = {p: work / f"{task}_{p}.csv" for p in ("train", "test")}
    embedder, cache = SentenceTransformerEmbedder(), Store.create(cache_path).embedding_cache()
    train, test = load_task(paths, embedder, cache)
    labels = check_labels(train, test)[0]
    protos = label_prototypes(CODEBOOK, train, embedder, cache)
    t0 = time.perf_counter()
    fit_predict(train, sample_seeds(train, k, np.random.default_rng(0), labels), test, labels,
                prototypes=protos)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K = 8, 32; R = 1; smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--active-repeats", type=int, default=20,
                        help="repeats of the active-vs-random simulation (noisier than the "
                             "learning curve, so more of them)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "isp-nlp-annomi")
    parser.add_argument("--cache", type=Path, default=None,
                        help="embedding cache database (default WORK/cache.sqlite)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render-only", action="store_true",
                        help="re-write annomi.md and the PNGs from OUT/annomi.json")
    parser.add_argument("--bench-one", metavar="TASK", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.render_only:
        results = json.loads((args.out / "annomi.json").read_text(encoding="utf-8"))
        for task, res in results["tasks"].items():
            plot(task, res, args.out / f"annomi_{task}.png")
            plot_risk_coverage(task, res, args.out / f"annomi_{task}_risk_coverage.png")
        write_markdown(results, args.out / "annomi.md")
        return 0
    if not ANNOMI.is_file():
        print(f"Error: {ANNOMI} not found; this study needs the shared data folder at ../shared "
              "(AnnoMI-full.csv).", file=sys.stderr)
        return 2
    cache_path = args.cache or args.work / "cache.sqlite"
    if args.bench_one:
        print(json.dumps(bench_one(args.bench_one, args.work, cache_path, 32)))
        return 0
    from isp_nlp.embed import SentenceTransformerEmbedder
    from isp_nlp.store.database import Store
    from isp_nlp.suggest.evaluate import (
        Split,
        StudyConfig,
        check_labels,
        label_prototypes,
        run_study,
    )
    from isp_nlp.suggest.study_scores import encode_test, human_human
    from isp_nlp.suggest.trainer import TrainParams

    ks = [8, 32] if args.quick else list(KS)
    repeats = 1 if args.quick else args.repeats
    embedder = SentenceTransformerEmbedder()
    cache = Store.create(cache_path).embedding_cache()
    paths = convert(ANNOMI, args.work)
    results = {"config": {"seed_per_label": ks, "repeats": repeats, "seed": args.seed,
                          "embedder": embedder.model_id, "quick": args.quick,
                          "codebook": CODEBOOK.name,
                          "prototype_weight": TrainParams().prototype_weight},
               "tasks": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        t0 = time.perf_counter()
        train, test = load_task(paths[task], embedder, cache)
        print(f"[{task}] embedded in {time.perf_counter() - t0:.1f}s", flush=True)
        labels = check_labels(train, test)[0]
        target = human_human(encode_test(test, labels))["percent_agreement"]
        config = StudyConfig(seed_per_label=ks, repeats=repeats, seed=args.seed,
                             embedder=embedder.model_id, target_agreement=target)
        protos = label_prototypes(CODEBOOK, train, embedder, cache)
        res = run_study([Split(train, test)], config, test_all=test, prototypes=protos,
                        progress=lambda m, t=task: print(f"[{t}] {m}", flush=True))
        plain = run_study([Split(train, test)], config, test_all=test)
        res["without_codebook"] = {"learning_curve": plain["learning_curve"]}
        res["ceiling"] = ceiling(train, test)
        print(f"[{task}] ceiling (all TRAIN as seeds): {fmt(res['ceiling']['mean_kappa'])}",
              flush=True)
        res["active_vs_random"] = [
            active_vs_random(train, test, labels, k, 1 if args.quick else args.active_repeats,
                             args.seed, prototypes=protos)
            for k in ([8] if args.quick else [8, 32])]
        print(f"[{task}] active vs random: "
              f"{[(a['active_mean'], a['random_mean']) for a in res['active_vs_random']]}",
              flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--bench-one", task, "--work", str(args.work),
             "--cache", str(cache_path)], capture_output=True, text=True, check=False)
        if child.returncode == 0:
            res["bench_k32"] = json.loads(child.stdout.strip().splitlines()[-1])
        else:
            res["bench_k32"] = None
            print(f"[{task}] benchmark child failed: {child.stderr[-500:]}", file=sys.stderr)
        results["tasks"][task] = res
        plot(task, res, args.out / f"annomi_{task}.png")
        plot_risk_coverage(task, res, args.out / f"annomi_{task}_risk_coverage.png")
    (args.out / "annomi.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    write_markdown(results, args.out / "annomi.md")
    for task, res in results["tasks"].items():
        curve = ", ".join(f"K={c['seed_per_label']}: {fmt(c['mean_kappa'])}"
                          for c in res["learning_curve"])
        print(f"{task}: human-human {fmt(res['human_human']['mean_pairwise_kappa'])}; {curve}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
