"""Actions that are not decisions (memo, retrain, certify) go into the same audit trail."""

from __future__ import annotations

import pytest

from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog


def test_an_event_is_appended_with_its_detail(db_path):
    with Store.create(db_path) as store:
        log = DecisionLog(store)
        first = log.event("ana", "retrain", {"before": "m1", "after": "m2"}, model_id="m2")
        second = log.event("ana", "memo", {"text": "ask about funding"})
        entries = log.entries("ana")
    assert [e["id"] for e in entries] == [first, second] and second > first
    assert entries[0]["action"] == "retrain" and entries[0]["model_id"] == "m2"
    assert entries[0]["detail"] == {"before": "m1", "after": "m2"}
    assert entries[1]["detail"] == {"text": "ask about funding"}


@pytest.mark.parametrize("action", ["accept", "reject", "relabel", "skip", "undo", "import"])
def test_decisions_undos_and_imports_are_not_events(db_path, action):
    with Store.create(db_path) as store, pytest.raises(ValueError):
        DecisionLog(store).event("ana", action, {})
