"""A project's team on PostgreSQL: group roles and grants, impersonation refused by the
server, and blindness during an open audit enforced by row-level security."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from isp_nlp.errors import IspNlpError
from isp_nlp.records import Decision
from isp_nlp.store import team
from isp_nlp.store.backend import ChangeRefused, PgError
from isp_nlp.store.certificates import save_certificate
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.failures import explain_database_error
from isp_nlp.store.folder import init_project, open_project
from isp_nlp.store.postgres import POINTER_NAME, write_pointer
from tests.builders.postgres import as_user
from tests.builders.transcripts import make_transcript

psycopg = pytest.importorskip("psycopg")


def open_as(project: Path, name: str, tmp_path: Path) -> Store:
    """The project opened through a pointer whose URL logs in as ``name``."""
    folder = tmp_path / f"as_{name}"
    folder.mkdir(exist_ok=True)
    url = (project / POINTER_NAME).read_text().splitlines()[-1]
    write_pointer(folder / POINTER_NAME, as_user(url, name))
    return open_project(folder)


@pytest.fixture
def project(pg_url: str, tmp_path: Path) -> Iterator[Path]:
    """A PostgreSQL project of one transcript; ana and ben code, vic views."""
    folder = tmp_path / "project"
    init_project(folder, embedder="hashing-256", database=pg_url)
    with open_project(folder) as store:
        store.add_transcripts([(*make_transcript("doc1", n=6), "turn")])
        team.add_member(store, "ana")
        team.add_member(store, "ben")
        team.add_member(store, "vic", "viewer")
    yield folder


def _decide(store: Store, coder: str, segment: str, code: str = "training") -> int:
    return DecisionLog(store).record(Decision(
        coder=coder, item_key=f"m:{segment}", segment_id=segment, action="accept",
        codes=(code,), model_id="m"))


def _raw(url: str, name: str) -> psycopg.Connection:
    return psycopg.connect(as_user(url, name), autocommit=True)


def test_add_coder_creates_a_login_role_in_one_group(project: Path, pg_url: str) -> None:
    with open_project(project) as store:
        names = team.groups(store.conn)
        assert names["coder"].startswith("isp_test_") and names["coder"].endswith("_coder")
        assert {(m["name"], m["role"]) for m in team.members(store)} >= {
            ("ana", "coder"), ("ben", "coder"), ("vic", "viewer"), ("postgres", "owner")}
        login = store.conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'ana'")
        assert login.fetchone()[0] is True
        # again, as a viewer: set up again (idempotent) and moved, not added twice
        assert team.add_member(store, "ana", "viewer")["created"] is False
        assert {"name": "ana", "role": "viewer"} in team.members(store)
        assert {"name": "ana", "role": "coder"} not in team.members(store)
        assert team.remove_member(store, "ana") is True
        assert all(m["name"] != "ana" for m in team.members(store))
        assert team.remove_member(store, "ana") is False
        owner = store.conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'log'")
        assert owner.fetchone()[0] == names["owner"]


@pytest.mark.parametrize("name", ["", "pg_monitor", "isp_x", "public", "a b", "x;drop", "é"])
def test_a_name_that_cannot_be_a_role_is_refused(project: Path, name: str) -> None:
    with open_project(project) as store, pytest.raises(team.TeamError, match="cannot be"):
        team.add_member(store, name)


def test_a_password_is_sent_hashed(project: Path) -> None:
    with open_project(project) as store:
        team.add_member(store, "pat", password="s3cret words")
        stored = store.conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'pat'").fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$") and "s3cret" not in stored


def test_the_server_refuses_a_coder_writing_as_another(project: Path, pg_url: str,
                                                       tmp_path: Path) -> None:
    with open_as(project, "ben", tmp_path) as ben:
        ben_log = _decide(ben, "ben", "doc1-1")
    with _raw(pg_url, "ana") as ana:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            ana.execute("INSERT INTO log(coder, action, detail, at)"
                        " VALUES ('ben', 'accept', '{}', 'now')")
        assert ana.execute("UPDATE annotations SET retracted_by = NULL"
                           " WHERE coder = 'ben'").rowcount == 0
        assert ana.execute("DELETE FROM notes WHERE coder = 'ben'").rowcount == 0
        ana.execute("INSERT INTO annotations(segment_id, coder, dimension, label, source,"
                    " created_at) VALUES ('doc1-3', 'ana', 'code', 'trust', 'assisted', 'x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            ana.execute("UPDATE annotations SET coder = 'ben' WHERE coder = 'ana'")
        # her own rows are hers to write
        ana.execute("INSERT INTO log(coder, action, detail, at) VALUES ('ana', 'memo', '{}', 'x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            ana.execute("DELETE FROM log WHERE id = %s", (ben_log,))
    with open_as(project, "ana", tmp_path) as ana_store:
        with pytest.raises(PgError) as refused:
            _decide(ana_store, "ben", "doc1-3")
        assert "only its own decisions" in str(explain_database_error(refused.value, "p"))
        with pytest.raises(IspNlpError, match="connected as ana.*connect as ben"):
            team.recording_coder(ana_store, "ben")
        assert team.recording_coder(ana_store, None) == "ana"


def test_an_undo_the_server_does_not_apply_is_reported(project: Path, tmp_path: Path) -> None:
    # the owner imported a decision of ana's whose annotations are ben's (bad data)
    with open_project(project) as owner:
        log_id = _decide(owner, "ana", "doc1-1")
        owner.conn.execute("UPDATE annotations SET coder = 'ben' WHERE created_by = ?",
                           (log_id,))
    with open_as(project, "ana", tmp_path) as ana, pytest.raises(ChangeRefused,
                                                                 match="0 of the 1"):
        DecisionLog(ana).undo_last("ana")
    with open_project(project) as owner:  # nothing was written
        assert owner.conn.execute("SELECT COUNT(*) FROM log WHERE action = 'undo'"
                                  ).fetchone()[0] == 0


def test_a_viewer_reads_everything_and_writes_nothing(project: Path, pg_url: str,
                                                      tmp_path: Path) -> None:
    with open_project(project) as owner:
        _decide(owner, "ben", "doc1-1")
        owner.save_audit(seed=1, n=1, documents=["doc1"], segment_ids=["doc1-1"])
    with _raw(pg_url, "vic") as vic:
        assert vic.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 1
        for sql in ("INSERT INTO log(coder, action, detail, at) VALUES ('vic','memo','{}','x')",
                    "UPDATE segments SET codable = 0", "DELETE FROM annotations"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                vic.execute(sql)
    with open_as(project, "vic", tmp_path) as vic_store, pytest.raises(PgError) as refused:
        _decide(vic_store, "vic", "doc1-3")
    assert "to log: your role may not make it" in str(explain_database_error(refused.value, "p"))


def test_an_owner_does_everything(project: Path, pg_url: str, tmp_path: Path) -> None:
    with open_project(project) as store:
        team.add_member(store, "olga", "owner")
        store.save_audit(seed=1, n=1, documents=["doc1"], segment_ids=["doc1-1"])
    with open_as(project, "ben", tmp_path) as ben:
        _decide(ben, "ben", "doc1-1")
    with open_as(project, "olga", tmp_path) as olga:
        assert olga.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 1
        _decide(olga, "ben", "doc1-3")  # an owner may record for others (imports)
        olga.add_transcripts([(*make_transcript("doc2", n=2, sha="b" * 64), "turn")])
        olga.remove_document("doc2", coder="olga")
        olga.conn.execute("ALTER TABLE meta ADD COLUMN note TEXT")  # the schema is hers
        newcomer = f"carl_{uuid.uuid4().hex[:8]}"  # logins are server-wide: a new name
        with pytest.raises(team.TeamError, match="may not create roles"):
            team.add_member(olga, newcomer)
        team.add_member(olga, "ben", "viewer")  # she manages the team
        with open_project(project) as store:
            store.conn.execute("ALTER ROLE olga CREATEROLE")
        team.add_member(olga, newcomer)
        assert {"name": newcomer, "role": "coder"} in team.members(olga)
    with open_as(project, "ana", tmp_path) as ana, pytest.raises(team.TeamError,
                                                                 match="only the project"):
        team.add_member(ana, "eve")


def test_blind_rows_are_hidden_from_coders_until_the_audit_is_certified(
        project: Path, pg_url: str, tmp_path: Path) -> None:
    with open_project(project) as owner:
        audit = owner.save_audit(seed=1, n=1, documents=["doc1"], segment_ids=["doc1-1"])
        segment = owner.segments_by_id(["doc1-1"])[0]
        tid = owner.conn.execute("SELECT id FROM transcripts").fetchone()[0]
        for seg in ("doc1-1", "doc1-3"):
            owner.conn.execute("INSERT INTO suggestions VALUES (?, 'm', 'code', 'training',"
                               " 0.9, 1)", (seg,))
            owner.conn.execute("INSERT INTO review_scores VALUES ('m', ?, 0.5)", (seg,))
            owner.conn.execute("INSERT INTO suggestion_evidence VALUES ('m', ?, 'code', 0,"
                               " 'x', 0.5, 't', '[]')", (seg,))
    with open_as(project, "ben", tmp_path) as ben:
        _decide(ben, "ben", "doc1-1")
        _decide(ben, "ben", "doc1-3")
        ben.conn.execute('INSERT INTO codings(transcript_id, start, "end", dimension, code,'
                         " coder, source, guid, created_at) VALUES (?, ?, ?, 'code',"
                         " 'training', 'ben', 'qda', '', 'x')",
                         (tid, segment.start + 2, segment.end + 30))
        ben.conn.execute("INSERT INTO notes(guid, title, text, coder, document, start, \"end\","
                         " created_at) VALUES ('g', 't', 'a hint', 'ben', 'doc1', ?, ?, 'x')",
                         (segment.start, segment.end))
    with open_as(project, "ana", tmp_path) as ana:
        _decide(ana, "ana", "doc1-1")

    def seen(name: str) -> dict[str, object]:
        with _raw(pg_url, name) as conn:
            def rows(sql: str) -> list:
                return [r[0] for r in conn.execute(sql)]
            return {
                "annotations": sorted(rows("SELECT coder || ':' || segment_id FROM annotations")),
                "log": sorted(rows("SELECT coder || ':' || segment_id FROM log")),
                "codings": rows("SELECT coder FROM codings"),
                "notes": rows("SELECT coder FROM notes"),
                **{t: sorted(rows(f"SELECT segment_id FROM {t}"))
                   for t in team.SEGMENT_TABLES},
            }

    blind = seen("ana")
    assert blind["annotations"] == ["ana:doc1-1", "ben:doc1-3"]
    assert blind["log"] == ["ana:doc1-1", "ben:doc1-3"]
    assert blind["codings"] == [] and blind["notes"] == []
    assert all(blind[t] == ["doc1-3"] for t in team.SEGMENT_TABLES)
    everything = {"annotations": ["ana:doc1-1", "ben:doc1-1", "ben:doc1-3"],
                  "log": ["ana:doc1-1", "ben:doc1-1", "ben:doc1-3"], "codings": ["ben"],
                  "notes": ["ben"], **{t: ["doc1-1", "doc1-3"] for t in team.SEGMENT_TABLES}}
    assert seen("vic") == everything  # viewers are not blinded
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no way around it
        with _raw(pg_url, "ana") as conn:
            conn.execute("CREATE TEMP TABLE audit_segments (audit_id int, segment_id text)")
            conn.execute("INSERT INTO certificates(model_id, audit_id, target, detail,"
                         " created_at) VALUES ('m', %s, 'code', '{}', 'x')", (audit,))
    with open_project(project) as owner:
        save_certificate(owner, "m", audit, "code", {"run": 1})
    after = seen("ana")
    assert after == everything


def test_a_temporary_table_does_not_lift_the_blind(project: Path, pg_url: str,
                                                   tmp_path: Path) -> None:
    with open_project(project) as owner:
        owner.save_audit(seed=1, n=1, documents=["doc1"], segment_ids=["doc1-1"])
    with open_as(project, "ben", tmp_path) as ben:
        _decide(ben, "ben", "doc1-1")
    with _raw(pg_url, "ana") as ana:
        ana.execute("CREATE TEMP TABLE audit_segments (audit_id int, segment_id text)")
        ana.execute("SET search_path = pg_temp, public")
        assert ana.execute("SELECT COUNT(*) FROM public.annotations").fetchone()[0] == 0


def test_teams_need_postgres(tmp_path: Path) -> None:
    init_project(tmp_path / "p", embedder="hashing-256")
    with open_project(tmp_path / "p") as store:
        for call in (lambda: team.add_member(store, "ana"), lambda: team.members(store),
                     lambda: team.remove_member(store, "ana")):
            with pytest.raises(team.TeamError, match="teams need a project on PostgreSQL"):
                call()
        with pytest.raises(IspNlpError, match="--coder"):
            team.recording_coder(store, None)
        assert team.recording_coder(store, "zoe") == "zoe"
