"""evaluation/bench_team.py on a tiny project, on the suite's PostgreSQL server: both
backends measured, every decision of two coders at once stored exactly once, and train's
reads counted."""

from __future__ import annotations

import importlib
import sys

from tests.builders.paths import REPO
from tests.builders.postgres import PgServer


def _bench():
    """The script as module ``bench_team`` from evaluation/ on sys.path, so the coder
    processes it spawns can import it too."""
    evaluation = str(REPO / "evaluation")
    if evaluation not in sys.path:
        sys.path.insert(0, evaluation)
    return importlib.import_module("bench_team")


def test_a_tiny_team_run_measures_both_backends(pg_server: PgServer) -> None:
    out = _bench().run(pg_server, segments=200, decisions=5, coders=2, each=4)
    for backend in ("sqlite", "postgres"):
        result = out[backend]
        assert result["round_trip"]["n"] == 5
        race = result["concurrent"]
        assert race["stored"] == 8 and race["lost"] == 0 and race["twice"] == 0
        assert race["errors"] == []
        assert result["train"]["reads"] > 0
    assert out["sqlite"]["train"]["reads"] == out["postgres"]["train"]["reads"]
