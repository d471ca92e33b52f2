"""Per-label thresholds on AnnoMI (issue 13, item 4): do they pay?

Usage: python evaluation/lever_per_label.py [--work DIR] [--repeats R] [--k K]

Two kinds, each measured on the K-per-label seeds and fits of evaluation/annomi.py
(:func:`isp_nlp.suggest.study_fit.fit_calibrated`, benchmark codebook), scored on TEST:

1. **Decision offsets**: a log-probability offset per label added before the argmax,
   fitted by coordinate ascent on the seeds' out-of-fold probabilities
   (:func:`isp_nlp.suggest.study_fit.out_of_fold_proba`) to maximise kappa with the seed
   coder. Reported: TEST kappa with and without the offsets (paired by repeat).
2. **Per-label abstention thresholds**: an upper bound. For each predicted label, the lowest
   threshold at which that label's covered TEST utterances reach parity (chosen on TEST,
   which a real threshold could not be); reported beside the parity coverage of one
   threshold for all labels. If even this bound is not clearly better, thresholds chosen
   on seeds cannot be.

Writes evaluation/results/lever_per_label.md and .json. Exit status 2 without ../shared.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from annomi import ANNOMI, CODEBOOK, prepared_tasks
from annomi_report import COVERAGE_TARGETS, fmt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "evaluation" / "results"
OFFSETS = tuple(round(-1.5 + 0.1 * i, 1) for i in range(31))
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20))


def fit_offsets(proba: np.ndarray, y: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-label log offsets (the first fixed at 0) maximising kappa of argmax(log p + b)."""
    from sklearn.metrics import cohen_kappa_score

    logp = np.log(np.clip(proba, 1e-9, 1.0))
    b = np.zeros(proba.shape[1])
    best = cohen_kappa_score(y, logp.argmax(axis=1))
    for _ in range(rounds):
        for j in range(1, len(b)):
            for g in OFFSETS:
                trial = b.copy()
                trial[j] = g
                score = cohen_kappa_score(y, (logp + trial).argmax(axis=1))
                if score > best + 1e-9:
                    best, b = score, trial
    return b


def per_label_parity_coverage(ids: np.ndarray, conf: np.ndarray, labels: np.ndarray,
                              predicted: np.ndarray, n_labels: int) -> float | None:
    """Coverage when each predicted label gets the lowest threshold at which its covered
    units are at parity (None: parity does not hold on the union)."""
    from isp_nlp.agreement import coverage

    mask = np.zeros(len(ids), dtype=bool)
    for j in range(n_labels):
        rows = predicted == j
        for t in THRESHOLDS:
            m = rows & (conf >= t - 1e-12)
            if m.any() and coverage.masked_row(ids, labels, m, t)["parity"]:
                mask |= m
                break
    row = coverage.masked_row(ids, labels, mask, None)
    return row["coverage"] if row["parity"] else None


def measure(train, test, labels, prototypes, k: int, repeats: int) -> dict:
    from isp_nlp.agreement import coverage
    from isp_nlp.suggest.study_fit import fit_calibrated, out_of_fold_proba, predict, sample_seeds
    from isp_nlp.suggest.study_scores import encode_test, model_agreement, predicted_ids

    table = encode_test(test, labels)
    ref = train.reference()
    rows = []
    for r in range(repeats):
        idx = sample_seeds(train, k, np.random.default_rng([0, r, k]), labels)
        model, _ = fit_calibrated(train, idx, labels, None, prototypes)
        classes = model.value_classes()
        P = out_of_fold_proba(train, idx, labels, classes, None, prototypes)
        assert P is not None
        b = fit_offsets(P, np.array([classes.index(ref[i]) for i in idx]))
        got = predict(model, test.batch())
        shifted = (np.log(np.clip(got.proba, 1e-9, 1.0)) + b).argmax(axis=1)
        ids = predicted_ids(table, got.labels)
        top = np.array([classes.index(lab) for lab in got.labels])
        rows.append({
            "offsets": dict(zip(classes, b.tolist(), strict=True)),
            "kappa": model_agreement(table, got.labels)["mean_kappa"],
            "kappa_offsets": model_agreement(table, [classes[i] for i in shifted])["mean_kappa"],
            "parity_coverage_one": coverage.parity_coverage(
                coverage.risk_coverage(ids, got.confidence, table.ids)),
            "parity_coverage_per_label_bound": per_label_parity_coverage(
                ids, got.confidence, table.ids, top, len(classes))})
    diff = [r["kappa_offsets"] - r["kappa"] for r in rows]
    return {"seed_per_label": k, "repeats": rows,
            "kappa": float(np.mean([r["kappa"] for r in rows])),
            "kappa_offsets": float(np.mean([r["kappa_offsets"] for r in rows])),
            "delta_kappa": float(np.mean(diff)),
            "delta_kappa_se": float(np.std(diff, ddof=1) / np.sqrt(len(diff))),
            "parity_coverage_one": float(np.mean([r["parity_coverage_one"] or 0.0
                                                  for r in rows])),
            "parity_coverage_per_label_bound": float(np.mean(
                [r["parity_coverage_per_label_bound"] or 0.0 for r in rows]))}


