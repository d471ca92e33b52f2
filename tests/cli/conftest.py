"""The project whose every name is hostile to a terminal (tests/builders/terminal.py)."""

from __future__ import annotations

import pytest

from tests.builders.terminal import Hostile, build_hostile_project


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    """Built once per test module; each test that changes it works on its own copy."""
    return build_hostile_project(tmp_path_factory.mktemp("hostile"))
