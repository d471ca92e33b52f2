"""evaluation/bench_loop.py on a tiny configuration of the real AnnoMI data (hashing
embedder, 12 pool transcripts, 10 decisions): it runs train's fit path and writes its
table, and the checkpoint model learned from the decisions."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.builders.paths import REPO, require_shared


def _bench():
    evaluation = str(REPO / "evaluation")
    if evaluation not in sys.path:
        sys.path.insert(0, evaluation)
    spec = importlib.util.spec_from_file_location("bench_loop_smoke",
                                                  REPO / "evaluation" / "bench_loop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_tiny_loop_runs_and_learns_from_its_decisions(tmp_path: Path) -> None:
    require_shared("data", "annomi", "AnnoMI-full.csv")
    status = _bench().main(["--seeds", "1", "--decisions", "10", "--every", "10",
                            "--checkpoints", "10", "--big-k", "0", "--embedder", "hashing-256",
                            "--transcripts", "12", "--conditions", "queue,queue_no_retrain",
                            "--cache", str(tmp_path / "cache.sqlite"), "--out", str(tmp_path)])
    assert status == 0
    results = json.loads((tmp_path / "loop.json").read_text(encoding="utf-8"))
    run = results["tasks"]["therapist"]["runs"][0]
    assert "random" not in run
    for condition in ("queue", "queue_no_retrain"):
        point = run[condition]["checkpoints"]["10"]
        assert -1 <= point["kappa"] <= 1 and 0 <= point["certified_coverage"] <= 1
        assert point["accepted"] + point["relabelled"] + point["rejected"] == pytest.approx(1)
        assert point["learned_from"] == {"independent": 32, "assisted": 10, "rejected": 0}
    table = (tmp_path / "loop.md").read_text(encoding="utf-8")
    assert "| queue | 10 | 1 |" in table and "Stated target" in table


def test_checkpoints_beyond_the_decisions_are_refused(tmp_path: Path) -> None:
    require_shared("data", "annomi", "AnnoMI-full.csv")
    assert _bench().main(["--decisions", "10", "--checkpoints", "20",
                          "--out", str(tmp_path)]) == 2


def test_runs_cut_short_are_tabulated_from_their_progress_lines(tmp_path: Path) -> None:
    bench = _bench()
    point = {"kappa": 0.6, "certified_coverage": 0.0, "certified_threshold": None,
             "accepted": 0.2, "relabelled": 0.8, "rejected": 0.0}
    logs = []
    for condition, reached in (("queue", (50, 100)), ("random", (50,)),
                               ("queue_no_retrain", (50, 100))):
        log = tmp_path / f"{condition}.txt"
        log.write_text("noise\n" + "\n".join(
            bench.PROGRESS + json.dumps({"kind": "checkpoint", "seed": 0, "condition": condition,
                                         "decisions": n, "point": point}) for n in reached)
            + "\n" + bench.PROGRESS + json.dumps({"kind": "reference", "seed": 0,
                                                  "condition": "start", "decisions": 0,
                                                  "point": point}), encoding="utf-8")
        logs.append(log)
    got = bench.from_logs(logs, {"checkpoints": [50, 100, 200], "big_k": 0})
    assert got["config"]["checkpoints"] == [50, 100] and got["config"]["partial"]
    summary = got["tasks"]["therapist"]["summary"]
    assert summary["queue"][50]["kappa"]["mean"] == pytest.approx(0.6)
    assert summary["random"][100]["seeds"] == 0 and summary["queue"][100]["seeds"] == 1
    bench.write_markdown({**got, "config": {**got["config"], "seeds": 1, "k": 8,
                                            "decisions": 400, "every": 50,
                                            "embedder": "minilm"}}, tmp_path / "loop.md")
    assert "Cut short" in (tmp_path / "loop.md").read_text(encoding="utf-8")
