"""`isp-nlp push`, `pull`, and `check` and `backup` on both backends, from the command line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from tests.builders.moved_projects import moved_project


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return moved_project(tmp_path_factory.mktemp("moved"))


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _checksum(result: Result) -> str:
    assert result.exit_code == 0, result.output
    found = re.search(r"coded-data checksum sha256\s+([0-9a-f]{64})", result.output)
    assert found, result.output
    return found.group(1)


def test_push_pull_check_and_backup_from_the_command_line(built: Path, pg_url: str,
                                                          tmp_path: Path) -> None:
    local = Path(shutil.copytree(built, tmp_path / "local"))
    want = _checksum(_run("--project", local, "check"))
    pushed = _run("push", local, pg_url)
    assert pushed.exit_code == 0, pushed.output
    assert re.search(r"Copied \d+ rows of \d+ tables to\s+postgresql://", pushed.output)
    assert f"isp-nlp init NEW_FOLDER --database {pg_url}" in " ".join(pushed.output.split())
    again = _run("push", local, pg_url)
    assert again.exit_code == 2
    assert again.output.count("\n") == 1 and "is not empty" in again.output
    assert "Traceback" not in again.output
    assert _run("pull", pg_url, tmp_path / "archive").exit_code == 0
    assert _checksum(_run("--project", tmp_path / "archive", "check")) == want
    there = tmp_path / "there"
    assert _run("init", there, "--database", pg_url).exit_code == 0
    assert _checksum(_run("--project", there, "check")) == want
    backup = _run("--project", there, "backup", tmp_path / "bk")
    assert backup.exit_code == 0, backup.output
    assert _checksum(_run("--project", tmp_path / "bk", "check")) == want
    pulled = _run("pull", there, tmp_path / "from-folder")
    assert pulled.exit_code == 0, pulled.output
    assert _checksum(_run("--project", tmp_path / "from-folder", "check")) == want


def test_push_switch_leaves_a_folder_that_opens_the_copy(built: Path, pg_url: str,
                                                         tmp_path: Path) -> None:
    local = Path(shutil.copytree(built, tmp_path / "local"))
    want = _checksum(_run("--project", local, "check"))
    result = _run("push", local, pg_url, "--switch")
    assert result.exit_code == 0, result.output
    assert "now opens the project on PostgreSQL" in " ".join(result.output.split())
    assert _checksum(_run("--project", local, "check")) == want
    log = _run("--project", local, "log", "--coder", "zoe")
    assert log.exit_code == 0 and "accept" in log.output
