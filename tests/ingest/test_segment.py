"""Tests for segmentation into turns, sentences and paragraphs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isp_nlp.errors import IspNlpError
from isp_nlp.ingest.render import RawTurn, build_transcript
from isp_nlp.ingest.segment import UNITS, segment_transcript
from isp_nlp.records import Segment, Transcript, segment_id
from tests.builders import paths

DATA = paths.DATA / "ingest"


def make(*turns: tuple[str | None, str], document: str = "doc") -> Transcript:
    """A transcript from (speaker, utterance) pairs; utterance lines are paragraphs."""
    raw = [RawTurn(speaker=s, paragraphs=u.split("\n")) for s, u in turns]
    return build_transcript(
        raw, document=document, name=f"{document}.txt", sha256="0" * 64, source_format="text"
    )


def texts(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments]


def check_invariants(t: Transcript, segments: list[Segment], max_chars: int) -> None:
    """Offsets slice back, segments are ordered, disjoint, in their turn and lose no text."""
    for i, seg in enumerate(segments):
        assert seg.index == i and seg.document == t.document
        assert t.text[seg.start : seg.end] == seg.text
        assert seg.text and seg.text == seg.text.strip()
        assert len(seg.text) <= max_chars
        turn = t.turns[seg.turn_index]
        assert turn.start <= seg.start < seg.end <= turn.end
        assert seg.speaker == turn.speaker
        assert seg.id == segment_id(t.document, seg.start, seg.end)
    for a, b in zip(segments, segments[1:], strict=False):
        assert a.end <= b.start
    assert len({s.id for s in segments}) == len(segments)
    covered = set()
    for seg in segments:
        covered.update(range(seg.start, seg.end))
    for turn in t.turns:
        for pos in range(turn.start, turn.end):
            assert pos in covered or t.text[pos].isspace()


def test_turn_unit_one_segment_per_turn() -> None:
    t = make(("Interviewer", "How are you?"), ("P1", "Fine.\nThanks."), (None, "[noise]"))
    segments = segment_transcript(t)
    check_invariants(t, segments, 2000)
    assert texts(segments) == ["How are you?", "Fine.\nThanks.", "[noise]"]
    assert [(s.turn_index, s.speaker, s.unit) for s in segments] == [
        (0, "Interviewer", "turn"),
        (1, "P1", "turn"),
        (2, None, "turn"),
    ]
    assert all(s.codable for s in segments)


def test_long_turn_is_packed_by_sentences() -> None:
    utterance = "Sentence one is here. Sentence two is here. Sentence three is here."
    t = make(("P1", utterance))
    segments = segment_transcript(t, max_chars=45)
    check_invariants(t, segments, 45)
    assert texts(segments) == [
        "Sentence one is here. Sentence two is here.",
        "Sentence three is here.",
    ]
    assert {s.turn_index for s in segments} == {0}


def test_sentence_longer_than_limit_is_cut_at_whitespace() -> None:
    t = make(("P1", " ".join(["word"] * 40) + "."))
    segments = segment_transcript(t, max_chars=32)
    check_invariants(t, segments, 32)
    assert len(segments) > 1
    for seg in segments:
        assert set(seg.text.rstrip(".").split(" ")) == {"word"}


def test_sentence_unit() -> None:
    t = make(("Interviewer", "Hi there. How are you?"), ("P1", "Fine.\nReally fine!"))
    segments = segment_transcript(t, unit="sentence")
    check_invariants(t, segments, 2000)
    assert texts(segments) == ["Hi there.", "How are you?", "Fine.", "Really fine!"]
    assert [s.turn_index for s in segments] == [0, 0, 1, 1]
    assert {s.unit for s in segments} == {"sentence"}


def test_paragraph_unit() -> None:
    t = make(("P1", "First paragraph. Two sentences.\nSecond paragraph."), ("P2", "Only one."))
    segments = segment_transcript(t, unit="paragraph")
    check_invariants(t, segments, 2000)
    assert texts(segments) == ["First paragraph. Two sentences.", "Second paragraph.", "Only one."]


def test_skip_speakers_keeps_context_segments() -> None:
    t = make(("Interviewer", "Question?"), ("P1", "Answer."), ("interviewer", "Next?"))
    segments = segment_transcript(t, skip_speakers=["INTERVIEWER"])
    assert [(s.text, s.codable) for s in segments] == [
        ("Question?", False),
        ("Answer.", True),
        ("Next?", False),
    ]
    as_string = segment_transcript(t, skip_speakers="Interviewer")
    assert [s.codable for s in as_string] == [False, True, False]


def test_bad_arguments() -> None:
    t = make(("P1", "Hi."))
    with pytest.raises(IspNlpError) as info:
        segment_transcript(t, unit="x")
    assert str(info.value) == (
        "unknown segmentation unit 'x'; expected one of turn, sentence, paragraph"
    )
    for bad in (0, -5, 2.5, True):
        with pytest.raises(IspNlpError, match="max_chars"):
            segment_transcript(t, max_chars=bad)  # type: ignore[arg-type]


def test_segment_ids_are_stable_uuid5() -> None:
    # Stored projects depend on these exact values: never change the namespace.
    assert segment_id("int01", 0, 12) == segment_id("int01", 0, 12)
    assert segment_id("int01", 0, 12) != segment_id("int02", 0, 12)
    assert segment_id("int01", 0, 12) != segment_id("int01", 0, 13)
    assert segment_id("doc", 0, 5) == "146fc867-a331-5049-82e1-981584ea850d"


def test_turn_unit_does_not_import_spacy_or_torch() -> None:
    code = (
        "import sys\n"
        "from isp_nlp.ingest.readers import read_transcript\n"
        "from isp_nlp.ingest.segment import segment_transcript\n"
        f"t = read_transcript({str(DATA / 'interview.txt')!r})\n"
        "assert segment_transcript(t, unit='turn')\n"
        "assert segment_transcript(t, unit='paragraph')\n"
        "print(sorted(m for m in ('spacy', 'torch', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


_WORDS = st.text(alphabet="abcdeé XYZ.,!?\t'\n", min_size=0, max_size=120)
_TURNS = st.lists(
    st.tuples(st.sampled_from([None, "Interviewer", "P1", "Ann Lee"]), _WORDS),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turns=_TURNS, unit=st.sampled_from(UNITS), max_chars=st.integers(4, 200))
def test_segmentation_properties(
    turns: list[tuple[str | None, str]], unit: str, max_chars: int
) -> None:
    if not any(u.strip(" \t\n") for _, u in turns):
        turns = [*turns, ("P1", "Fallback text.")]
    t = make(*turns)
    segments = segment_transcript(t, unit=unit, max_chars=max_chars)
    check_invariants(t, segments, max_chars)
    assert segments and all(s.unit == unit for s in segments)
    again = segment_transcript(t, unit=unit, max_chars=max_chars)
    assert [s.id for s in again] == [s.id for s in segments]
