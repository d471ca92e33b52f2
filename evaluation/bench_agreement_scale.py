"""Benchmark: `isp-nlp agreement` (or `evaluate`) on a large coded CSV (the shipped command,
its own process).

Usage: python evaluation/bench_agreement_scale.py [--units 500000] [--resamples 1000]
       [--command agreement|evaluate] [--no-results]

Writes a synthetic coded-segments CSV (two coders, four codes, 70 % agreement, a stage
column, a short text of a few words from a small vocabulary per unit; 500 units per
document) and runs in a child process, recording wall time and peak memory (max RSS):

* ``agreement`` (default): ``isp-nlp agreement FILE --resamples R --format json``, into
  evaluation/results/bench_agreement_scale.md and .json;
* ``evaluate``: ``isp-nlp evaluate FILE --folds 2 --seed-per-label 32 --repeats 1
  --embedder hashing-256 --format json``, into evaluation/results/bench_evaluate_scale.md
  and .json.

Synthetic data: this measures speed and memory, not agreement or accuracy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "evaluation" / "results"
VOCABULARY = (
    "hub coach staff training plan visit month support network partner school funding "
    "meeting advice report team local council project change share idea trust time "
    "question answer problem help together learn teacher parent community budget"
).split()

_RUNNER = """
import json, resource, sys, time
t0 = time.perf_counter()
from isp_nlp.cli import cli
try:
    cli(sys.argv[1:], prog_name="isp-nlp", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
      file=sys.stderr)
"""


def unit_texts(n: int, seed: int = 1) -> list[str]:
    """A short text per unit: 3 to 8 words drawn from :data:`VOCABULARY`."""
    rng = np.random.default_rng(seed)
    words = np.array(VOCABULARY)[rng.integers(0, len(VOCABULARY), size=(n, 8))]
    lengths = rng.integers(3, 9, size=n)
    return [" ".join(row[:k]) for row, k in zip(words.tolist(), lengths.tolist(), strict=True)]


def write_csv(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    codes = ["a", "b", "c", "d"]
    first = rng.integers(0, 4, n)
    agree = rng.random(n) < 0.7
    second = np.where(agree, first, rng.integers(0, 4, n))
    texts = unit_texts(n, seed + 1)  # its own generator: the codes stay as before
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "segment", "text", "coder", "code", "stage"])
        for i in range(n):
            doc = f"d{i // 500}"
            w.writerow([doc, f"s{i}", texts[i], "ana", codes[first[i]], "push"])
            w.writerow([doc, f"s{i}", texts[i], "ben", codes[second[i]], "push"])


def command_args(command: str, data: Path, resamples: int) -> list[str]:
    if command == "agreement":
        return ["agreement", str(data), "--resamples", str(resamples), "--format", "json"]
    return ["evaluate", str(data), "--folds", "2", "--seed-per-label", "32", "--repeats", "1",
            "--embedder", "hashing-256", "--format", "json"]


def run(command: str, units: int, resamples: int) -> tuple[dict, dict, float, int]:
    """The child's measurements, its JSON report, wall seconds and the CSV's size."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "coded.csv"
        write_csv(data, units)
        size = data.stat().st_size
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _RUNNER, *command_args(command, data, resamples)],
            capture_output=True, text=True, cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
        wall = time.perf_counter() - t0
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"isp-nlp {command} failed:\n{done.stderr[-2000:]}")
    measured = json.loads(done.stderr.strip().splitlines()[-1])
    return measured, json.loads(done.stdout), wall, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=500_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--command", choices=["agreement", "evaluate"], default="agreement")
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    measured, report, wall, size = run(args.command, args.units, args.resamples)
    result = {"command": args.command, "units": args.units, "coders": 2,
              "csv_mb": size / 1e6, "seconds": measured["seconds"], "wall_seconds": wall,
              "max_rss_mb": measured["max_rss_mb"],
              "machine": {"cpus": os.cpu_count(), "load_average_before": load,
                          "load_average": os.getloadavg()}}
    machine = (f"on {os.cpu_count()} CPUs (load average {load[0]:.1f} before the run, "
               f"{os.getloadavg()[0]:.1f} after)")
    if args.command == "agreement":
        result["resamples"] = args.resamples
        result["overall_kappa"] = report["overall"]["kappa"]["value"]
        name = "bench_agreement_scale"
        lines = [
            "# `isp-nlp agreement` at scale (synthetic data)",
            "",
            "Produced by `python evaluation/bench_agreement_scale.py`.",
            "",
            f"{args.units:,} units × 2 coders (4 codes and a stage; a CSV of "
            f"{size / 1e6:.0f} MB), {args.resamples:,} bootstrap resamples, every coefficient "
            f"with its CI: **{measured['seconds']:.0f} s**, peak memory "
            f"**{measured['max_rss_mb']:.0f} MB** {machine}. Overall kappa "
            f"{result['overall_kappa']:.3f}.",
        ]
    else:
        result["options"] = command_args("evaluate", Path("FILE"), 0)[2:]
        result["report_keys"] = sorted(report) if isinstance(report, dict) else []
        name = "bench_evaluate_scale"
        lines = [
            "# `isp-nlp evaluate` at scale (synthetic data)",
            "",
            "Produced by `python evaluation/bench_agreement_scale.py --command evaluate "
            f"--units {args.units}`.",
            "",
            f"`isp-nlp evaluate FILE {' '.join(result['options'])}` on {args.units:,} units "
            f"× 2 coders (4 codes, a few words of text each; a CSV of {size / 1e6:.1f} MB): "
            f"**{measured['seconds']:.0f} s**, peak memory **{measured['max_rss_mb']:.0f} MB** "
            f"{machine}. Synthetic texts carry no signal: this measures speed and memory only.",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_results:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
