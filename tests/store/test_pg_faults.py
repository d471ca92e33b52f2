"""A PostgreSQL project whose server goes away mid-review: one line naming the coder's
last acknowledged decision, exit status 2, no traceback; running the same command again
records exactly the decisions not yet made, none twice (also when the connection drops
during a COMMIT that landed). A held write lock is waited for visibly, as on SQLite."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.errors import AlreadyDecided
from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.records import Decision
from isp_nlp.store.backend import PgError
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project
from isp_nlp.store.moves import push_project
from isp_nlp.store.postgres import WRITE_LOCK, PgConnection
from tests.builders.coded_projects import coded_project
from tests.builders.postgres import PgServer

ITEMS = 14  # the turns of site2, left uncoded: the review queue of a new coder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project, _, _ = coded_project(tmp_path_factory.mktemp("faults"), leave_out="site2")
    with open_project(project) as store:
        train_project(store)
        suggest_project(store)
    return project


@pytest.fixture
def project(built: Path, pg_url: str, tmp_path: Path) -> Path:
    """The trained project, pushed to a new database, its folder switched to it."""
    folder = Path(shutil.copytree(built, tmp_path / "project"))
    push_project(folder, pg_url, switch=True)
    return folder


def _review(project: Path, *args: str, stdin: str | None = None) -> Result:
    """A review as the connection's login (the test server's superuser): on PostgreSQL
    a coder records under their own login."""
    return CliRunner().invoke(cli, ["--project", str(project), "review", "--coder", "postgres",
                                    *args], input=stdin)


def _decisions(project: Path) -> list[tuple[str, str]]:
    with open_project(project) as store:
        return [(r[0], r[1]) for r in store.conn.execute(
            "SELECT item_key, action FROM log WHERE coder = 'postgres' ORDER BY id")]


def _after_decisions(monkeypatch: pytest.MonkeyPatch, n: int,
                     then: Callable[[], Any]) -> None:
    """Run ``then`` once ``n`` decisions were recorded (and acknowledged)."""
    record = DecisionLog.record
    made = []

    def counting(self: DecisionLog, decision: Decision) -> int:
        log_id = record(self, decision)
        made.append(log_id)
        if len(made) == n:
            then()
        return log_id

    monkeypatch.setattr(DecisionLog, "record", counting)


def _one_line(result: Result, last_segment: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    error = [line for line in lines if line.startswith("Error:")]
    assert len(error) == 1 and error[0] == lines[-1], result.output
    assert error[0].startswith("Error: the server went away; your last acknowledged "
                               "decision was accept on site2 #"), error[0]
    assert f"(segment {last_segment}," in error[0]
    assert error[0].endswith("; run the same command to resume")


def _segment(project: Path, item_key: str) -> str:
    with open_project(project) as store:
        return str(store.conn.execute("SELECT segment_id FROM log WHERE item_key = ?",
                                      (item_key,)).fetchone()[0])


@pytest.mark.parametrize("how", ["terminate", "restart"])
def test_the_server_going_away_mid_line_review_is_one_line_and_resumes(
        project: Path, pg_url: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch,
        how: str) -> None:
    cut = (lambda: pg_server.terminate(pg_url)) if how == "terminate" else pg_server.restart
    _after_decisions(monkeypatch, 5, cut)
    first = _review(project, "--line", stdin="a" * ITEMS)
    made = _decisions(project)
    assert len(made) == 5
    _one_line(first, _segment(project, made[-1][0]))
    monkeypatch.undo()
    again = _review(project, "--line", stdin="a" * ITEMS)  # the same command again
    assert again.exit_code == 0, again.output
    made = _decisions(project)
    assert len(made) == ITEMS and len({key for key, _ in made}) == ITEMS


def test_the_server_going_away_mid_scripted_review_keeps_every_decision(
        project: Path, pg_url: str, pg_server: PgServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _after_decisions(monkeypatch, 3, lambda: pg_server.terminate(pg_url))
    first = _review(project, "--script", "a,r,a,a,r,a")
    made = _decisions(project)
    assert [a for _, a in made] == ["accept", "reject", "accept"]
    assert "accept on site2" in first.output and first.exit_code == 2
    monkeypatch.undo()
    again = _review(project, "--script", "a,r,a")  # what the first run had left
    assert again.exit_code == 0, again.output
    made = _decisions(project)
    assert [a for _, a in made] == ["accept", "reject", "accept"] * 2
    assert len({key for key, _ in made}) == 6


def test_a_commit_whose_fate_is_unknown_is_not_recorded_twice(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection drops during the 4th decision's COMMIT, which landed: the message
    names that decision, and the same command again does not record it twice."""
    execute = PgConnection.execute
    commits = []

    def dropping(self: PgConnection, sql: str, parameters: Any = None) -> Any:
        out = execute(self, sql, parameters)
        if sql == "COMMIT":
            commits.append(sql)
            if len(commits) == 4:
                self.raw.close()  # the acknowledgement never arrives
                raise PgError("server closed the connection unexpectedly", "08006")
        return out

    monkeypatch.setattr(PgConnection, "execute", dropping)
    first = _review(project, "--line", stdin="a" * ITEMS)
    monkeypatch.undo()
    made = _decisions(project)
    assert len(made) == 4  # the 4th landed although its process never heard so
    _one_line(first, _segment(project, made[-1][0]))
    again = _review(project, "--line", stdin="a" * ITEMS)
    assert again.exit_code == 0, again.output
    made = _decisions(project)
    assert len(made) == ITEMS and len({key for key, _ in made}) == ITEMS


