"""Is the codebook prior robust to the codebook a user writes?

Usage: python evaluation/codebook_robustness.py [--ks 32] [--folds 5] [--repeats 3]
                                                [--cache PATH] [--skip-demo]

AnnoMI, both tasks (therapist behaviour, client talk type): grouped 5-fold CV over the 126
singly-coded transcripts (the 7 ten-coder TEST transcripts 7, 27, 55, 56, 66, 109, 130 are
never used), K seeds per label drawn from the training transcripts as in
evaluation/tune_suggester.py, scored by Cohen's kappa with the annotator on every utterance
of the held-out transcripts. Every codebook in ``CODEBOOKS`` (ours, plus three written
the way other people would, ours with each label's texts given to the next label as a
codebook that misleads, and random vectors as one that says nothing) is run
with the prior's share fixed at 0.3, chosen per fit from the seeds (the shipped default,
``TrainParams.choose_prototype_weight``), and without a codebook, all on the same seeds
(paired). Each fit goes through :func:`isp_nlp.suggest.trainer.train_single_label`; the
held-out predictions are its seed-only estimator mixed with its prior at the chosen share,
0.3 and 0 (the first fold of each task checks these against the shipped predictions of
separate fits).

Then the stage task on the demo corpus (SYNTHETIC long-ish answers about implementation
support; corpora/isp-demo) through ``isp-nlp evaluate``'s path, 5 folds grouped by
transcript, with the demo codebook's stages and with evaluation/stage_codebook_literature.yaml.

Writes evaluation/results/codebook_robustness.md and .json. MiniLM runs offline
(HF_HUB_OFFLINE=1) with an SQLite embedding cache. Exit status 2 = ../shared is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tune_suggester import ANNOMI, TEST_TRANSCRIPTS, kappa, load, sample_seeds

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from isp_nlp.suggest.trainer import TrainParams, train_single_label  # noqa: E402

RESULTS = REPO / "evaluation" / "results"
CODEBOOKS = {
    "ours (definitions + 3 examples)": "annomi_codebook.yaml",
    "MITI paraphrase, no examples": "annomi_codebook_miti.yaml",
    "terse, one line, no examples": "annomi_codebook_terse.yaml",
    "literature-style, long, no examples": "annomi_codebook_literature.yaml",
    "ours, texts shifted to the next label (wrong)": "annomi_codebook.yaml",
    "random vectors (says nothing)": None,
}
#: The codebook whose labels get the next label's texts: a codebook that misleads.
SHIFTED = "ours, texts shifted to the next label (wrong)"
STAGE_CODEBOOKS = {
    "demo codebook (corpora/isp-demo)": REPO / "corpora" / "isp-demo" / "codebook.yaml",
    "literature-style stages": REPO / "evaluation" / "stage_codebook_literature.yaml",
}
FIXED = 0.3
ADAPTIVE = TrainParams()
FIXED_PARAMS = replace(ADAPTIVE, choose_prototype_weight=False, prototype_weight=FIXED)


def codebook_prototypes(name: str, file: str | None, classes: list[str], embedder, cache,
                        dim: int) -> dict[str, np.ndarray]:
    """label -> embeddings of its codebook texts; random unit vectors for ``file`` None."""
    from isp_nlp.codebook.load import load_codebook
    from isp_nlp.embed import embed_texts
    from isp_nlp.suggest.prototypes import prototype_texts

    if file is None:
        rng = np.random.default_rng(20261201)
        return {c: rng.normal(size=(1, dim)).astype(np.float32) for c in classes}
    by_id = {c.id: c for c in load_codebook(REPO / "evaluation" / file).codes}
    source = classes[1:] + classes[:1] if name == SHIFTED else classes
    return {c: embed_texts(prototype_texts(by_id[s]), embedder, cache)
            for c, s in zip(classes, source, strict=True)}


def annomi_task(name: str, cache_path: Path, ks: list[int], folds: int, repeats: int,
                embedder, cache) -> dict:
    """Per K and codebook: kappa per fold x repeat for none / fixed / adaptive, the chosen
    weights, and seconds per adaptive fit (+ the prior on the held-out fold)."""
    task = load(name, cache_path)
    classes = sorted(set(task.labels.astype(str)))
    protos = {book: codebook_prototypes(book, file, classes, embedder, cache,
                                        task.batch.embeddings.shape[1])
              for book, file in CODEBOOKS.items()}
    pool_mask = ~np.isin(task.transcripts, list(TEST_TRANSCRIPTS))
    docs = np.array(sorted(set(task.transcripts[pool_mask]), key=int))
    out: dict = {"n_pool_utterances": int(pool_mask.sum()), "n_pool_transcripts": len(docs),
                 "labels": classes, "by_k": {}}
    for k in ks:
        cells = {book: {"none": [], "fixed": [], "adaptive": [], "weights": [], "seconds": []}
                 for book in CODEBOOKS}
        checked = False
        for r in range(repeats):
            rng = np.random.default_rng(1000 + r)
            fold_of = dict(zip(rng.permutation(docs), np.arange(len(docs)) % folds, strict=True))
            fold = np.array([fold_of.get(t, -1) for t in task.transcripts])
            for f in range(folds):
                train = np.flatnonzero(pool_mask & (fold != f))
                held = np.flatnonzero(pool_mask & (fold == f))
                seeds = sample_seeds(task.labels, train, k, rng)
                seed_batch, held_batch = task.batch.subset(seeds), task.batch.subset(held)
                y_seed, y_held = task.labels[seeds].astype(str), task.labels[held].astype(str)
                est = None  # the seed-only estimator is the same for every codebook
                for book in CODEBOOKS:
                    t0 = time.perf_counter()
                    model = train_single_label(seed_batch, y_seed, params=ADAPTIVE,
                                               prototypes=protos[book])
                    if est is None:
                        est = model.dimension().estimator.predict_proba(
                            model.features.transform(held_batch))
                    prior = model.dimension().prototypes.class_proba(
                        held_batch.embeddings, model.value_classes())
                    w = model.dimension().prototype_weight
                    adaptive = (1 - w) * est + w * prior
                    seconds = time.perf_counter() - t0
                    fixed = (1 - FIXED) * est + FIXED * prior
                    if not checked:  # the mixes are what the shipped fits predict
                        np.testing.assert_allclose(model.predict_value_proba(held_batch),
                                                   adaptive, atol=1e-9)
                        alone = train_single_label(seed_batch, y_seed, params=FIXED_PARAMS,
                                                   prototypes=protos[book])
                        np.testing.assert_allclose(alone.predict_value_proba(held_batch), fixed,
                                                   atol=1e-9)
                        bare = train_single_label(seed_batch, y_seed, params=ADAPTIVE)
                        np.testing.assert_allclose(bare.predict_value_proba(held_batch), est,
                                                   atol=1e-9)
                    labels = np.asarray(model.value_classes(), dtype=object)
                    cell = cells[book]
                    for mode, proba in (("none", est), ("fixed", fixed), ("adaptive", adaptive)):
                        cell[mode].append(kappa(labels[proba.argmax(axis=1)].astype(str), y_held))
                    cell["weights"].append(float(w))
                    cell["seconds"].append(seconds)
                checked = True
                print(f"{name} K={k} repeat {r + 1} fold {f + 1}: " + ", ".join(
                    f"{b.split()[0]} w={cells[b]['weights'][-1]}" for b in CODEBOOKS), flush=True)
        out["by_k"][str(k)] = {book: summarise(cell) for book, cell in cells.items()}
    return out


def mean_se(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "se": float(v.std(ddof=1) / np.sqrt(len(v)))}


def summarise(cell: dict) -> dict:
    diff = np.asarray(cell["adaptive"]) - np.asarray(cell["fixed"])
    gain = np.asarray(cell["fixed"]) - np.asarray(cell["none"])
    weights, counts = np.unique(cell["weights"], return_counts=True)
    return {
        **{mode: {**mean_se(cell[mode]), "kappas": [round(x, 4) for x in cell[mode]]}
           for mode in ("none", "fixed", "adaptive")},
        "adaptive_minus_fixed": mean_se(list(diff)),
        "fixed_minus_none": mean_se(list(gain)),
        "weights_chosen": {str(w): int(c) for w, c in zip(weights, counts, strict=True)},
        "mean_weight": float(np.mean(cell["weights"])),
        "fit_predict_seconds_mean": float(np.mean(cell["seconds"])),
    }


def demo_stage(embedder, cache, repeats: int) -> dict:
    """The demo corpus's stage through ``isp-nlp evaluate`` (5 folds grouped by transcript)."""
    from isp_nlp.suggest.evaluate import StudyConfig, evaluate_files

    coded = REPO / "corpora" / "isp-demo" / "seed_codes.csv"
    ks: list[int | None] = [8, 16, None]
    out = {}
    runs = [("no codebook", None, ADAPTIVE)] + [
        (f"{book}, {mode}", path, params) for book, path in STAGE_CODEBOOKS.items()
        for mode, params in (("fixed 0.3", FIXED_PARAMS), ("adaptive", ADAPTIVE))]
    for label, path, params in runs:
        config = StudyConfig(seed_per_label=list(ks), repeats=repeats, label_column="stage",
                             folds=5)
        result = evaluate_files(None, None, coded=coded, config=config, embedder=embedder,
                                cache=cache, params=params, codebook=path)
        out[label] = [{"seed_per_label": c["seed_per_label"] or "all",
                       "mean_kappa": c["mean_kappa"], "sd": c["sd"], "macro_f1": c["macro_f1"]}
                      for c in result["learning_curve"]]
        print(f"demo {label}: " + ", ".join(
            f"K={c['seed_per_label']} kappa {c['mean_kappa']:.3f} F1 {c['macro_f1']:.3f}"
            for c in out[label]), flush=True)
    out["n_segments"] = result["n_test_units"]
    return out


