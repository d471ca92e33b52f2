"""Fixtures every test folder may use: the demo project (fast hashing embedder), an empty
project, an excerpt-import project, and a pair of coded-segments CSV files.

Every test that uses the demo project (directly or through ``project_copy``) is marked
``demo``, so ``make test-fast`` can leave out the session-long demo build. The builders
behind these fixtures, and the paths (REPO, CORPUS, SHARED, require_shared), are plain
modules in tests/builders/: import those, never this file or another test module.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.store.database import Store
from tests.builders.coded_csv import coded_rows, write_coded_csv
from tests.builders.postgres import REQUIRE_ENV, PgServer, start_server
from tests.builders.sheets import excerpt_project


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need the demo build: ``-m "not demo"`` skips building it."""
    for item in items:
        if "demo_project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.demo)


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where PostgreSQL projects cache their models during the tests (never the user's
    ~/.cache); a test that needs a machine of its own sets ``ISP_NLP_CACHE`` itself."""
    cache = tmp_path_factory.mktemp("model-cache")
    before = os.environ.get("ISP_NLP_CACHE")
    os.environ["ISP_NLP_CACHE"] = str(cache)
    yield cache
    if before is None:
        os.environ.pop("ISP_NLP_CACHE", None)
    else:
        os.environ["ISP_NLP_CACHE"] = before


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole demo pipeline with the deterministic hashing embedder (no torch)."""
    from isp_nlp.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "project"
    said: list[str] = []
    run_demo(out, embedder="hashing-256", echo=said.append)
    (out.parent / "demo-output.txt").write_text("\n".join(said) + "\n", encoding="utf-8")
    return out


@pytest.fixture
def project_copy(demo_project: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the demo project."""
    dest = tmp_path / "project"
    shutil.copytree(demo_project, dest)
    return dest


#: ``postgres``: the ``project`` fixture stores its project on the test PostgreSQL server,
#: to run a folder's tests against that backend (tests that open project.sqlite directly
#: will fail, as they should there).
STORE_ENV = "ISP_NLP_TEST_STORE"


@pytest.fixture
def project(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """An empty project with the hashing embedder."""
    out = tmp_path / "project"
    args = ["init", str(out), "--embedder", "hashing-256"]
    if os.environ.get(STORE_ENV) == "postgres":
        args += ["--database", request.getfixturevalue("pg_url")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    return out


@pytest.fixture
def excerpt_store(tmp_path: Path) -> Iterator[Store]:
    """An open project for excerpt imports: a small codebook and the Dedoose interview
    (tests/builders/sheets.py), closed after the test."""
    store = excerpt_project(tmp_path)
    yield store
    store.close()


@pytest.fixture
def coded_csvs(tmp_path: Path) -> tuple[Path, Path]:
    """(train.csv, test.csv) for ``evaluate``: four documents coded by one coder, and one
    document coded by three coders of whom two sometimes mislabel."""
    train = write_coded_csv(tmp_path / "train.csv", coded_rows(4, ("ann",)))
    test = write_coded_csv(tmp_path / "test.csv",
                           coded_rows(1, ("a", "b", "c"), {"b": 5, "c": 7}))
    return train, test


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the session (tests/builders/postgres.py). Where
    none can start the tests that need it skip with the reason, unless
    ``ISP_NLP_REQUIRE_POSTGRES=1`` (CI), where they fail."""
    try:
        server = start_server()
    except RuntimeError as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no PostgreSQL server could start: {exc}")
        pytest.skip(f"no PostgreSQL server for the tests: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The password-free URL of a new, empty database on the session's server."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest) -> str:
    """Each backend of the project store in turn (``postgres`` needs ``pg_server``)."""
    return str(request.param)


@pytest.fixture
def db_path(store_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Where ``Store.create`` makes a new project database on ``store_backend``:
    ``project.sqlite``, or ``project.url`` naming a new database on the test server."""
    if store_backend == "sqlite":
        return tmp_path / "project.sqlite"
    from isp_nlp.store.postgres import POINTER_NAME, write_pointer

    pointer = tmp_path / POINTER_NAME
    write_pointer(pointer, request.getfixturevalue("pg_url"))
    return pointer


@pytest.fixture
def database_url(store_backend: str, request: pytest.FixtureRequest) -> str | None:
    """``init_project``'s ``database`` for ``store_backend``: None (SQLite) or a URL."""
    return None if store_backend == "sqlite" else str(request.getfixturevalue("pg_url"))
