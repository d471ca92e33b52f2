"""Benchmark: a project on a PostgreSQL server beside the same project in SQLite.

Usage: python evaluation/bench_team.py [--segments 4000] [--decisions 200]
       [--coders 4] [--each 250] [--no-results]

Starts a throwaway PostgreSQL server on loopback (tests/builders/postgres.py) with
durable settings (fsync and synchronous commit on, as a real server has them), builds
the same review project on both backends (tests/builders/review_queue.py: transcripts,
seed codes, a registered model with stored suggestions) and measures, on each:

- a review decision's round trip: recording an accept (the code path of `isp-nlp
  review`: ``ReviewSession.accept`` through ``DecisionLog``) and reading what the screen
  draws next (the next item's context and evidence, ``ItemDetails``), ``--decisions``
  times; median and 95th percentile;
- concurrency: ``--coders`` coders in separate processes record ``--each`` decisions each
  at once; then every coder's decisions are counted in the log and the annotations: all
  stored, none twice, none lost;
- what ``train`` reads: the SELECT statements the store runs while ``train_project``
  (what `isp-nlp train` runs) reads its training data and writes the model, and the
  time.

Writes evaluation/results/bench_team.md and .json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "evaluation" / "results"
sys.path.insert(0, str(REPO))

from isp_nlp.review.run import project_review  # noqa: E402
from isp_nlp.store.folder import open_project  # noqa: E402
from tests.builders.postgres import PgServer, start_server  # noqa: E402
from tests.builders.review_queue import suggested_project  # noqa: E402


def _round_trips(project: Path, coder: str, n: int) -> list[float]:
    """Seconds per decision: accept, then the next item's details read."""
    with open_project(project) as store:
        session = project_review(store, coder)
        times = []
        for _ in range(n):
            if session.current() is None:
                break
            start = time.perf_counter()
            session.accept()
            session.current()  # the next item, its context and evidence read
            times.append(time.perf_counter() - start)
    return times


def _coder_run(project: str, coder: str, each: int, queue: Any) -> None:
    try:
        with open_project(project) as store:
            session = project_review(store, coder, order="random", seed=hash(coder) % 997)
            done = 0
            while done < each and session.current() is not None:
                session.accept()
                done += 1
        queue.put((coder, done, None))
    except Exception as exc:  # reported, not raised: the parent counts what was stored
        queue.put((coder, 0, f"{type(exc).__name__}: {exc}"))


def _concurrent(project: Path, coders: int, each: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    names = [f"coder{i}" for i in range(coders)]
    start = time.perf_counter()
    procs = [ctx.Process(target=_coder_run, args=(str(project), c, each, queue))
             for c in names]
    for p in procs:
        p.start()
    said: list[tuple[str, int, str | None]] = []
    while len(said) < len(procs):
        try:
            said.append(queue.get(timeout=2))
        except Empty:
            if not any(p.is_alive() for p in procs) and queue.empty():
                break  # a coder process died without a word
    for p in procs:
        p.join(timeout=60)
    wall = time.perf_counter() - start
    heard = {c for c, _, _ in said}
    said += [(c, 0, f"{c}'s process ended with status {p.exitcode} and reported nothing")
             for c, p in zip(names, procs, strict=True) if c not in heard]
    with open_project(project) as store:
        conn = store.conn
        logged = dict(conn.execute(
            "SELECT coder, COUNT(*) FROM log WHERE action = 'accept' GROUP BY coder").fetchall())
        twice = conn.execute(
            "SELECT COUNT(*) FROM (SELECT coder, item_key FROM log WHERE action = 'accept'"
            " GROUP BY coder, item_key HAVING COUNT(*) > 1) AS d").fetchone()[0]
    reported = {c: n for c, n, _ in said}
    return {"coders": coders, "each": each, "wall_s": round(wall, 2),
            "reported": reported, "logged": {c: int(logged.get(c, 0)) for c in names},
            "stored": int(sum(logged.get(c, 0) for c in names)),
            "lost": int(sum(max(0, reported[c] - logged.get(c, 0)) for c in names)),
            "twice": int(twice), "errors": [e for _, _, e in said if e]}


def _train_reads(project: Path) -> dict[str, Any]:
    """SELECT statements the store runs and seconds of `isp-nlp train`'s path (the hashing
    embedder; the suggester's own work is the same on both backends)."""
    from isp_nlp.pipeline import train_project

    with open_project(project) as store:
        reads = {"n": 0}

        def seen(sql: str) -> None:
            reads["n"] += sql.lstrip().upper().startswith(("SELECT", "WITH"))

        conn = store.conn
        if isinstance(conn, sqlite3.Connection):
            conn.set_trace_callback(seen)
        else:  # PgConnection: a Python object, its execute can be wrapped
            original = conn.execute

            def counted(sql: str, *args: Any) -> Any:
                seen(sql)
                return original(sql, *args)

            conn.execute = counted  # type: ignore[method-assign]
        start = time.perf_counter()
        train_project(store)
        return {"reads": reads["n"], "seconds": round(time.perf_counter() - start, 2)}


def _summary(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2), "max_ms": round(ms[-1], 2)}


