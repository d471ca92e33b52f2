"""Hostile interchange files (.qdpx/.qde/.qdc, Dedoose and ATLAS.ti sheets, XLSX,
pseudonymise and outputs): exit 2, one line, nothing written, memory bounded.

Each case (tests/builders/hostile.py) runs ``isp-nlp --project P ...`` in a forked child, so
that its peak memory can be measured (``os.wait4`` gives the child's ``ru_maxrss``) and a
child that blocks (a FIFO) or eats memory (/dev/zero) can be stopped. Per REFUSED case:

- exit status 2 and exactly one non-empty output line, starting ``Error: ``;
- no traceback and no raw control character (``isp_nlp.ingest.controls.CONTROLS``);
- nothing new or changed in the case folder except inside the case's declared output
  path, whose file type (device, FIFO, folder) must stay; nothing new beside the folder;
- the project database unchanged: row counts of every table, the settings, and
  ``PRAGMA integrity_check`` = ok;
- peak resident memory of the child under 1.5 GB (``ru_maxrss`` counts every page the
  child touches, those it still shares with the parent included: ~170 MB at the start);
  files that must be refused unread add at most ``unread_mb`` to the parent's;
- not hung: a child still running after TIMEOUT_S seconds is killed and fails as "hung"
  (a guard against blocking, far above any case's time; how fast the cases are is
  measured by evaluation/bench_hostile.py, not asserted here).

ACCEPTED cases are hostile files the library rightly imports (a source it must not read
is left out and listed; controls in a source become spaces): exit 0, yet no traceback, no
raw control character, no output line an attacker could fake (``Error: ...``), nothing
written outside the project, bounded memory, not hung, and the case's own check.

A case costs a project copy (~200 KB), its files (sparse or streamed, so cheap), a fork
and the command: well under a second for almost all, seconds for the 2-million-element
files (evaluation/results/bench_hostile.md has the times). A case that hangs is killed
after TIMEOUT_S seconds and fails as "hung"; one that passes MEMORY_LIMIT_KB is killed at
once and fails as "memory".
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import stat
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.ingest.controls import CONTROLS
from tests.builders.hostile import (
    ACCEPTED,
    CONTROL_QDPX,
    REFUSED,
    Case,
    Ctx,
    build_project,
)

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or not Path("/proc/self/status").exists(),
    reason="the harness forks and reads memory use from /proc (Linux)")

MEMORY_LIMIT_KB = 1536 * 1024  # 1.5 GB, as ru_maxrss reports it (KB on Linux)
#: A child still running after this many seconds is stopped as hung (a file that blocks,
#: such as a FIFO): a guard, not a speed target (see evaluation/bench_hostile.py).
TIMEOUT_S = 120.0
#: Address space the child may add to what it inherits: a backstop, so that a runaway
#: read fails inside the child rather than exhausting the machine between two polls.
ADDRESS_SPACE_HEADROOM = 4 * 1024**3
#: SQLite files whose bytes change when the database is merely opened (compared by content).
DB_FILES = ("project.sqlite", "project.sqlite-wal", "project.sqlite-shm",
            "project.sqlite-journal")
#: case id -> (the child's peak resident memory in KB, its run time in seconds)
PEAKS: dict[str, tuple[int, float]] = {}


# --------------------------------------------------------------------------- the project


@pytest.fixture(scope="module")
def base_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project: the demo codebook, one transcript and two coders' seed codes."""
    return build_project(tmp_path_factory.mktemp("hostile-interchange"))


