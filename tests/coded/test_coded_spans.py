"""Coded spans placed on segments: exact, by overlap, or not at all."""

from __future__ import annotations

from isp_nlp.coded.spans import annotations_from_placement, coverage, place_codings
from isp_nlp.records import Annotation, Coding, Segment

TEXT = "I: How did it start?\n\nP: We ran trainings. Then we co-designed it.\n\nI: Thanks."


def _segments() -> dict[str, list[Segment]]:
    spans = [(3, 20, "I", False), (25, 42, "P", True), (43, 66, "P", True), (71, 78, "I", False)]
    segs = [Segment(f"s{i}", "d", i, i, "sentence", who, a, b, TEXT[a:b], codable)
            for i, (a, b, who, codable) in enumerate(spans)]
    assert [s.text for s in segs][1:3] == ["We ran trainings.", "Then we co-designed it."]
    return {"d": segs}


def test_codings_map_exactly_by_overlap_or_not_at_all() -> None:
    codings = [
        Coding("d", 24, 43, "training", "ana"),         # whitespace around one segment: exact
        Coding("d", 25, 66, "training", "bo"),          # two whole segments: exact
        Coding("d", 28, 31, "training", "cy"),          # a word inside a segment: overlap
        Coding("d", 36, 47, "training", "cy"),          # 6 of its 11 in one, 4 in the next
        Coding("d", 20, 22, "training", "cy"),          # only newlines: unmapped
        Coding("elsewhere", 0, 5, "training", "cy"),    # unknown document: unmapped
    ]
    placement = place_codings(codings, _segments(), {"d": TEXT})
    assert placement.kind == ("exact", "exact", "overlap", "overlap", "unmapped", "unmapped")
    assert placement.segments[:4] == (("s1",), ("s1", "s2"), ("s1",), ("s1",))
    assert placement.counts() == {"exact": 2, "overlap": 2, "unmapped": 2}


def test_annotations_give_codes_stage_by_cover_and_seen_rows() -> None:
    codings = [
        Coding("d", 25, 42, "training", "ana", source="assisted"),
        Coding("d", 25, 42, "trust", "ana"),
        Coding("d", 25, 30, "push", "ana", dimension="stage"),       # 5 of 17 characters
        Coding("d", 25, 66, "exchange", "ana", dimension="stage"),   # all of both
        Coding("d", 43, 66, "trust", "model-x", source="model"),     # never an annotation
    ]
    segs = _segments()
    got = annotations_from_placement(place_codings(codings, segs, {"d": TEXT}), segs)
    assert got == [
        Annotation("s1", "ana", "code", "training", "assisted"),
        Annotation("s1", "ana", "code", "trust", "assisted"),
        Annotation("s1", "ana", "stage", "exchange", "human"),
        Annotation("s2", "ana", "code", None, "human"),
        Annotation("s2", "ana", "stage", "exchange", "human"),
    ]


def test_a_coder_sees_only_up_to_their_last_coding_in_a_document() -> None:
    """Segments after a coder's last coding are uncoded, not "seen, no code"."""
    text = "P: one. P: two. P: three. P: four."
    spans = [(3, 7), (11, 15), (19, 25), (29, 34)]
    segs = {"d": [Segment(f"s{i}", "d", i, i, "turn", "P", a, b, text[a:b])
                  for i, (a, b) in enumerate(spans)]}
    codings = [Coding("d", 11, 15, "x", "ana"),                       # ana stops at s1
               Coding("d", 3, 7, "x", "bo"), Coding("d", 29, 34, "y", "bo")]
    placement = place_codings(codings, segs, {"d": text})
    got = annotations_from_placement(placement, segs)
    ana = [(a.segment_id, a.label) for a in got if a.coder == "ana"]
    bo = [(a.segment_id, a.label) for a in got if a.coder == "bo"]
    assert ana == [("s0", None), ("s1", "x")]          # s2, s3: never taught as negatives
    assert bo == [("s0", "x"), ("s1", None), ("s2", None), ("s3", "y")]
    cov = {c.coder: c for c in coverage(placement, segs, {"d": text})}
    assert (cov["ana"].seen_chars, cov["ana"].chars) == (15, len(text))
    assert (cov["ana"].seen_segments, cov["ana"].segments) == (2, 4)
    assert cov["bo"].share == 1.0 and cov["bo"].seen_segments == 4
