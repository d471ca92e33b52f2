"""Benchmark: how fast `isp-nlp --help` and `isp-nlp status` start.

Usage: python evaluation/bench_startup.py [--runs 7] [--work DIR] [--no-results]

Runs each command ``--runs`` times as its own process through the installed console
script (``.venv/bin/isp-nlp``, as a user does) under ``/usr/bin/time -v``: `--help`,
then `status` on a small project (made once with `isp-nlp init --embedder hashing-256`
and the bundled demo codebook and two demo transcripts). Reports the median wall time
and the median peak memory (max RSS) per command, and which of scikit-learn, SciPy,
pandas, matplotlib and torch each command imported. Target: median wall time ≤ 0.3 s
on 2 cores. Writes evaluation/results/bench_startup.md and .json. Exit status 0 = the
target is met, 1 = missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "evaluation" / "results"
CORPUS = REPO / "corpora" / "isp-demo"
TARGET_S = 0.3
HEAVY = ("sklearn", "scipy", "pandas", "matplotlib", "torch")
#: Which heavy modules a command imports, from a fresh interpreter.
_PROBE = """
import json, sys
from click.testing import CliRunner
from isp_nlp.cli import cli
CliRunner().invoke(cli, sys.argv[1:])
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


def _script() -> str:
    found = Path(sys.executable).with_name("isp-nlp")
    return str(found) if found.exists() else shutil.which("isp-nlp") or "isp-nlp"


def _timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run, as /usr/bin/time -v reports them."""
    proc = subprocess.run(["/usr/bin/time", "-v", _script(), *args], capture_output=True,
                          text=True, check=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if wall is None or rss is None:
        raise RuntimeError(f"/usr/bin/time -v printed no timing: {proc.stderr[-300:]}")
    hours, minutes, seconds = int(wall[1] or 0), int(wall[2]), float(wall[3])
    return hours * 3600 + minutes * 60 + seconds, int(rss[1]) / 1024


def _heavy(args: list[str]) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _project(work: Path) -> Path:
    """A small project: the demo codebook and two demo transcripts, no model."""
    project = work / "project"
    run = [_script(), "--project", str(project)]
    subprocess.run([_script(), "init", str(project), "--embedder", "hashing-256"],
                   check=True, capture_output=True)
    subprocess.run([*run, "codebook", "load", str(CORPUS / "codebook.yaml")], check=True,
                   capture_output=True)
    transcripts = sorted((CORPUS / "transcripts").glob("*.txt"))[:2]
    subprocess.run([*run, "ingest", *map(str, transcripts)], check=True, capture_output=True)
    return project


def measure(runs: int, work: Path) -> dict:
    project = _project(work)
    commands = {"--help": ["--help"], "status": ["--project", str(project), "status"]}
    rows = {}
    for name, args in commands.items():
        _timed(args)  # warm the file cache once
        samples = [_timed(args) for _ in range(runs)]
        rows[name] = {"median_wall_s": round(statistics.median(s[0] for s in samples), 3),
                      "median_peak_rss_mb": round(statistics.median(s[1] for s in samples), 1),
                      "wall_s": [round(s[0], 3) for s in samples],
                      "heavy_imports": _heavy(args)}
        rows[name]["meets_target"] = rows[name]["median_wall_s"] <= TARGET_S
    return {"runs": runs, "target_s": TARGET_S, "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "commands": rows}


def markdown(result: dict) -> str:
    lines = ["# Start-up of `isp-nlp --help` and `isp-nlp status`", "",
             f"`python evaluation/bench_startup.py`: each command run {result['runs']} times "
             f"as its own process (console script, /usr/bin/time -v), after one warm-up run; "
             f"{result['cpus']} CPUs (1-minute load {result['load_average_1min']} at the end), "
             f"Python {result['python']}. Target: median wall time "
             f"≤ {result['target_s']} s. `status` runs on a project with two transcripts "
             "and the demo codebook.", "",
             "| command | median wall (s) | median peak RSS (MB) | heavy modules imported | "
             "target |", "|---|---|---|---|---|"]
    for name, row in result["commands"].items():
        heavy = ", ".join(row["heavy_imports"]) or "none"
        lines.append(f"| `isp-nlp {name}` | {row['median_wall_s']:.3f} | "
                     f"{row['median_peak_rss_mb']:.1f} | {heavy} | "
                     f"{'met' if row['meets_target'] else 'missed'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the small project (default: a temporary one)")
    parser.add_argument("--no-results", action="store_true",
                        help="print only; do not write evaluation/results/")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = measure(args.runs, work)
    text = markdown(result)
    print(text)
    if not args.no_results:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "bench_startup.md").write_text(text, encoding="utf-8")
        (RESULTS / "bench_startup.json").write_text(json.dumps(result, indent=2) + "\n",
                                                    encoding="utf-8")
    return 0 if all(r["meets_target"] for r in result["commands"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
