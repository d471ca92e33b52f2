"""Faults a user can run into: a full disk, a damaged database, a bug. One line, exit 2
(exit 1 and a traceback with where to report it, for a genuine bug), nothing half-written."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.store.database import Store, project_db
from isp_nlp.store.failures import explain_database_error
from tests.builders.paths import CORPUS


def _run(project: Path, *args: str):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def _one_line_exit_2(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(("message", "says"), [
    ("database or disk is full", "the disk holding the project is full, so nothing was changed"),
    ("attempt to write a readonly database", "cannot be written"),
    ("database is locked", "another process held the project's write lock"),
    ("database disk image is malformed", "is damaged"),
    ("no such table: segments", "is damaged"),
    ("file is not a database", "is damaged"),
])
def test_each_sqlite_failure_has_its_own_true_message(message: str, says: str) -> None:
    got = str(explain_database_error(sqlite3.OperationalError(message), "p/project.sqlite"))
    assert got.startswith("p/project.sqlite") and says in got
    if "full" in message or "locked" in message:
        assert "backup" not in got  # a healthy database must not be thrown away


def test_a_non_numeric_schema_version_is_damage_not_a_traceback(project: Path) -> None:
    conn = sqlite3.connect(project_db(project))
    conn.execute("UPDATE meta SET value = 'x1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    line = _one_line_exit_2(_run(project, "status"))
    assert "is damaged: its schema version is 'x1'" in line


def test_a_dropped_table_is_damage_not_a_traceback(project: Path) -> None:
    conn = sqlite3.connect(project_db(project))
    conn.execute("DROP TABLE log")
    conn.commit()
    conn.close()
    line = _one_line_exit_2(_run(project, "log"))
    assert "is damaged (no such table: log)" in line


def test_a_bug_shows_its_traceback_and_where_to_report_it(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a, **_k):
        raise KeyError("internal")

    monkeypatch.setattr("isp_nlp.cli.project.project_status", broken)
    result = CliRunner().invoke(cli, ["--project", str(project), "status"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "KeyError: 'internal'" in result.stderr
    assert "This is a bug in isp-nlp" in result.stderr and "please report it" in result.stderr


@pytest.mark.parametrize(("error", "says"), [
    (MemoryError, "ran out of memory"), (RecursionError, "nested too deeply")])
def test_memory_and_recursion_errors_are_one_line(
        project: Path, monkeypatch: pytest.MonkeyPatch, error: type, says: str) -> None:
    def broken(*_a, **_k):
        raise error()

    monkeypatch.setattr("isp_nlp.cli.project.project_status", broken)
    assert says in _one_line_exit_2(_run(project, "status"))


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 600 KB tmpfs, where the test may mount one (root on Linux)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the disk-full test needs a small tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}); the disk-full "
                    "test needs root on Linux")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_during_ingest_says_so_and_changes_nothing(small_disk: Path) -> None:
    project = small_disk / "project"
    assert CliRunner().invoke(cli, ["init", str(project), "--embedder", "hashing-256"]
                              ).exit_code == 0
    big = small_disk.parent / "big.txt"  # outside the small disk
    big.write_text("\n\n".join(f"P{i % 2}: " + f"turn {i} with words " * 40 for i in range(3000)),
                   encoding="utf-8")
    line = _one_line_exit_2(_run(project, "ingest", str(big)))
    assert "the disk holding the project is full, so nothing was changed" in line
    assert "rollback" not in line
    with Store.open(project_db(project)) as store:
        assert store.transcripts() == []
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_held_write_lock_is_waited_for_visibly_then_one_line(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISP_NLP_LOCK_TIMEOUT", "2")
    holder = sqlite3.connect(project_db(project), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the wait
    try:
        result = CliRunner().invoke(cli, ["--project", str(project), "codebook", "load",
                                          str(CORPUS / "codebook.yaml")])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Waiting for another isp-nlp process") and "up to 2 s" in lines[0]
    assert lines[1].startswith("Error: ") and "longer than the wait (2 s)" in lines[1]
    assert len(lines) == 2 and "Traceback" not in result.output
    with Store.open(project_db(project)) as store:
        assert store.codebook() is None


def test_a_lock_released_in_time_is_waited_for_and_the_write_lands(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setenv("ISP_NLP_LOCK_TIMEOUT", "20")
    holder = sqlite3.connect(project_db(project), isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(2.0, lambda: holder.execute("ROLLBACK"))
    timer.start()
    try:
        result = CliRunner().invoke(cli, ["--project", str(project), "codebook", "load",
                                          str(CORPUS / "codebook.yaml")])
    finally:
        timer.join()
        holder.close()
    assert result.exit_code == 0, result.output
    assert "Waiting for another isp-nlp process" in result.output


@pytest.fixture
def read_only_view(project: Path, tmp_path: Path):
    """The project seen through a read-only bind mount (root on Linux), else skipped."""
    view = tmp_path / "ro"
    view.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the read-only test needs a read-only bind mount")
    for args in (["--bind", str(project), str(view)],
                 ["-o", "remount,ro,bind", str(view)]):
        done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", str(view)], check=False, capture_output=True)
            pytest.skip(f"cannot make a read-only bind mount here ({done.stderr.strip()})")
    yield view
    subprocess.run(["umount", str(view)], check=False)


def test_a_read_only_project_reads_and_refuses_writes_truthfully(
        project: Path, read_only_view: Path) -> None:
    codebook = CORPUS / "codebook.yaml"
    assert _run(project, "codebook", "load", str(codebook)).exit_code == 0
    for words in (["status"], ["log"], ["codebook", "show"], ["agreement"]):
        result = _run(read_only_view, *words)
        assert result.exit_code == 0, (words, result.output)
    line = _one_line_exit_2(_run(read_only_view, "codebook", "load", str(codebook)))
    assert "the project folder is read-only" in line and "nothing was changed" in line
    assert "backup" not in line


def _corrupt_a_page(db: Path) -> None:
    """Overwrite the codes table's root page in place (as a failing disk or a stray program
    would), leaving the schema readable."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'codes'").fetchone()[0]
    conn.close()
    with db.open("r+b") as fh:
        fh.seek(size * (page - 1))
        fh.write(b"\xff" * size)