def write_markdown(results: dict, path: Path) -> None:
    k, reps = results["config"]["seed_per_label"], results["config"]["repeats"]
    lines = ["# Per-label thresholds on AnnoMI (issue 13, item 4)", "",
             f"Generated by `evaluation/lever_per_label.py` (see its docstring). K = {k} seeds "
             f"per label, {reps} repeats, the fits of `annomi.md`, scored on TEST.", "",
             "| task | kappa | kappa with offsets | Δ kappa (± SE) | parity coverage, one "
             "threshold | parity coverage, per-label bound (chosen on TEST) |",
             "|---|---|---|---|---|---|"]
    for task, r in results["tasks"].items():
        lines.append(f"| {task} | {fmt(r['kappa'])} | {fmt(r['kappa_offsets'])} | "
                     f"{r['delta_kappa']:+.3f} ± {r['delta_kappa_se']:.3f} | "
                     f"{r['parity_coverage_one']:.1%} | "
                     f"{r['parity_coverage_per_label_bound']:.1%} |")
    lines += [""] + [f"- {task}: {verdict(task, r)}" for task, r in results["tasks"].items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def verdict(task: str, r: dict) -> str:
    """One sentence per lever, from the numbers: does it pay?"""
    lo, hi = (r["delta_kappa"] - 2 * r["delta_kappa_se"], r["delta_kappa"]
              + 2 * r["delta_kappa_se"])
    offsets = ("offsets raise kappa beyond 2 SE" if lo > 0 else
               "offsets lower kappa beyond 2 SE" if hi < 0 else
               "offsets change kappa within 2 SE")
    gain = r["parity_coverage_per_label_bound"] - r["parity_coverage_one"]
    best = r["parity_coverage_per_label_bound"]
    bound = (f"per-label thresholds chosen on TEST itself reach {best:.1%} coverage at "
             f"parity ({gain:+.1%} on one threshold; target {COVERAGE_TARGETS[task]:.0%})")
    return f"{offsets}; {bound}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "isp-nlp-annomi")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not ANNOMI.is_file():
        print(f"{ANNOMI} not found: this study needs ../shared (AnnoMI).", file=sys.stderr)
        return 2
    results: dict = {"config": {"seed_per_label": args.k, "repeats": args.repeats,
                                "codebook": CODEBOOK.name}, "tasks": {}}
    for task, train, test, labels, protos, embedder_id in prepared_tasks(args.work):
        results["config"]["embedder"] = embedder_id
        res = measure(train, test, labels, protos, args.k, args.repeats)
        results["tasks"][task] = res
        print(f"[{task}] kappa {fmt(res['kappa'])} -> {fmt(res['kappa_offsets'])}; parity "
              f"coverage {res['parity_coverage_one']:.3f} vs per-label bound "
              f"{res['parity_coverage_per_label_bound']:.3f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lever_per_label.json").write_text(json.dumps(results, indent=2),
                                                   encoding="utf-8")
    write_markdown(results, args.out / "lever_per_label.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
