"""effective_rejects: the reject decisions not undone, with the codes they turned down."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.records import Decision
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog, Rejection, effective_rejects


def _decision(action: str, key: str, suggested: list[str]) -> Decision:
    return Decision("cleo", key, f"seg-{key}", action, (),
                    "m1", suggestion={"suggested_codes": suggested, "values": {}})


def test_rejects_not_undone_with_their_suggested_codes(db_path: Path) -> None:
    with Store.create(db_path) as store:
        log = DecisionLog(store)
        log.record(_decision("skip", "k1", ["a"]))
        log.record(_decision("reject", "k2", ["a", "b"]))
        log.record(_decision("reject", "k3", []))
        log.event("cleo", "retrain", {"before": "m1", "after": "m2"}, model_id="m2")
        assert effective_rejects(store) == [Rejection("seg-k2", "cleo", ("a", "b"), "m1"),
                                            Rejection("seg-k3", "cleo", (), "m1")]
        log.undo_last("cleo")  # the last decision: the reject of k3
        assert effective_rejects(store) == [Rejection("seg-k2", "cleo", ("a", "b"), "m1")]