def run(server: PgServer, *, segments: int, decisions: int, coders: int, each: int
        ) -> dict[str, Any]:
    """Every measure on both backends, PostgreSQL's on a new database of ``server``."""
    out: dict[str, Any] = {
        "settings": {"segments": segments, "decisions": decisions, "coders": coders,
                     "each": each},
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()[0],
                    "python": platform.python_version()}}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgres"):
            url = server.new_database() if backend == "postgres" else None
            project = suggested_project(Path(tmp) / backend,
                                        documents=max(1, segments // 200), turns=200,
                                        database=url)
            out[backend] = {"round_trip": _summary(_round_trips(project, "bench", decisions)),
                            "concurrent": _concurrent(project, coders, each),
                            "train": _train_reads(project)}
            print(backend, json.dumps(out[backend]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--segments", type=int, default=4000,
                        help="About this many segments (documents × turns).")
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--coders", type=int, default=4)
    parser.add_argument("--each", type=int, default=250)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    server = start_server(durable=True)
    try:
        out = run(server, segments=args.segments, decisions=args.decisions,
                  coders=args.coders, each=args.each)
    finally:
        server.stop()
    if not args.no_results:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "bench_team.json").write_text(json.dumps(out, indent=2) + "\n",
                                                  encoding="utf-8")
        (RESULTS / "bench_team.md").write_text(_markdown(out), encoding="utf-8")
    return 0


def _markdown(out: dict[str, Any]) -> str:
    s = out["settings"]
    lines = [
        "# A team's project on PostgreSQL beside SQLite",
        "",
        f"Generated by `python evaluation/bench_team.py` on {time.strftime('%Y-%m-%d')} "
        f"({out['machine']['cpus']} CPUs, load {out['machine']['load']:.1f}, Python "
        f"{out['machine']['python']}). PostgreSQL on loopback with fsync and synchronous "
        f"commit on; about {s['segments']:,} segments; the same project on both.",
        "",
        "| measure | SQLite | PostgreSQL | target |",
        "|---|---|---|---|",
    ]
    sq, pg = out["sqlite"], out["postgres"]
    lines.append(f"| decision round trip (record + next item's details), median | "
                 f"{sq['round_trip']['median_ms']} ms | {pg['round_trip']['median_ms']} ms "
                 "| ≤ 50 ms |")
    lines.append(f"| the same, 95th percentile | {sq['round_trip']['p95_ms']} ms | "
                 f"{pg['round_trip']['p95_ms']} ms | |")
    for key, label in (("stored", "stored"), ("lost", "lost"), ("twice", "recorded twice")):
        target = s["coders"] * s["each"] if key == "stored" else 0
        lines.append(f"| {s['coders']} coders × {s['each']} decisions at once: {label} | "
                     f"{sq['concurrent'][key]} | {pg['concurrent'][key]} | {target} |")
    lines.append(f"| the same, wall time | {sq['concurrent']['wall_s']} s | "
                 f"{pg['concurrent']['wall_s']} s | |")
    lines.append(f"| train: SELECT statements the store runs | {sq['train']['reads']} | "
                 f"{pg['train']['reads']} | one pass |")
    lines.append(f"| train: seconds (hashing embedder) | {sq['train']['seconds']} | "
                 f"{pg['train']['seconds']} | |")
    errors = sq["concurrent"]["errors"] + pg["concurrent"]["errors"]
    if errors:
        lines += ["", "Errors in coder processes:", *(f"- {e}" for e in errors)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
