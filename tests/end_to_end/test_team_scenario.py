"""A team on one PostgreSQL project, each person a separate process connected as their own
database login: the owner imports a .qdpx, trains and draws an audit; two coders review
at the same time, one of them blind on the audit (and the other cannot see those blind
codes while it is open); the owner certifies and reports."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from isp_nlp.store.folder import open_project
from isp_nlp.store.postgres import POINTER_NAME, write_pointer
from tests.builders.demo_subset import DOCUMENTS, seed_codes
from tests.builders.paths import CORPUS, REPO
from tests.builders.postgres import PgServer, as_user

_RUN = uuid.uuid4().hex[:8]  # logins are server-wide: names no other test uses
OWNER, CODER, BLIND = f"owner_{_RUN}", f"carla_{_RUN}", f"dev_{_RUN}"
AUDIT = 4


def _isp(folder: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ISP_NLP_PROJECT": str(folder)}
    return subprocess.Popen([sys.executable, "-m", "isp_nlp", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _ok(folder: Path, *args: str) -> str:
    child = _isp(folder, *args)
    out, _ = child.communicate(timeout=900)
    assert child.returncode == 0, f"{args}: {out}"
    assert "Traceback" not in out
    return out


def _qdpx(tmp: Path) -> Path:
    """A .qdpx of the demo corpus's seed-coded documents, from a local SQLite project."""
    local = tmp / "local"
    _ok(tmp, "init", str(local), "--embedder", "hashing-256")
    transcripts = [p for p in sorted((CORPUS / "transcripts").iterdir()) if p.stem in DOCUMENTS]
    _ok(local, "ingest", *map(str, transcripts), "--skip-speakers", "Interviewer")
    _ok(local, "codebook", "load", str(CORPUS / "codebook.yaml"))
    _ok(local, "import-codes", str(seed_codes(tmp / "seed.csv")))
    out = tmp / "study.qdpx"
    _ok(local, "export", "--out", str(out))
    return out


def _folder(tmp: Path, url: str, login: str) -> Path:
    """A person's own project folder: a pointer to the project, logging in as them."""
    folder = tmp / login
    folder.mkdir()
    write_pointer(folder / POINTER_NAME, as_user(url, login))
    return folder


def test_owner_and_two_coders_work_at_once_under_their_own_logins(
        pg_server: PgServer, tmp_path: Path) -> None:
    import psycopg

    url = pg_server.new_database()
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {OWNER} LOGIN CREATEROLE")
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO {OWNER}')
    qdpx = _qdpx(tmp_path)

    owner = tmp_path / "owner"
    _ok(tmp_path, "init", str(owner), "--embedder", "hashing-256", "--database",
        as_user(url, OWNER))
    imported = _ok(owner, "import", str(qdpx))
    assert "codings:" in imported
    _ok(owner, "train")
    _ok(owner, "suggest")
    for login in (CODER, BLIND):
        _ok(owner, "team", "add-coder", login)
    _ok(owner, "audit", "draw", "--n", str(AUDIT), "--seed", "3")
    with open_project(owner) as store:
        code = store.codebook().codes[0].id  # type: ignore[union-attr]

    # two coders at once, each in a process of their own, as themselves
    coder, blind = _folder(tmp_path, url, CODER), _folder(tmp_path, url, BLIND)
    script = ",".join([f"e:{code}", "e:", f"e:{code}", "e:", "q"])  # e: alone: no code
    runs = [_isp(coder, "review", "--script", "a,r,a,s,a,q"),
            _isp(blind, "review", "--blind", "--audit", "1", "--script", script)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert f"Review by {CODER}" in outputs[0] and f"Blind review by {BLIND}" in outputs[1]

    def blind_codes_seen_by(login: str) -> int:
        with psycopg.connect(as_user(url, login)) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM annotations WHERE coder = %s"
                                    " AND source = 'blind'", (BLIND,)).fetchone()[0])

    assert blind_codes_seen_by(BLIND) >= AUDIT  # every audit segment coded, blind
    assert blind_codes_seen_by(CODER) == 0  # hidden from the other coder while open
    with psycopg.connect(as_user(url, CODER)) as conn:  # and the model's suggestions too
        hidden = conn.execute(
            "SELECT COUNT(*) FROM suggestions s JOIN audit_segments a"
            " ON a.segment_id = s.segment_id").fetchone()[0]
    assert hidden == 0

    certified = _ok(owner, "certify", "--audit", "1")
    assert "certif" in certified.lower()
    assert blind_codes_seen_by(CODER) >= AUDIT  # the certificate ends the blind
    report = tmp_path / "report.html"
    _ok(owner, "report", "--out", str(report))
    assert report.stat().st_size > 10_000
    with open_project(owner) as store:  # the owner sees every row
        by = {row[0]: row[1] for row in store.conn.execute(
            "SELECT coder, COUNT(*) FROM log WHERE action IN ('accept', 'reject', 'blind')"
            " GROUP BY coder")}
    assert by[CODER] == 4 and by[BLIND] == AUDIT
