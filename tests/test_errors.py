"""The one home of the did-you-mean hint that error messages about a mistyped name end with."""

from __future__ import annotations

from isp_nlp.errors import did_you_mean


def test_the_closest_choice_is_named_whatever_its_case() -> None:
    assert did_you_mean("leadershp", ["leadership", "teams"]) == " (did you mean 'leadership'?)"
    assert did_you_mean("TEAMS", ["leadership", "teams"]) == " (did you mean 'teams'?)"


def test_nothing_close_gives_no_hint() -> None:
    assert did_you_mean("zzz", ["leadership", "teams"]) == ""
    assert did_you_mean("teams", []) == ""
