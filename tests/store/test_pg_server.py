"""The throwaway PostgreSQL server of the tests (tests/builders/postgres.py)."""

from __future__ import annotations

import pytest


def test_each_test_gets_an_empty_database_of_its_own(pg_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    assert ":" not in pg_url.split("@")[0].removeprefix("postgresql://")  # no password
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                            ).fetchone() == (0,)
        conn.execute("CREATE TABLE t (x INTEGER)")


def test_a_second_database_does_not_see_the_first(pg_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)
