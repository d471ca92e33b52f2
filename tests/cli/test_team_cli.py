"""`isp-nlp team` and the commands of a team on PostgreSQL: coders record as their own
database login, and what the server refuses is one sentence and exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.store.folder import open_project
from isp_nlp.store.postgres import POINTER_NAME, write_pointer
from tests.builders.demo_subset import DOCUMENTS, seed_codes
from tests.builders.paths import CORPUS
from tests.builders.postgres import as_user


def _invoke(project: Path, *args: str, code: int = 0, given: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], input=given)
    assert result.exit_code == code, f"{args}: {result.output}"
    assert "Traceback" not in result.output
    return result


def _refused(result: Result) -> str:
    """The one line of a refused command (exit 2)."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_teams_need_a_postgres_project(tmp_path: Path) -> None:
    project = tmp_path / "p"
    CliRunner().invoke(cli, ["init", str(project), "--embedder", "hashing-256"])
    for args in (("team", "add-coder", "ana"), ("team", "list"), ("team", "remove", "ana")):
        line = _refused(_invoke(project, *args, code=2))
        assert "teams need a project on PostgreSQL" in line
    assert "--coder" in _refused(_invoke(project, "review", "--script", "q", code=2))


def test_the_owner_manages_the_team(pg_url: str, tmp_path: Path) -> None:
    project = tmp_path / "p"
    _invoke(tmp_path, "init", str(project), "--embedder", "hashing-256", "--database", pg_url)
    added = _invoke(project, "team", "add-coder", "ana").output  # logins are server-wide:
    assert "ana made coder" in added or "ana created and made coder" in added  # maybe made
    _invoke(project, "team", "add-coder", "vic", "--role", "viewer")
    secret = "correct horse battery"
    added = _invoke(project, "team", "add-coder", "pia", "--password-prompt",
                    given=f"{secret}\n{secret}\n")
    assert secret not in added.output and "pia " in added.output and "made coder" in added.output
    listed = _invoke(project, "team", "list").output.splitlines()
    assert "owner   postgres" in listed and "coder   ana" in listed and "viewer  vic" in listed
    people = json.loads(_invoke(project, "team", "list", "--format", "json").output)
    assert {"name": "pia", "role": "coder"} in people
    assert "vic is off" in _invoke(project, "team", "remove", "vic").output
    assert "was not on" in _invoke(project, "team", "remove", "vic").output
    assert "cannot be a coder's database role" in _refused(
        _invoke(project, "team", "add-coder", "ana; DROP TABLE log", code=2))
    write_pointer(project / POINTER_NAME, as_user(pg_url, "ana"))
    assert "only the project's owners" in _refused(
        _invoke(project, "team", "add-coder", "eve", code=2))
    # a coder points a folder of their own at the project with the same init
    mine = project.parent / "ana-study"
    _invoke(project.parent, "init", str(mine), "--database", as_user(pg_url, "ana"))
    assert "transcripts: 0" in _invoke(mine, "status").output


@pytest.fixture
def suggested(pg_url: str, tmp_path: Path) -> Path:
    """A PostgreSQL project with a model's suggestions; ana and ben code, vic views."""
    project = tmp_path / "project"
    _invoke(tmp_path, "init", str(project), "--embedder", "hashing-256", "--database", pg_url)
    transcripts = [p for p in sorted((CORPUS / "transcripts").iterdir()) if p.stem in DOCUMENTS]
    _invoke(project, "ingest", *map(str, transcripts), "--skip-speakers", "Interviewer")
    _invoke(project, "codebook", "load", str(CORPUS / "codebook.yaml"))
    _invoke(project, "import-codes", str(seed_codes(tmp_path / "seed.csv")))
    _invoke(project, "train")
    _invoke(project, "suggest")
    for name, role in (("ana", "coder"), ("ben", "coder"), ("vic", "viewer")):
        _invoke(project, "team", "add-coder", name, "--role", role)
    return project


def test_a_coder_records_as_herself_only(suggested: Path, pg_url: str) -> None:
    project = suggested
    _invoke(project, "audit", "draw", "--n", "3", "--seed", "7")  # as the owner
    write_pointer(project / POINTER_NAME, as_user(pg_url, "ana"))
    review = _invoke(project, "review", "--script", "a,r,q")
    assert "Review by ana" in review.output
    line = _refused(_invoke(project, "review", "--coder", "ben", "--script", "a,q", code=2))
    assert "you are connected as ana, so you record decisions as ana; drop --coder or " \
           "connect as ben" in line
    assert "connected as ana" in _refused(_invoke(project, "memo", "a note", "--document",
                                                  DOCUMENTS[0], "--coder", "ben", code=2))
    blind = _invoke(project, "review", "--blind", "--audit", "1", "--script",
                    "e:didactic_training,q")
    assert "Blind review by ana" in blind.output
    with open_project(project) as store:  # as ana: her own rows
        coders = {r[0] for r in store.conn.execute("SELECT coder FROM log WHERE action IN"
                                                   " ('accept', 'reject', 'blind')")}
        assert coders == {"ana"}
    # the server refuses what the client lets through: decisions imported under ben's name
    sheet = project.parent / "sheet.csv"
    _invoke(project, "export-suggestions", "--out", str(sheet), "--coder", "ben")
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["decision"] = "accept"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    line = _refused(_invoke(project, "import-decisions", str(sheet), "--coder", "ben", code=2))
    assert "only its own decisions, codes and notes, not another coder's" in line
    # a viewer reads and reports, and writes nothing
    write_pointer(project / POINTER_NAME, as_user(pg_url, "vic"))
    _invoke(project, "status")
    last = _invoke(project, "review", "--script", "a,q", code=2).output.splitlines()[-1]
    assert last.startswith("Error: ") and "change to log: your role may not make it" in last
