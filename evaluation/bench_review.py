"""Benchmark: how fast the full-screen review starts and moves on, on a large project.

Usage: python evaluation/bench_review.py [--segments 10000] [--runs 5] [--keys 40]
       [--demo DIR] [--work DIR] [--no-results]

Builds a project of ``--segments`` segments (half of them participant turns with stored
suggestions of a registered model; tests/builders/review_queue.py, no training), then:

- start-up: ``python -m isp_nlp review`` in an 80x24 pseudo-terminal (pexpect), from
  spawn until the first segment is drawn (its status line, ``[saved 0]``), once before
  the queue's scores are kept (the builder writes suggestions as no ``suggest`` did),
  then ``--runs`` times; also the in-process time to read the whole queue
  (``project_review``); bytecode is compiled first, as an installed package has it;
- keystroke to next segment in the pseudo-terminal: ``s`` (skip) sent, until the screen
  acknowledges it (``[saved N]``), ``--keys`` times (pexpect's default 50 ms pause before
  each send is turned off);
- the same through Textual's pilot (``pilot.press``, which adds its own idle waits), and
  the app's own work per key (the skip handler: commit and redraw), called directly.

``--demo DIR`` also times start-up on an existing project (e.g. one `isp-nlp demo` built).
Writes evaluation/results/bench_review.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "evaluation" / "results"
sys.path.insert(0, str(REPO))

import pexpect  # noqa: E402

from isp_nlp.review.retrain import BackgroundRetrainer  # noqa: E402
from isp_nlp.review.run import project_review, retrain_tick  # noqa: E402
from isp_nlp.review.screen import ReviewApp  # noqa: E402
from isp_nlp.store.folder import open_project  # noqa: E402
from tests.builders.review_queue import suggested_project  # noqa: E402

SAVED = rb"\[saved (\d+)\]"


def _spawn(project: Path, coder: str) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO)}
    # Bytecode is compiled and kept, as an installed package has it (a development
    # environment may set PYTHONDONTWRITEBYTECODE, which would time the compiler).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    child = pexpect.spawn(sys.executable, ["-m", "isp_nlp", "--project", str(project), "review",
                                           "--coder", coder], env=env, dimensions=(24, 80),
                          timeout=120)
    child.delaybeforesend = None  # pexpect sleeps 50 ms before each send unless told not to
    return child


def _stop(child: pexpect.spawn) -> None:
    child.send("q")
    try:
        child.expect(pexpect.EOF, timeout=20)
    except pexpect.TIMEOUT:
        os.kill(child.pid, signal.SIGKILL)
    child.close()


def startup(project: Path, runs: int) -> list[float]:
    """Seconds from spawn to the first segment drawn, per run."""
    out = []
    for n in range(runs):
        start = time.perf_counter()
        child = _spawn(project, f"start{n}")
        child.expect(rb"\[saved 0\]")
        out.append(time.perf_counter() - start)
        _stop(child)
    return out


def pty_keys(project: Path, keys: int) -> list[float]:
    """Seconds from sending ``s`` to its acknowledgement on screen, per key."""
    child = _spawn(project, "keys")
    child.expect(rb"\[saved 0\]")
    out = []
    for n in range(1, keys + 1):
        start = time.perf_counter()
        child.send("s")
        while True:
            child.expect(SAVED)
            if int(child.match.group(1)) >= n:
                break
        out.append(time.perf_counter() - start)
    _stop(child)
    return out


def pilot_keys(project: Path, keys: int) -> tuple[float, list[float], list[float]]:
    """(queue build seconds, pilot.press seconds per key, handler seconds per key)."""
    with open_project(project) as store:
        start = time.perf_counter()
        session = project_review(store, "pilot")
        build = time.perf_counter() - start
        app = ReviewApp(session)
        pressed: list[float] = []
        handled: list[float] = []

        async def go() -> None:
            async with app.run_test(size=(80, 24)) as pilot:
                for _ in range(keys):
                    t = time.perf_counter()
                    await pilot.press("s")
                    pressed.append(time.perf_counter() - t)
                for _ in range(keys):
                    t = time.perf_counter()
                    app.action_skip()
                    handled.append(time.perf_counter() - t)
                    await pilot.pause()

        asyncio.run(go())
    return build, pressed, handled


def retrain_stall(work: Path, coded: int, documents: int = 50) -> dict:
    """A background retrain (train + suggest in a child process, then the new queue read
    in a thread) on a project of ``coded`` coded segments, while the screen runs: its
    seconds, and the longest the screen's event loop went without running a 10 ms timer
    (pilot, 80x24) from the decision that starts it until the queue is re-ranked."""
    per_doc = max(coded // documents, 1)
    project = suggested_project(work / "retrain", documents=documents,
                                turns=2 * (per_doc + 20), seeded=per_doc)
    with open_project(project) as store:
        session = project_review(store, "retrain")
        retrainer = BackgroundRetrainer(project, 1, coder="retrain", store=store)
        app = ReviewApp(session, tick=retrain_tick(session, retrainer))
        gaps: list[float] = []

        async def go() -> None:
            async with app.run_test(size=(80, 24)) as pilot:
                last = time.perf_counter()

                def beat() -> None:
                    nonlocal last
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

                app.set_interval(0.01, beat)
                await pilot.press("a")
                end = time.monotonic() + 900
                while app.message != "queue re-ranked" and time.monotonic() < end:
                    await pilot.pause(0.05)

        try:
            asyncio.run(go())
        finally:
            retrainer.close()
        return {"coded_segments": len({a.segment_id for a in store.annotations()}),
                "retrain_s": retrainer.last_seconds,
                "longest_stall_ms": round((max(gaps) - 0.01) * 1000, 1) if gaps else None,
                "ticks": len(gaps), "re_ranked": app.message == "queue re-ranked"}


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--demo", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--no-results", action="store_true")
    parser.add_argument("--retrain-coded", type=int, default=2000,
                        help="coded segments of the retrain project (0: skip it)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-review-"))
    shutil.rmtree(work / "big", ignore_errors=True)
    docs = max(args.segments // 200, 1)
    t = time.perf_counter()
    project = suggested_project(work / "big", documents=docs, turns=200)
    built = time.perf_counter() - t
    with open_project(project) as store:
        segments = len(store.segments())
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "isp_nlp")],
                   check=True)  # as an installed package: bytecode compiled once
    # The builder writes suggestions straight into the store, as no `suggest` did: the
    # first review reads the whole queue and keeps its scores (`suggest` keeps them).
    first = startup(project, 1)[0]
    start = startup(project, args.runs)
    build, pressed, handled = pilot_keys(project, args.keys)
    typed = pty_keys(project, args.keys)
    result = {
        "segments": segments, "documents": docs, "project_built_s": round(built, 1),
        "startup_s": [round(x, 3) for x in start],
        "startup_median_s": round(statistics.median(start), 3),
        "first_startup_s": round(first, 3),
        "queue_build_s": round(build, 3),
        "pty_key_to_ack_median_ms": _ms(typed),
        "pilot_press_median_ms": _ms(pressed),
        "handler_median_ms": _ms(handled),
        "cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    if args.retrain_coded:
        result["retrain"] = retrain_stall(work, args.retrain_coded)
    if args.demo is not None:
        demo = startup(args.demo, args.runs)
        with open_project(args.demo) as store:
            result["demo_segments"] = len(store.segments())
        result["demo_startup_median_s"] = round(statistics.median(demo), 3)
    print(json.dumps(result, indent=2))
    if not args.no_results:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_review.json").write_text(json.dumps(result, indent=2) + "\n",
                                                   encoding="utf-8")
        lines = [
            "# The full-screen review: start-up and keystroke latency", "",
            f"`python evaluation/bench_review.py --segments {args.segments} --runs "
            f"{args.runs} --keys {args.keys}`: a generated project of {segments} segments "
            f"({docs} documents, suggestions on half of them), 80x24 pseudo-terminal; "
            f"{result['cpus']} CPUs, 1-minute load {result['load_1min']} at the end, "
            f"Python {result['python']}.", "",
            "| measure | median |", "|---|---|",
            f"| spawn → first segment drawn (`[saved 0]`) | {result['startup_median_s']} s |",
            "| the same, once, before the queue's scores were kept (reads the whole queue) | "
            f"{result['first_startup_s']} s |",
            "| building the queue in process (measured separately, another moment of the "
            f"load) | {result['queue_build_s']} s |",
            f"| key `s` sent → acknowledged on screen (pty) | "
            f"{result['pty_key_to_ack_median_ms']} ms |",
            f"| `pilot.press('s')` (includes Textual's idle waits) | "
            f"{result['pilot_press_median_ms']} ms |",
            f"| skip handler: commit + redraw | {result['handler_median_ms']} ms |",
        ]
        if "retrain" in result:
            rt = result["retrain"]
            lines.append(f"| background retrain on {rt['coded_segments']} coded segments "
                         f"(train + suggest) | {rt['retrain_s']} s |")
            lines.append("| longest the screen went unanswering while it ran (10 ms timer, "
                         f"{rt['ticks']} ticks) | {rt['longest_stall_ms']} ms |")
        if "demo_startup_median_s" in result:
            lines.append(f"| demo project ({result['demo_segments']} segments): spawn → "
                         f"first segment | {result['demo_startup_median_s']} s |")
        (RESULTS / "bench_review.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