def test_check_and_backup_of_a_healthy_project(project: Path, tmp_path: Path) -> None:
    codebook = CORPUS / "codebook.yaml"
    assert _run(project, "codebook", "load", str(codebook)).exit_code == 0
    result = _run(project, "check")
    assert result.exit_code == 0 and "OK (integrity ok, schema version 12)" in result.output
    copy = tmp_path / "copy"
    result = _run(project, "backup", str(copy))
    assert result.exit_code == 0, result.output
    assert (copy / "models").is_dir()
    assert _run(copy, "check").exit_code == 0
    with Store.open(project_db(copy)) as store:
        assert store.codebook() is not None
    assert "already holds files" in _one_line_exit_2(_run(project, "backup", str(copy)))
    assert "the project itself" in _one_line_exit_2(_run(project, "backup", str(project)))


def test_a_damaged_page_is_found_by_check_and_refuses_writes(project: Path) -> None:
    codebook = CORPUS / "codebook.yaml"
    assert _run(project, "codebook", "load", str(codebook)).exit_code == 0
    _corrupt_a_page(project_db(project))
    result = _run(project, "check")
    assert result.exit_code == 2 and "problem(s), listed above" in result.output
    line = _one_line_exit_2(_run(project, "codebook", "load", str(codebook)))
    assert "is damaged" in line and "nothing was written" in line and "isp-nlp check" in line


def test_a_missing_column_is_reported_by_check(project: Path) -> None:
    conn = sqlite3.connect(project_db(project))
    conn.execute("ALTER TABLE codes DROP COLUMN color")
    conn.commit()
    conn.close()
    result = _run(project, "check")
    assert result.exit_code == 2 and "table 'codes' lacks column(s) color" in result.output
