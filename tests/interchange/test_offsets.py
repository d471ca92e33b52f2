"""Offset readings: which units a QDA tool counted, and exact conversion to code points."""

from __future__ import annotations

import pytest

from isp_nlp.interchange.offsets import (
    Reading,
    candidate_readings,
    choose_reading,
    convert,
    splits_word,
    stored_text,
)

WORDS = ["szép", "világ", "Árvíztűrő", "tükörfúrógép", "yes", "után", "vége"]


def _units(prefix: str, reading: Reading) -> int:
    """Length of ``prefix`` of the stored text as a tool using ``reading`` counts it."""
    n = len(prefix.encode("utf-16-le")) // 2 if reading.utf16 else len(prefix)
    return n + (prefix.count("\n") if reading.crlf_two else 0)


def _spans_for(original: str, words: list[str], reading: Reading) -> list[tuple[int, int]]:
    """Offsets of each word's first occurrence in ``original`` under ``reading``."""
    text = stored_text(original)
    bom = 1 if reading.bom and original.startswith("\ufeff") else 0
    out = []
    for word in words:
        i = text.index(word)
        out.append((bom + _units(text[:i], reading), bom + _units(text[: i + len(word)], reading)))
    return out


WINDOWS = ("\ufeffInterviewer: Hogy van? 😀 szép világ\r\n"
           "Participant: 👍🏽 Árvíztűrő tükörfúrógép 🎉🎉 yes\r\n\r\n"
           "Interviewer: 🤦🏼\u200d♀️ után vége\r\n")


def test_only_readings_that_differ_for_the_text_are_tried() -> None:
    assert candidate_readings("plain ascii\nno pairs") == [Reading()]
    assert candidate_readings("emoji 😀 here\n") == [Reading(), Reading(utf16=True)]
    assert len(candidate_readings(WINDOWS)) == 8
    assert candidate_readings(WINDOWS)[0] == Reading()  # simplest first


def test_stored_text_drops_the_bom_and_makes_line_ends_lf() -> None:
    assert stored_text("\ufeffa\r\nb\rc\n") == "a\nb\nc\n"


@pytest.mark.parametrize("reading", candidate_readings(WINDOWS))
def test_every_reading_of_a_windows_file_is_recovered_exactly(reading: Reading) -> None:
    spans = _spans_for(WINDOWS, WORDS, reading)
    choice = choose_reading(WINDOWS, spans)
    text = stored_text(WINDOWS)
    got = [text[a:b] for a, b in choice.spans]
    assert got == WORDS
    assert choice.inside_word == 0 and choice.outside == 0
    assert choice.tried == 8


def test_nvivo_windows_utf16_crlf_bom_is_chosen_when_readings_disagree() -> None:
    reading = Reading(utf16=True, crlf_two=True, bom=True)
    spans = _spans_for(WINDOWS, WORDS, reading)
    # read as code points the same numbers land inside words
    wrong, inside, _ = convert(WINDOWS, spans, Reading())
    text = stored_text(WINDOWS)
    assert inside > 0 and [text[a:b] for a, b in wrong] != WORDS
    choice = choose_reading(WINDOWS, spans)
    assert choice.reading == reading
    assert choice.reading.label == "UTF-16 code units, CRLF as 2, BOM counted"


def test_a_word_after_an_emoji_distinguishes_code_points_from_utf16() -> None:
    original = "Ok 😀😀 szép and 😀 világ end"
    cp = _spans_for(original, ["szép", "világ", "end"], Reading())
    u16 = _spans_for(original, ["szép", "világ", "end"], Reading(utf16=True))
    assert cp != u16
    assert choose_reading(original, cp).reading == Reading()
    assert choose_reading(original, u16).reading == Reading(utf16=True)
    text = stored_text(original)
    assert [text[a:b] for a, b in choose_reading(original, u16).spans] == ["szép", "világ", "end"]


def test_a_tie_goes_to_code_points() -> None:
    original = "😀 one two"
    # whole-text selection: both readings fit equally well at the ends
    choice = choose_reading(original, [(0, 0)])
    assert choice.reading == Reading()


def test_offsets_beyond_the_text_are_counted_and_clamped() -> None:
    spans, inside, outside = convert("short text", [(6, 99), (-3, 5)], Reading())
    assert spans == [(6, 10), (0, 5)]
    assert outside == 2 and inside == 0


def test_a_boundary_between_surrogates_or_inside_crlf_is_a_split_and_widens_the_span() -> None:
    original = "a😀b\r\nc"
    # UTF-16: a=0, 😀=1..3, b=3, \r\n=4..6 (CRLF as 2), c=6
    spans, inside, _ = convert(original, [(2, 3), (5, 7)], Reading(utf16=True, crlf_two=True))
    assert spans == [(1, 2), (3, 5)]
    assert inside == 2


@pytest.mark.parametrize(("text", "i", "split"), [
    ("szép világ", 2, True),  # inside a word with accents
    ("szép világ", 4, False),  # at the space
    ("szép, világ", 4, False),  # before punctuation
    ("sze\u0301p", 3, True),  # between a letter and its combining accent
    ("hi 👍🏽 ok", 4, True),  # between an emoji and its skin tone
    ("🤦\u200d♀", 1, True),  # before a zero-width joiner
    ("a😀b", 1, False),  # a letter next to an emoji is a boundary
])
def test_splits_word(text: str, i: int, split: bool) -> None:
    assert splits_word(text, i) is split
