"""BackgroundRetrainer: train + suggest in a child process every N decisions, while the
coder keeps recording decisions (hashing embedder project, seconds per retrain)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from isp_nlp.errors import IspNlpError
from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.records import Decision
from isp_nlp.review.items import build_review_items
from isp_nlp.review.retrain import BackgroundRetrainer
from isp_nlp.review.session import snapshot
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.coded_projects import coded_project

#: Seconds a retrain of the small project may take on a loaded machine.
RETRAIN_LIMIT = 300
#: Longest a record() may wait for the retrain's writes.
RECORD_LIMIT = 5.0


def _decide(log: DecisionLog, item, action: str) -> float:
    """Record ``action`` on ``item`` for cleo; return the seconds record() took."""
    codes = item.suggested_codes if action == "accept" else ()
    start = time.perf_counter()
    log.record(Decision("cleo", item.key, item.segment.id, action, codes, item.model_id,
                        suggestion=snapshot(item)))
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three accepts, a retrain started on the third, and skips recorded while it runs."""
    path, _, _ = coded_project(tmp_path_factory.mktemp("retrain"), leave_out="site2")
    with open_project(path) as store:
        before = train_project(store)["model_id"]
        suggest_project(store)
        items = build_review_items(store, "cleo")
        log = DecisionLog(store)
        retrainer = BackgroundRetrainer(path, every=3, coder="cleo", store=store)
        assert not retrainer.notify(0)
        accepted = [i.segment.id for i in items[:3]]
        for n, item in enumerate(items[:3], start=1):
            _decide(log, item, "accept")
            assert retrainer.notify(n) == (n == 3)
        assert retrainer.running and not retrainer.notify(6)  # never two at once
        # Skips (each its own write transaction) all through the retrain's writes.
        waits, during = [], []
        start = time.monotonic()
        new_items = None
        while new_items is None and time.monotonic() - start < RETRAIN_LIMIT:
            item = items[3 + len(waits) % (len(items) - 3)]
            waits.append(_decide(log, item, "skip"))
            during.append(item.key)
            new_items = retrainer.poll()
            time.sleep(0.1)
        return {"path": path, "before": before, "accepted": accepted, "items": new_items,
                "waits": waits, "during": during, "retrainer": retrainer,
                "decided": log.decided("cleo"), "entries": log.entries("cleo"),
                "latest": store.latest_model()}


def test_a_retrain_after_n_decisions_learns_from_them(retrained) -> None:
    r = retrained
    assert r["items"] is not None, r["retrainer"].message
    latest = r["latest"]
    assert latest["id"] != r["before"]
    assert latest["manifest"]["learned_from"]["assisted"] == 3
    assert {i.model_id for i in r["items"]} == {latest["id"]}
    # The accepted segments are coded now, so the new queue leaves them out.
    assert not {i.segment.id for i in r["items"]} & set(r["accepted"])
    assert r["retrainer"].message.startswith("retrained in ")
    assert r["retrainer"].last_seconds is not None


def test_the_retrain_is_in_the_audit_trail(retrained) -> None:
    events = [e for e in retrained["entries"] if e["action"] == "retrain"]
    assert len(events) == 1
    detail = events[0]["detail"]
    assert detail["before"] == retrained["before"]
    assert detail["after"] == retrained["latest"]["id"] == events[0]["model_id"]
    assert detail["decisions"] == 3 and detail["seconds"] > 0


def test_decisions_during_a_retrain_are_kept_and_quick(retrained) -> None:
    r = retrained
    assert r["during"], "the retrain finished before any decision was recorded during it"
    assert all(r["decided"].get(key) == "skip" for key in r["during"])
    skips = [e for e in r["entries"] if e["action"] == "skip"]
    assert len(skips) == len(r["during"])  # none lost
    assert max(r["waits"]) < RECORD_LIMIT
    print(f"retrain {r['retrainer'].last_seconds:.1f} s; {len(r['waits'])} decisions during "
          f"it, max record() wait {max(r['waits']) * 1000:.0f} ms")


def test_a_failed_retrain_is_one_line_not_an_exception(tmp_path: Path) -> None:
    retrainer = BackgroundRetrainer(tmp_path / "missing", every=1, coder="cleo")
    assert not retrainer.notify(1) and not retrainer.running
    assert retrainer.message.startswith("retrain failed: ") and "\n" not in retrainer.message
    path, _, _ = coded_project(tmp_path, leave_out="site2")
    retrainer = BackgroundRetrainer(path, every=1, coder="cleo",
                                    train_args=("--folds", "1"))
    assert retrainer.notify(1)
    assert retrainer.wait(RETRAIN_LIMIT) is None
    assert not retrainer.running
    assert retrainer.message.startswith("retrain failed: train exited with status 2")
    assert "\n" not in retrainer.message


def test_every_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(IspNlpError, match="retrain-every is 0"):
        BackgroundRetrainer(tmp_path, every=0, coder="cleo")
