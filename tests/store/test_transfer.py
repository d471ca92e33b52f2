"""Moving a project between SQLite and PostgreSQL (isp_nlp.store.transfer): push and pull
copy every table and verify it; a failure leaves the target empty; backup and check
work on both backends."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from isp_nlp.errors import ProjectError
from isp_nlp.store.backend import POSTGRES, Connection, dialect, table_columns, table_names
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import init_project, open_project
from isp_nlp.store.moves import pull_project, push_project
from isp_nlp.store.postgres import POINTER_NAME, connect
from isp_nlp.store.transfer import (
    CODED_TABLES,
    coded_checksum,
    row_counts,
)
from tests.builders.moved_projects import moved_project


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return moved_project(tmp_path_factory.mktemp("moved"))


@pytest.fixture
def local(built: Path, tmp_path: Path) -> Path:
    """A private copy of the coded SQLite project."""
    return Path(shutil.copytree(built, tmp_path / "local"))


def _rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, columns by name, rows sorted (bytes as bytes)."""
    out = {}
    for table in table_names(conn):
        columns = sorted(table_columns(conn, table))
        select = ", ".join(f'"{c}"' for c in columns)
        rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                for r in conn.execute(f'SELECT {select} FROM "{table}"')]
        out[table] = sorted(rows, key=repr)
    return out


def _without_models(tables: dict[str, Any]) -> dict[str, Any]:
    """Every table but ``model_files``, which a SQLite project leaves empty (its models'
    files are in models/) and a PostgreSQL project fills."""
    return {t: v for t, v in tables.items() if t != "model_files"}


def _sqlite(folder: Path) -> sqlite3.Connection:
    return sqlite3.connect(folder / "project.sqlite")


def test_push_then_pull_copies_every_row_and_the_checksum(local: Path, pg_url: str,
                                                          tmp_path: Path) -> None:
    before = _rows(_sqlite(local))
    assert all(before[t] for t in ("annotations", "log", "notes", "attributes", "codes",
                                   "codebook", "suggestions", "embeddings", "segments"))
    pushed = push_project(local, pg_url)
    # the SQLite project keeps its models' files in models/, PostgreSQL in model_files
    assert pushed.model_files == 3 and not before["model_files"]
    assert pushed.rows == {t: len(r) for t, r in before.items()} | {"model_files": 3}
    assert (local / "project.sqlite").is_file() and not (local / POINTER_NAME).exists()
    pg = connect(pg_url)
    try:
        assert _without_models(_rows(pg)) == _without_models(before)
        assert coded_checksum(pg) == pushed.checksum == coded_checksum(_sqlite(local))
    finally:
        pg.close()
    pulled = pull_project(pg_url, tmp_path / "back")
    assert pulled.checksum == pushed.checksum and pulled.rows == pushed.rows
    assert _without_models(_rows(_sqlite(tmp_path / "back"))) == _without_models(before)
    assert (tmp_path / "back" / "models").is_dir()


def test_a_pushed_project_gets_new_ids_after_the_copied_ones(local: Path, pg_url: str,
                                                             tmp_path: Path) -> None:
    push_project(local, pg_url)
    last = max(r[0] for r in _sqlite(local).execute("SELECT id FROM log"))
    zoe = _sqlite(local).execute("SELECT COUNT(*) FROM log WHERE coder = 'zoe'").fetchone()[0]
    init_project(tmp_path / "there", database=pg_url)  # the printed next step: attach
    with open_project(tmp_path / "there") as store:
        assert dialect(store.conn) == POSTGRES
        assert DecisionLog(store).event("zoe", "certify", {"x": 1}) == last + 1
        store.set_attributes([("site2", "region", "east")])
        assert len(DecisionLog(store).entries("zoe")) == zoe + 1


def test_switch_makes_the_folder_open_the_postgres_copy(local: Path, pg_url: str) -> None:
    with open_project(local) as store:
        decided = DecisionLog(store).decided("zoe")
    push_project(local, pg_url, switch=True)
    assert (local / POINTER_NAME).is_file() and (local / "project.sqlite.pushed").is_file()
    assert not (local / "project.sqlite").exists()
    assert (local / "models" / "note.txt").is_file()
    with open_project(local) as store:
        assert dialect(store.conn) == POSTGRES
        assert DecisionLog(store).decided("zoe") == decided
        assert store.check() == []


def test_a_target_that_is_not_empty_is_refused_in_one_sentence(local: Path, pg_url: str,
                                                               tmp_path: Path) -> None:
    init_project(tmp_path / "other", database=pg_url)
    with pytest.raises(ProjectError, match=r"is not empty .*copied only into an empty"):
        push_project(local, pg_url)
    pg = connect(pg_url)
    try:
        assert row_counts(pg)["log"] == 0 and row_counts(pg)["meta"] == 2
    finally:
        pg.close()