def test_a_server_that_stays_away_is_answered_from_what_the_run_heard(
        project: Path, pg_url: str, pg_server: PgServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from isp_nlp.errors import ProjectError
    from isp_nlp.store import decisions

    def unreachable(url: str) -> None:
        raise ProjectError("cannot connect")

    def cut() -> None:
        pg_server.terminate(pg_url)
        monkeypatch.setattr(decisions.postgres, "connect", unreachable)

    _after_decisions(monkeypatch, 2, cut)
    result = _review(project, "--script", "a,a,a")
    monkeypatch.undo()
    made = _decisions(project)
    assert len(made) == 2 and result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: the server went away; your last acknowledged decision was accept (segment "
        f"{_segment(project, made[-1][0])}, item {made[-1][0][:12]}, log id "
        f"{_log_id(project, made[-1][0])}); run the same command to resume")


def _log_id(project: Path, item_key: str) -> int:
    with open_project(project) as store:
        return int(store.conn.execute("SELECT id FROM log WHERE item_key = ?",
                                      (item_key,)).fetchone()[0])


def test_recording_one_decision_twice_is_refused(project: Path) -> None:
    with open_project(project) as store:
        segment = store.conn.execute(
            "SELECT s.id FROM segments s JOIN transcripts t ON t.id = s.transcript_id"
            " WHERE t.document = 'site2' ORDER BY s.idx LIMIT 1").fetchone()[0]
        decision = Decision(coder="postgres", item_key="k1", segment_id=segment, action="accept",
                            codes=("training",), model_id="m")
        log = DecisionLog(store)
        log.record(decision)
        with pytest.raises(AlreadyDecided):
            log.record(decision)
        with pytest.raises(AlreadyDecided):
            log.record(Decision(coder="postgres", item_key="k1", segment_id=segment,
                                action="reject", codes=(), model_id="m"))
    assert len(_decisions(project)) == 1


def test_a_lock_held_by_another_connection_is_announced_then_one_line(
        project: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    monkeypatch.setenv("ISP_NLP_LOCK_TIMEOUT", "2")
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
        result = _review(project, "--script", "a")
    assert result.exit_code == 2, result.output
    assert "Waiting for another isp-nlp process to finish writing" in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "longer than the wait (2 s)" in result.output
    assert _decisions(project) == []
    assert _review(project, "--script", "a").exit_code == 0
    assert len(_decisions(project)) == 1


def test_the_full_screen_review_closes_and_hands_the_failure_on(
        project: Path, pg_url: str, pg_server: PgServer) -> None:
    import asyncio

    from isp_nlp.review.run import project_review
    from isp_nlp.review.screen import ReviewApp

    with open_project(project) as store:
        app = ReviewApp(project_review(store, "postgres"))

        async def go() -> None:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.press("a", "a")
                pg_server.terminate(pg_url)
                await pilot.press("a")
                await pilot.pause()

        asyncio.run(go())
        assert isinstance(app.failure, PgError) and app.failure.sqlstate
        assert app.failure.sqlstate.startswith(("08", "57P"))
    assert len(_decisions(project)) == 2


def test_the_server_going_away_mid_blind_review_names_the_last_blind_code(
        project: Path, pg_url: str, pg_server: PgServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from isp_nlp.store.database import Store

    record = Store.record_blind
    made: list[int] = []

    def counting(self: Store, *args: Any, **kwargs: Any) -> int:
        made.append(record(self, *args, **kwargs))
        if len(made) == 2:
            pg_server.terminate(pg_url)
        return made[-1]

    monkeypatch.setattr(Store, "record_blind", counting)
    result = _review(project, "--blind", "--script", "e:training,e:coaching,e:funding")
    monkeypatch.undo()
    assert result.exit_code == 2 and "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: the server went away; your last acknowledged decision "
                           "was blind on ") and f"log id {made[-1]})" in last, last
    with open_project(project) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM log WHERE coder = 'postgres' AND"
                                  " action = 'blind'").fetchone()[0] == 2