@pytest.fixture(scope="module")
def harness_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where children leave their results (outside every case folder); at the end, the
    peak memory over all cases is written there (peaks.json) and printed (``-s``)."""
    folder = tmp_path_factory.mktemp("harness")
    start = time.monotonic()
    yield folder
    if PEAKS:
        worst = max(PEAKS, key=PEAKS.__getitem__)
        (folder / "peaks.json").write_text(json.dumps(PEAKS, indent=1), "utf-8")
        print(f"\nhostile interchange: {len(PEAKS)} cases in {time.monotonic() - start:.0f} s;"
              f" peak memory {PEAKS[worst][0] // 1024} MB ({worst})")


# --------------------------------------------------------------------------- snapshots


def db_state(project: Path) -> dict[str, object]:
    """Row count and a digest of the rows of every table, the settings and SQLite's
    integrity check (the database file's own bytes change when it is merely opened)."""
    conn = sqlite3.connect(project / "project.sqlite")
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out: dict[str, object] = {}
        for t in tables:
            rows = sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"')))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            out[t] = (len(rows), digest)
        out["meta"] = conn.execute("SELECT * FROM meta ORDER BY key").fetchall()
        out["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return out
    finally:
        conn.close()


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root`` (not following links): kind, and for files size, mtime,
    mode, link target and device numbers. Folder mtimes are left out (a temporary file
    made and removed again changes them); the database files are compared by content."""
    out: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            if name in DB_FILES or stat.S_ISDIR(info.st_mode):
                if not name.endswith(("-wal", "-shm", "-journal")):
                    out[rel] = (kind,)
                continue
            target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
            out[rel] = (kind, info.st_size, info.st_mtime_ns, info.st_mode, target,
                        info.st_rdev)
    return out


def tree_changes(before: dict[str, tuple[object, ...]], after: dict[str, tuple[object, ...]],
                 out: str | None, *, written: bool = False) -> list[str]:
    """Paths added, removed or changed, except inside ``out``, whose own kind must stay
    (or which may be anything when ``written``: the command succeeded and wrote it)."""
    changes = []
    for rel in sorted(set(before) | set(after)):
        if out is not None and (rel.startswith(out + "/") or (written and rel == out)):
            continue
        old, new = before.get(rel), after.get(rel)
        if rel == out and old is not None and new is not None:
            old, new = old[:1], new[:1]
        if old != new:
            changes.append(f"{rel}: {old} -> {new}")
    return changes


# --------------------------------------------------------------------------- the forked run


@dataclass(frozen=True)
class Run:
    """What the child did: exit status, output, any uncaught exception, peak memory."""

    exit_code: int | None
    output: str
    stderr: str
    raw: str  # bytes the child wrote to its file descriptors 1 and 2 directly
    exception: str
    peak_kb: int
    base_kb: int
    seconds: float
    killed: str = ""  # "hung" or "memory" when the parent had to stop the child


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _child(words: list[str], cwd: Path, results: Path) -> None:
    """Run the command in the forked child and write what happened to ``results``."""
    fd = os.open(results.with_suffix(".fd"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.chdir(cwd)
    vm = _rss_kb(os.getpid(), "VmSize") * 1024
    if vm:
        resource.setrlimit(resource.RLIMIT_AS, (vm + ADDRESS_SPACE_HEADROOM,) * 2)
    result = CliRunner().invoke(cli, words)
    exc = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        exc = "".join(traceback.format_exception(*result.exc_info))
    results.write_text(json.dumps({"exit_code": result.exit_code, "output": result.output,
                                   "stderr": result.stderr, "exception": exc}), "utf-8")


def run_forked(words: list[str], cwd: Path, results: Path) -> Run:
    """``isp-nlp WORDS`` in a forked child, stopped when it hangs or passes the limit."""
    base = _rss_kb(os.getpid())
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        status = 70
        try:
            _child(words, cwd, results)
            status = 0
        except BaseException:  # noqa: BLE001 - reported through the missing results file
            traceback.print_exc()
        finally:
            os._exit(status)
    killed, pause = "", 0.002
    while True:
        done, _, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if _rss_kb(pid) > MEMORY_LIMIT_KB:
            killed = "memory"
        elif time.monotonic() - start > TIMEOUT_S:
            killed = "hung"
        if killed:
            os.kill(pid, signal.SIGKILL)
            _, _, usage = os.wait4(pid, 0)
            break
        time.sleep(pause)
        pause = min(pause * 1.5, 0.02)
    seconds = time.monotonic() - start
    raw_path = results.with_suffix(".fd")
    raw = raw_path.read_text("utf-8", errors="replace") if raw_path.exists() else ""
    data = json.loads(results.read_text("utf-8")) if results.exists() else {}
    return Run(exit_code=data.get("exit_code"), output=data.get("output", ""),
               stderr=data.get("stderr", ""), raw=raw, exception=data.get("exception", ""),
               peak_kb=usage.ru_maxrss, base_kb=base, seconds=seconds, killed=killed)


def prepare(case: Case, base_project: Path, tmp_path: Path) -> Ctx:
    """A private copy of the project in the case folder."""
    project = tmp_path / "project"
    shutil.copytree(base_project, project)
    return Ctx(root=tmp_path, project=project)


def execute(case: Case, ctx: Ctx, words: list[str], harness_dir: Path) -> Run:
    """Run ``words`` for ``case`` and remember its peak memory."""
    results = harness_dir / f"{case.id}.json"
    results.unlink(missing_ok=True)
    run = run_forked(words, ctx.root, results)
    PEAKS[case.id] = (run.peak_kb, round(run.seconds, 2))
    return run


def describe(case: Case, run: Run) -> str:
    """What the case tests and what its child did, for a failure message."""
    return (f"[{case.what}] exit {run.exit_code}, {run.seconds:.1f} s, "
            f"peak {run.peak_kb // 1024} MB "
            f"(parent {run.base_kb // 1024} MB){', killed: ' + run.killed if run.killed else ''}"
            f"\n--- output:\n{run.output}--- fd 1/2:\n{run.raw}--- exception:\n{run.exception}")


def check_resources(case: Case, run: Run) -> None:
    """Not hung, peak memory under the limit (and under ``unread_mb`` more than the
    parent's for files that must be refused unread)."""
    said = describe(case, run)
    assert run.killed != "hung", f"hung: killed after {TIMEOUT_S:g} s\n{said}"
    assert run.killed != "memory" and run.peak_kb < MEMORY_LIMIT_KB, (
        f"memory: peak {run.peak_kb // 1024} MB >= 1.5 GB\n{said}")
    if case.unread_mb is not None:
        assert run.peak_kb - run.base_kb < case.unread_mb * 1024, (
            f"the file was read: peak {run.peak_kb // 1024} MB, parent {run.base_kb // 1024} "
            f"MB, allowed {case.unread_mb} MB more\n{said}")


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in REFUSED])
def test_hostile_interchange_is_refused_in_one_line(
        case: Case, base_project: Path, tmp_path: Path, harness_dir: Path) -> None:
    """Exit 2, one line, no traceback or control characters, nothing written, bounded memory."""
    ctx = prepare(case, base_project, tmp_path)
    words = ["--project", str(ctx.project), *case.build(ctx)]
    db_before = db_state(ctx.project)
    files_before = tree(tmp_path)
    beside_before = sorted(os.listdir(tmp_path.parent))
    run = execute(case, ctx, words, harness_dir)
    check_resources(case, run)
    output = run.output + run.raw
    assert "Traceback" not in output + run.exception, describe(case, run)
    assert run.exit_code == 2, describe(case, run)
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), describe(case, run)
    assert not CONTROLS.search(output), f"raw control characters: {output!r}"
    changes = tree_changes(files_before, tree(tmp_path), case.out)
    assert changes == [], describe(case, run)
    assert sorted(os.listdir(tmp_path.parent)) == beside_before
    assert db_state(ctx.project) == db_before
    if case.check is not None:
        case.check(ctx)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ACCEPTED])