def _pm(cell: dict) -> str:
    return f"{cell['mean']:.3f} ± {cell['se']:.3f}"


def write_markdown(data: dict, path: Path) -> None:
    lines = ["# Is the codebook prior robust to the codebook a user writes?", "",
             "Generated by `evaluation/codebook_robustness.py` "
             f"({data['date']}, {data['embedder']}, K = {', '.join(map(str, data['ks']))} seeds "
             f"per label, {data['folds']} folds grouped by transcript x {data['repeats']} "
             "repeats on the 126 singly-coded AnnoMI transcripts; the 7 test transcripts are "
             "not used). Cohen's kappa with the annotator on the held-out transcripts, mean ± "
             "SE over the folds x repeats; every condition on the same seeds. *fixed* = the "
             "prior takes 0.3 of each probability (the former default); *adaptive* = the "
             "shipped default: 0.3, or 0 when the codebook alone does not beat chance on "
             "the seeds (kappa on its probabilities, `prototypes.prior_skill`); *diff* = "
             "adaptive − fixed, paired.", ""]
    for task, res in data["annomi"].items():
        for k, books in res["by_k"].items():
            lines += [f"## AnnoMI {task}, K = {k}", "",
                      "| codebook | no codebook | fixed 0.3 | adaptive | diff | weights chosen "
                      "(count) |", "|---|---|---|---|---|---|"]
            for book, s in books.items():
                chosen = ", ".join(f"{w}: {c}" for w, c in s["weights_chosen"].items())
                lines.append(f"| {book} | {_pm(s['none'])} | {_pm(s['fixed'])} | "
                             f"{_pm(s['adaptive'])} | {s['adaptive_minus_fixed']['mean']:+.3f} ± "
                             f"{s['adaptive_minus_fixed']['se']:.3f} | {chosen} |")
            seconds = np.mean([s["fit_predict_seconds_mean"] for s in books.values()])
            lines += ["", f"One adaptive fit (with the prior's check): {seconds:.1f} s on "
                      "average (shared 2-core machine).", ""]
    if data.get("demo"):
        demo = data["demo"]
        lines += ["## Stage on the demo corpus (SYNTHETIC)", "",
                  f"corpora/isp-demo: {demo['n_segments']} stage-coded segments, long-ish "
                  "narrative answers written by the developers, two coders; `isp-nlp evaluate "
                  "--label-column stage --folds 5` (grouped by transcript), mean kappa with "
                  "the coders and macro-F1 per K seeds per label ('all' = every training "
                  "segment).", "",
                  "| run | " + " | ".join(f"K = {c['seed_per_label']}: kappa / F1"
                                         for c in demo["no codebook"]) + " |",
                  "|---|" + "---|" * len(demo["no codebook"])]
        for label, curve in demo.items():
            if label == "n_segments":
                continue
            lines.append(f"| {label} | " + " | ".join(
                f"{c['mean_kappa']:.3f} / {c['macro_f1']:.3f}" for c in curve) + " |")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="32")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--task", choices=("therapist", "client", "both"), default="both")
    parser.add_argument("--cache", type=Path,
                        default=Path("/tmp/isp-nlp-annomi/cache.sqlite"))
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "codebook_robustness")
    args = parser.parse_args(argv)
    if not ANNOMI.is_file():
        print(f"../shared not found: this study needs {ANNOMI}", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from isp_nlp.embed import SentenceTransformerEmbedder
    from isp_nlp.store.database import Store

    embedder = SentenceTransformerEmbedder()
    cache = Store.create(args.cache).embedding_cache()
    ks = [int(x) for x in args.ks.split(",")]
    tasks = ("therapist", "client") if args.task == "both" else (args.task,)
    data: dict = {"date": time.strftime("%Y-%m-%d"), "embedder": embedder.model_id, "ks": ks,
                  "folds": args.folds, "repeats": args.repeats, "fixed_weight": FIXED,
                  "annomi": {t: annomi_task(t, args.cache, ks, args.folds, args.repeats,
                                            embedder, cache) for t in tasks}}
    if not args.skip_demo:
        data["demo"] = demo_stage(embedder, cache, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    write_markdown(data, args.out.with_suffix(".md"))
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
