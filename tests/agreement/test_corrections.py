"""The correction rate: accepted as is / edited / rejected, from the decision log."""

from __future__ import annotations

from typing import Any

import pytest

from isp_nlp.agreement.corrections import Corrections, correction_rate, outcome


def _entry(coder: str, key: str, action: str, codes: list[str], *, shown: list[str],
           model: str = "m1", values: dict[str, str] | None = None,
           offered: dict[str, Any] | None = None, undone: bool = False,
           segment: str = "s") -> dict[str, Any]:
    return {"coder": coder, "item_key": key, "action": action, "codes": codes,
            "values": values or {}, "model_id": model, "undone": undone,
            "segment_id": segment,
            "detail": {"suggestion": {"suggested_codes": shown, "values": offered or {}}}}


def test_each_decision_is_accepted_edited_or_rejected() -> None:
    assert outcome("accept", ["a", "b"], {}, {"suggested_codes": ["b", "a"]}) == "accepted"
    assert outcome("accept", ["a"], {}, {"suggested_codes": ["a", "b"]}) == "edited"
    assert outcome("accept", ["a"], {"stage": "push"},
                   {"suggested_codes": ["a"], "values": {"stage": ["push", 0.9]}}) == "accepted"
    assert outcome("accept", ["a"], {}, {"suggested_codes": ["a"],
                                         "values": {"stage": ["push", 0.9]}}) == "edited"
    assert outcome("relabel", ["a"], {}, {"suggested_codes": ["a"]}) == "edited"
    assert outcome("reject", [], {}, {}) == "rejected"
    assert outcome("skip", [], {}, {}) is None


def test_rates_overall_per_coder_per_model_and_only_the_last_effective_decision() -> None:
    entries = [
        _entry("ana", "k1", "accept", ["a"], shown=["a"]),
        _entry("ana", "k2", "accept", ["a"], shown=["a", "b"]),  # a subset: edited
        _entry("ana", "k3", "reject", [], shown=["a"], model="m2"),
        _entry("ben", "k1", "relabel", ["b"], shown=["a"]),
        _entry("ben", "k2", "accept", ["a", "b"], shown=["a", "b"], undone=True),
        _entry("ben", "k4", "skip", [], shown=["a"]),
        _entry("ana", "k1", "reject", [], shown=["a"], segment="t"),  # ana's later word on k1
    ]
    rate = correction_rate(entries)
    assert rate.overall == Corrections(accepted=0, edited=2, rejected=2)
    assert rate.by_coder["ana"] == Corrections(0, 1, 2)
    assert rate.by_coder["ben"] == Corrections(0, 1, 0)
    assert rate.by_model["m2"] == Corrections(0, 0, 1)
    assert rate.overall.share("rejected") == pytest.approx(0.5)
    assert rate.overall.sentence() == ("4 decisions on suggestions: 0% accepted as is, "
                                       "50% edited, 50% rejected")
    only = correction_rate(entries, segment_ids={"t"})
    assert only.overall == Corrections(0, 0, 1)
    assert correction_rate([]).overall.sentence() == "no decisions on suggestions yet"
    assert correction_rate([]).overall.share("accepted") is None