@pytest.mark.parametrize("bad", ["dangling", "nul"])
def test_a_failure_mid_push_leaves_the_target_empty(local: Path, pg_url: str,
                                                    bad: str) -> None:
    conn = sqlite3.connect(local / "project.sqlite")  # foreign keys off: a damaged row
    if bad == "dangling":  # fails at COMMIT, after every table was copied
        conn.execute("INSERT INTO annotations(segment_id, coder, dimension, label, source,"
                     " created_at) VALUES ('no-such-segment', 'x', 'code', 'a', 's', 't')")
    else:  # PostgreSQL text holds no NUL: fails in the middle of a table
        conn.execute("UPDATE notes SET text = ? WHERE id = 1", ("a\x00b",))
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match="nothing was kept there"):
        push_project(local, pg_url, switch=True)
    pg = connect(pg_url)
    try:
        assert table_names(pg) == []
    finally:
        pg.close()
    assert (local / "project.sqlite").is_file() and not (local / POINTER_NAME).exists()


def test_pull_refuses_a_folder_with_files_and_a_folder_not_on_postgres(
        local: Path, pg_url: str, tmp_path: Path) -> None:
    push_project(local, pg_url)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ProjectError, match="already holds files"):
        pull_project(pg_url, tmp_path / "full")
    with pytest.raises(ProjectError, match="not a project on PostgreSQL"):
        pull_project(local, tmp_path / "out")
    with pytest.raises(ProjectError, match="already a project on PostgreSQL"):
        init_project(tmp_path / "pgp", database=pg_url)
        push_project(tmp_path / "pgp", pg_url)
    assert not (tmp_path / "out").exists()


def test_backup_and_check_on_both_backends_agree(local: Path, pg_url: str,
                                                 tmp_path: Path) -> None:
    push_project(local, pg_url, switch=False)
    init_project(tmp_path / "there", database=pg_url)
    shutil.copytree(local / "models", tmp_path / "there" / "models", dirs_exist_ok=True)
    sums = []
    for folder in (local, tmp_path / "there"):
        out = tmp_path / f"backup-{folder.name}"
        with open_project(folder) as store:
            assert store.check() == []
            written = store.backup(out)
        assert written == out / "project.sqlite"
        assert (out / "models" / "note.txt").is_file()
        with open_project(out) as copy:
            assert copy.check() == []
            sums.append(coded_checksum(copy.conn))
            assert _without_models(row_counts(copy.conn)) == \
                _without_models(row_counts(_sqlite(local)))
    assert sums[0] == sums[1] == coded_checksum(_sqlite(local))


def test_check_on_postgres_counts_rows_pointing_nowhere(local: Path, pg_url: str,
                                                        tmp_path: Path) -> None:
    push_project(local, pg_url, switch=True)
    pg = connect(pg_url)
    try:  # constraints dropped by hand, then a dangling row
        pg.execute("ALTER TABLE annotations DROP CONSTRAINT annotations_segment_id_fkey")
        pg.execute("UPDATE annotations SET segment_id = 'gone' WHERE id = 1")
    finally:
        pg.close()
    with open_project(local) as store:
        assert store.check() == ["1 rows of 'annotations' point at no row of 'segments'"]


def test_the_checksum_covers_the_coded_tables_only(local: Path) -> None:
    conn = _sqlite(local)
    before = coded_checksum(conn)
    conn.execute("DELETE FROM suggestions")
    assert coded_checksum(conn) == before
    conn.execute("UPDATE notes SET text = text || '.' WHERE id = 1")
    assert coded_checksum(conn) != before
    assert set(CODED_TABLES) <= set(table_names(conn))


def test_model_files_go_into_the_database_and_back_into_folders(
        local: Path, pg_url: str, tmp_path: Path) -> None:
    """Push fills ``model_files`` (schema 12) from models/<id>/ and pull writes the
    folders back."""
    (model_id, path), = _sqlite(local).execute("SELECT id, path FROM models")
    files = {p.name: p.read_bytes() for p in (local / path).iterdir()}
    pushed = push_project(local, pg_url)
    assert pushed.model_files == len(files) == 3 and pushed.missing_models == []
    pg = connect(pg_url)
    try:
        assert {r[0]: bytes(r[1]) for r in pg.execute(
            "SELECT name, content FROM model_files WHERE model_id = ?", (model_id,))} == files
    finally:
        pg.close()
    pulled = pull_project(pg_url, tmp_path / "back")
    assert pulled.rows["model_files"] == 3
    assert {p.name: p.read_bytes() for p in (tmp_path / "back" / path).iterdir()} == files
