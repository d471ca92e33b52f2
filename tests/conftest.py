"""Shared fixtures: the demo project (fast hashing embedder) and the shared data folder.

Every test that uses the demo project (directly or through ``project_copy``) is marked
``demo``, so ``make test-fast`` can leave out the session-long demo build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = REPO / "corpora" / "isp-demo"


def require_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip the test where the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared not found ({path}): real-data test needs the shared data folder")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need the demo build: ``-m "not demo"`` skips building it."""
    for item in items:
        if "demo_project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.demo)


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole demo pipeline with the deterministic hashing embedder (no torch)."""
    from isp_nlp.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "project"
    run_demo(out, embedder="hashing-256", echo=lambda _: None)
    return out


@pytest.fixture
def project_copy(demo_project: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the demo project."""
    dest = tmp_path / "project"
    shutil.copytree(demo_project, dest)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project with the hashing embedder."""
    out = tmp_path / "project"
    assert CliRunner().invoke(cli, ["init", str(out), "--embedder", "hashing-256"]).exit_code == 0
    return out
