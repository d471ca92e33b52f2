"""Where the tests find the repository, its demo corpus, their data and ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The repository root (the folder holding isp_nlp/ and tests/).
REPO = Path(__file__).resolve().parents[2]
#: The package under test.
PACKAGE = REPO / "isp_nlp"
#: The shared data folder beside the repository (real QDA exports, AnnoMI).
SHARED = REPO.parent / "shared"
#: The bundled demo corpus.
CORPUS = REPO / "corpora" / "isp-demo"
#: Small input files of the tests themselves (tests/data).
DATA = REPO / "tests" / "data"


def require_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip the test where the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared not found ({path}): real-data test needs the shared data folder")
    return path