def test_hostile_files_the_library_rightly_accepts_are_handled_safely(
        case: Case, base_project: Path, tmp_path: Path, harness_dir: Path) -> None:
    """Exit 0, yet: no traceback, no raw control character, no line an attacker could fake
    ("Error: ..."), nothing written outside the project, bounded memory, and the case's
    own check (an outside file's text or the environment was not imported ...)."""
    ctx = prepare(case, base_project, tmp_path)
    words = ["--project", str(ctx.project), *case.build(ctx)]
    files_before = {k: v for k, v in tree(tmp_path).items() if not k.startswith("project/")}
    run = execute(case, ctx, words, harness_dir)
    check_resources(case, run)
    output = run.output + run.raw
    assert "Traceback" not in output + run.exception, describe(case, run)
    assert run.exit_code == 0, describe(case, run)
    assert not CONTROLS.search(output), f"raw control characters: {output!r}"
    assert not [line for line in output.splitlines() if line.startswith("Error:")], output
    files_after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("project/")}
    changes = tree_changes(files_before, files_after, case.out, written=True)
    assert changes == [], describe(case, run)
    assert db_state(ctx.project)["integrity"] == "ok"
    if case.check is not None:
        case.check(ctx)


def test_the_harness_sees_a_clean_import(base_project: Path, tmp_path: Path,
                                         harness_dir: Path) -> None:
    """The control: a clean archive imports (exit 0) and changes the project, so the
    checks above are not vacuous; the child's peak memory is measured."""
    ctx = prepare(CONTROL_QDPX, base_project, tmp_path)
    words = ["--project", str(ctx.project), *CONTROL_QDPX.build(ctx)]
    before = db_state(ctx.project)
    run = execute(CONTROL_QDPX, ctx, words, harness_dir)
    assert run.exit_code == 0, describe(CONTROL_QDPX, run)
    assert db_state(ctx.project) != before
    assert 0 < run.peak_kb < MEMORY_LIMIT_KB


def test_the_suite_is_large_and_spread_over_the_families() -> None:
    ids = [c.id for c in REFUSED]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
    families = {i.split("-")[0] for i in ids}
    assert {"qdpx", "qde", "qdc", "dedoose", "xlsx", "atlas", "names", "key",
            "out"} <= families

