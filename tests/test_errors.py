"""The one home of the did-you-mean hint that error messages about a mistyped name end with."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.errors import closest, did_you_mean


def test_the_closest_choice_is_named_whatever_its_case() -> None:
    assert did_you_mean("leadershp", ["leadership", "teams"]) == " (did you mean 'leadership'?)"
    assert did_you_mean("TEAMS", ["leadership", "teams"]) == " (did you mean 'teams'?)"


def test_nothing_close_gives_no_hint() -> None:
    assert did_you_mean("zzz", ["leadership", "teams"]) == ""
    assert did_you_mean("teams", []) == ""


def test_closest_names_the_choice_as_spelt_or_none() -> None:
    assert closest(" Intervewer ", ["Interviewer", "Participant"]) == "Interviewer"
    assert closest("interviewer", ["INTERVIEWER"]) == "INTERVIEWER"
    assert closest("zzz", ["Interviewer"]) is None


def test_hand_rolled_suggestions_are_gone_from_the_package() -> None:
    """Every did-you-mean hint goes through errors.closest, so all agree on the cutoff
    and on ignoring case (difflib for fuzzy search in the review screen aside)."""
    import isp_nlp

    root = Path(isp_nlp.__file__).parent
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if "get_close_matches" in p.read_text(encoding="utf-8"))
    assert users == ["errors.py"]
