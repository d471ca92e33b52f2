"""Benchmark: `isp-nlp agreement` on a large coded CSV (the shipped command, its own process).

Usage: python evaluation/bench_agreement_scale.py [--units 500000] [--resamples 1000]

Writes a synthetic coded-segments CSV (two coders, four codes, 70 % agreement, a stage
column; 500 units per document), runs ``isp-nlp agreement FILE --resamples R`` in a child
process and records wall time and peak memory (max RSS) in
evaluation/results/bench_agreement_scale.md and .json. Synthetic data: this measures
speed and memory, not agreement.
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


def write_csv(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    codes = ["a", "b", "c", "d"]
    first = rng.integers(0, 4, n)
    agree = rng.random(n) < 0.7
    second = np.where(agree, first, rng.integers(0, 4, n))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "segment", "text", "coder", "code", "stage"])
        for i in range(n):
            doc = f"d{i // 500}"
            w.writerow([doc, f"s{i}", "", "ana", codes[first[i]], "push"])
            w.writerow([doc, f"s{i}", "", "ben", codes[second[i]], "push"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=500_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "coded.csv"
        write_csv(data, args.units)
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _RUNNER, "agreement", str(data), "--resamples",
             str(args.resamples), "--format", "json"],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False)
        wall = time.perf_counter() - t0
    measured = json.loads(done.stderr.strip().splitlines()[-1])
    report = json.loads(done.stdout)
    result = {"units": args.units, "coders": 2, "resamples": args.resamples,
              "seconds": measured["seconds"], "wall_seconds": wall,
              "max_rss_mb": measured["max_rss_mb"],
              "overall_kappa": report["overall"]["kappa"]["value"],
              "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()}}
    text = "\n".join([
        "# `isp-nlp agreement` at scale (synthetic data)",
        "",
        "Produced by `python evaluation/bench_agreement_scale.py`.",
        "",
        f"{args.units:,} units × 2 coders (4 codes and a stage), {args.resamples:,} bootstrap "
        f"resamples, every coefficient with its CI: **{measured['seconds']:.0f} s**, peak "
        f"memory **{measured['max_rss_mb']:.0f} MB** on {os.cpu_count()} CPUs (load "
        f"average {os.getloadavg()[0]:.1f}). Overall kappa {result['overall_kappa']:.3f}.",
        "",
    ])
    print(text)
    if not args.no_results:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_agreement_scale.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / "bench_agreement_scale.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
