"""A table dumped one cell per line reads as one turn per record (its text cell, by its
author), never a title taken for a speaker; anything short of that evidence reads as
before."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isp_nlp.ingest.cell_dump import read_cell_dump
from isp_nlp.ingest.readers import read_transcript
from isp_nlp.ingest.verbatim import decode_verbatim, verbatim_transcript
from isp_nlp.interchange.refi_import import import_refi
from isp_nlp.store.folder import open_project
from tests.builders.paths import require_shared

FIELDS = ["video_id", "video_title", "comment_author", "comment_text", "likes", "date"]
RECORDS = [
    ["a1", "Mandatory vaccination: what next?", "@anna", "I do not agree at all.", "3",
     "2021-11-29T14:52:15Z"],
    ["a1", "Mandatory vaccination: what next?", "", "No author here.", "0",
     "2021-11-30T08:00:00Z"],
    ["b2", "Work: the rules", "@ben", "First line of a long comment\nand its second line.",
     "12", "2022-01-06T21:39:29Z"],
    ["b2", "Work: the rules", "@carl", "Short.", "1", "2022-01-07T10:00:00Z"],
]


def _dump(fields: list[str], records: list[list[str]]) -> str:
    return "\n".join([*fields, *(cell for r in records for cell in r)]) + "\n"


def test_each_record_is_a_turn_by_its_author_and_no_title_is_a_speaker() -> None:
    text = _dump(FIELDS, RECORDS)
    out = verbatim_transcript(decode_verbatim(text.encode(), "comments"),
                              document="comments", name="comments")
    assert [t.speaker for t in out.turns] == ["@anna", None, "@ben", "@carl"]
    assert [out.text[t.start:t.end] for t in out.turns] == [r[3] for r in RECORDS]
    assert "6 fields" in out.warnings[-1] and "comment_text is a turn" in out.warnings[-1]


def test_a_plain_text_dump_reads_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "comments.txt"
    path.write_text(_dump(FIELDS, RECORDS), encoding="utf-8")
    out = read_transcript(path)
    assert [t.speaker for t in out.turns] == ["@anna", None, "@ben", "@carl"]
    assert out.text[out.turns[2].start:out.turns[2].end] == \
        "First line of a long comment\nand its second line."


@pytest.mark.parametrize("text", [
    "Interviewer: How did support change?\nP01: We moved to coaching.\n",
    "alpha\nbeta\ngamma\ndelta\nepsilon\nzeta\neta\ntheta\n",  # words, no typed field
    _dump(FIELDS, RECORDS).replace("2022-01-06T21:39:29Z\n", ""),  # a record short
    _dump(FIELDS, RECORDS[:1]),  # one record is not a table
    _dump(["id", "text", "likes"], [["x", "hello there", "oops"], ["y", "bye", "2"]]),
])
def test_without_the_evidence_it_is_not_a_dump(text: str) -> None:
    assert read_cell_dump(text.split("\n")) is None


_cells = st.text(alphabet=string.ascii_letters + " .,!?", min_size=1, max_size=40).map(
    lambda s: "w " + s.strip() + " end")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"@[a-z]{1,8}", fullmatch=True), _cells,
                          st.integers(0, 999)), min_size=2, max_size=12))
def test_any_dump_reads_back_its_records(rows: list[tuple[str, str, int]]) -> None:
    records = [[author, text, str(likes)] for author, text, likes in rows]
    lines = _dump(["author", "text", "likes"], records).split("\n")
    dump = read_cell_dump(lines)
    assert dump is not None and len(dump.records) == len(rows)
    assert [lines[r[dump.text_field][0]] for r in dump.records] == [r[1] for r in records]
    assert dump.speaker_field is not None
    assert [lines[r[dump.speaker_field][0]] for r in dump.records] == [r[0] for r in records]


@pytest.mark.shared_data
def test_nvivo_comment_dump_turns_match_the_coders_selections(tmp_path: Path) -> None:
    """NVivo 12.7's YouTube comment dump: 1,908 comments by their authors, and the coder's
    selections now fall on whole segments (276 of 297 exactly; none did before)."""
    from isp_nlp.store.folder import init_project

    init_project(tmp_path / "p", embedder="hashing-256")
    with open_project(tmp_path / "p") as store:
        out = import_refi(store, require_shared("refi-qda", "nvivo-mac-12.7-export.qdpx"))
        segments = store.segments()
    assert out.codings == 297 and out.mapping["exact"] == 276
    speakers = {s.speaker for s in segments if s.speaker}
    assert speakers and all(s.startswith("@") for s in speakers)
    assert not any("oltás" in s for s in speakers)  # no video title is a speaker
    for document in out.added:
        assert len({s.turn_index for s in segments if s.document == document}) <= 1908
        assert len({s.turn_index for s in segments if s.document == document}) >= 1900
