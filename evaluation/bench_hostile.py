"""Benchmark: how long `isp-nlp` takes to deal with hostile interchange files.

Usage: python evaluation/bench_hostile.py [--cases ID,ID,...] [--work DIR] [--no-results]

Runs the hostile and faulty files of tests/interchange/test_hostile_interchange.py
(tests/builders/hostile.py: ``.qdpx``, ``.qde``, ``.qdc``, Dedoose and ATLAS.ti sheets,
``.xlsx``, names files and keys, output paths; refused and rightly accepted ones) through
the CLI, as that test does: a small project is built once (`init --embedder hashing-256`,
the demo codebook, one transcript and its seed codes), then each case gets its own copy
of it and runs ``isp-nlp --project P ...`` in a forked child, timed from fork to exit
(the case's files are built beforehand and not timed). ``--cases`` picks some case ids
(default: all). The test checks what each case does (refused in one line, nothing
written, bounded memory); this script measures how fast. Targets, on 2 cores: every case
within 15 s (the 2-million-element files are the slow ones), and the project build plus
every case within 2 min (the CI budget of the test file). A child still running after
120 s is stopped and counted as hung. Writes evaluation/results/bench_hostile.md and
.json. Exit status 0 = the targets are met, 1 = missed, 2 = an unknown case id.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "evaluation" / "results"
sys.path.insert(0, str(REPO))

from click.testing import CliRunner  # noqa: E402

from isp_nlp.cli import cli  # noqa: E402
from tests.builders.hostile import ACCEPTED, REFUSED, Case, Ctx, build_project  # noqa: E402

CASE_TARGET_S = 15.0
TOTAL_TARGET_S = 120.0
HUNG_S = 120.0
#: How many of the slowest cases the table lists.
SLOWEST = 10


def run_forked(words: list[str], cwd: Path) -> tuple[int | None, float, int]:
    """``isp-nlp WORDS`` in a forked child: its exit status (None: hung and stopped),
    wall seconds from fork to exit, and peak resident memory (KB)."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child never returns into the benchmark
        status = 70
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.chdir(cwd)
            status = CliRunner().invoke(cli, words).exit_code
        finally:
            os._exit(status)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - start, usage.ru_maxrss
        if time.monotonic() - start > HUNG_S:
            os.kill(pid, signal.SIGKILL)
            _, _, usage = os.wait4(pid, 0)
            return None, time.monotonic() - start, usage.ru_maxrss
        time.sleep(0.005)


def measure(cases: list[tuple[str, Case]], work: Path) -> dict:
    """Seconds and peak memory per case, and the total with the project build."""
    start = time.monotonic()
    base = build_project(work)
    build_s = time.monotonic() - start
    rows = []
    for kind, case in cases:
        folder = work / "cases" / case.id
        folder.mkdir(parents=True)
        ctx = Ctx(root=folder, project=folder / "project")
        shutil.copytree(base, ctx.project)
        words = ["--project", str(ctx.project), *case.build(ctx)]
        status, seconds, peak_kb = run_forked(words, folder)
        rows.append({"id": case.id, "what": case.what, "kind": kind, "exit": status,
                     "seconds": round(seconds, 3), "peak_mb": round(peak_kb / 1024, 1),
                     "meets_target": status is not None and seconds <= CASE_TARGET_S})
        shutil.rmtree(folder)
    total = time.monotonic() - start
    return {"cases": rows, "build_s": round(build_s, 2), "total_s": round(total, 2),
            "case_target_s": CASE_TARGET_S, "total_target_s": TOTAL_TARGET_S,
            "meets_target": all(r["meets_target"] for r in rows) and total <= TOTAL_TARGET_S,
            "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                        time.gmtime())}


def markdown(result: dict) -> str:
    rows = result["cases"]
    slow = sorted(rows, key=lambda r: -r["seconds"])[:SLOWEST]
    missed = [r for r in rows if not r["meets_target"]]
    lines = ["# Time to deal with hostile interchange files", "",
             f"`python evaluation/bench_hostile.py`, {result['date']}: the {len(rows)} cases "
             "of tests/interchange/test_hostile_interchange.py, each `isp-nlp` command in a "
             f"forked child on its own copy of a small project; {result['cpus']} CPUs "
             f"(1-minute load {result['load_average_1min']} at the end), Python "
             f"{result['python']}. Targets: every case within {result['case_target_s']:g} s; "
             f"the project build and every case within {result['total_target_s']:g} s. "
             "What each case must do (refuse in one line, write nothing, bounded memory) is "
             "checked by the test, not here.", "",
             f"Project build {result['build_s']:.1f} s; all cases with the build "
             f"{result['total_s']:.1f} s "
             f"({'met' if result['total_s'] <= result['total_target_s'] else 'missed'}); "
             f"cases over {result['case_target_s']:g} s or hung: "
             + (", ".join(r["id"] for r in missed) if missed else "none") + ".", "",
             f"The {len(slow)} slowest cases:", "",
             "| case | what | exit | seconds | peak RSS (MB) | target |",
             "|---|---|---|---|---|---|"]
    for r in slow:
        lines.append(f"| `{r['id']}` | {r['what']} | "
                     f"{'hung' if r['exit'] is None else r['exit']} | {r['seconds']:.2f} | "
                     f"{r['peak_mb']:.0f} | {'met' if r['meets_target'] else 'missed'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="",
                        help="comma-separated case ids (default: every case)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the project and the cases (default: a temporary one)")
    parser.add_argument("--no-results", action="store_true",
                        help="print only; do not write evaluation/results/")
    args = parser.parse_args(argv)
    every = [("refused", c) for c in REFUSED] + [("accepted", c) for c in ACCEPTED]
    wanted = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(wanted) - {c.id for _, c in every})
    if unknown:
        print(f"--cases: unknown case ids {', '.join(unknown)}", file=sys.stderr)
        return 2
    cases = [(k, c) for k, c in every if not wanted or c.id in wanted]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = measure(cases, work)
    text = markdown(result)
    print(text)
    if not args.no_results:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "bench_hostile.md").write_text(text, encoding="utf-8")
        (RESULTS / "bench_hostile.json").write_text(json.dumps(result, indent=2) + "\n",
                                                    encoding="utf-8")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
