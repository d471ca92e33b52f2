"""The coded-segments CSV: reading, matching to segments, writing, round trip."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from isp_nlp.codebook.load import codebook_from_dict
from isp_nlp.coded.match import match_coded_rows
from isp_nlp.coded.read import (
    COLUMNS,
    CodedRow,
    annotations_to_frame,
    read_coded_csv,
    write_coded_csv,
)
from isp_nlp.errors import ImportCodesError, InputFileError, ProjectError
from isp_nlp.records import Annotation, Codebook, Segment
from tests.builders.paths import SHARED

HEADER = "document,segment,text,coder,code,stage,speaker,start,end\n"


def make_segments(document: str, turns: Sequence[tuple[str, str]]) -> list[Segment]:
    """Segments for ``turns`` of (speaker, text) laid out one per line."""
    out, pos = [], 0
    for i, (speaker, text) in enumerate(turns):
        out.append(
            Segment(
                id=f"{document}-{i:03d}",
                document=document,
                index=i,
                turn_index=i,
                unit="turn",
                speaker=speaker,
                start=pos,
                end=pos + len(text),
                text=text,
                codable=speaker != "Interviewer",
            )
        )
        pos += len(text) + 1
    return out


SEGMENTS = make_segments(
    "interview_01",
    [
        ("Interviewer", "How did the hub support you?"),
        ("P1", "They ran a training   day\nfor all of our staff."),
        ("Interviewer", "Yes."),
        ("P1", "Yes."),
        ("P1", "Later a coach visited every month and we planned together."),
        ("P1", "Yes."),
    ],
)
OTHER = make_segments("interview_02", [("P2", "We shared data with the hub.")])
BY_DOC = {
    "interview_01": SEGMENTS,
    "interview_01.vtt": SEGMENTS,
    "interview_02": OTHER,
    "interview_02.docx": OTHER,
}
BY_ID = {s.id: s for s in SEGMENTS + OTHER}


@pytest.fixture
def book() -> Codebook:
    return codebook_from_dict(
        {
            "codes": [
                {"id": "capacity_building", "name": "Capacity building"},
                {"id": "training", "name": "Didactic training", "parent": "capacity_building"},
                {"id": "coaching", "name": "Coaching", "parent": "capacity_building"},
                {"id": "data_sharing", "name": "Data sharing"},
            ]
        }
    )


def write(tmp_path: Path, text: str, name: str = "seed.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows_from(tmp_path: Path, body: str) -> list[CodedRow]:
    return read_coded_csv(write(tmp_path, HEADER + body))


def match(rows: list[CodedRow], book: Codebook) -> list[Annotation]:
    return match_coded_rows(rows, BY_DOC, book, source="seed.csv")


def labels(annotations: list[Annotation]) -> set[tuple[str, str, str, str | None]]:
    return {(a.segment_id, a.coder, a.dimension, a.label) for a in annotations}


# --------------------------------------------------------------------------- reading


def test_read_basic_fields_and_lines(tmp_path: Path) -> None:
    body = (
        'interview_01,,"They ran a training day\nfor all of our staff.",ana,training,push,P1,,\n'
        "interview_01,interview_01-004,,ben,coaching,,,,\n"
        "\n"
        "interview_01,,,ben,,,,0,28\n"
    )
    rows = rows_from(tmp_path, body)
    assert [r.line for r in rows] == [2, 4, 6]  # quoted newline spans lines 2-3; blank line 5
    first = rows[0]
    assert first.text == "They ran a training day\nfor all of our staff."
    assert (first.coder, first.code, first.value("stage"), first.speaker) == (
        "ana",
        "training",
        "push",
        "P1",
    )
    assert first.start is None and first.end is None
    assert rows[1].segment == "interview_01-004"
    assert (rows[2].start, rows[2].end, rows[2].code) == (0, 28, "")


def test_header_case_spaces_extra_columns_and_bom(tmp_path: Path) -> None:
    text = " Document ,TEXT,Coder,Code,Segment,Notes\ninterview_02,We shared data.,ana,x,,hello\n"
    rows = read_coded_csv(write(tmp_path, text, encoding="utf-8-sig"))
    assert rows == [
        CodedRow(
            line=2,
            document="interview_02",
            segment="",
            text="We shared data.",
            coder="ana",
            code="x",
            values=(("notes", "hello"),),  # kept for a dimension of that name, else unused
        )
    ]


def test_semicolon_separated_file(tmp_path: Path) -> None:
    text = "document;segment;text;coder;code\ninterview_02;;We shared data, openly.;ana;x\n"
    rows = read_coded_csv(write(tmp_path, text))
    assert rows[0].text == "We shared data, openly."


def test_missing_required_columns_are_all_named(tmp_path: Path) -> None:
    path = write(tmp_path, "Document,Text,Label\ninterview_01,Yes.,x\n")
    with pytest.raises(ImportCodesError) as err:
        read_coded_csv(path)
    message = str(err.value)
    assert "seed.csv is missing the columns segment, coder, code" in message
    assert "(found: document, text, label)" in message
    assert err.value.problems == [
        "line 1: missing column 'segment'",
        "line 1: missing column 'coder'",
        "line 1: missing column 'code'",
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_coded_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputFileError, match=r"seed\.csv is empty"):
        read_coded_csv(write(tmp_path, text))


def test_header_without_rows(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="has a header but no data rows"):
        read_coded_csv(write(tmp_path, HEADER + ",,,,,,,,\n"))


def test_not_utf8_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "interview_01,,Café,ana,,,,,\n", encoding="cp1252")
    with pytest.raises(InputFileError, match=r"seed\.csv line 2 is not valid UTF-8.*re-save"):
        read_coded_csv(path)


def test_unclosed_quote(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"seed\.csv line \d+ cannot be parsed as CSV"):
        read_coded_csv(write(tmp_path, HEADER + 'interview_01,,"Yes.,ana,,,,,\n'))


def test_bad_offsets_and_field_counts_are_all_reported(tmp_path: Path) -> None:
    body = (
        "interview_01,,,ana,,,,ten,20\n"
        "interview_01,,,ana,,,,5,\n"
        "interview_01,,,ana,,,,9,3\n"
        "interview_01,,,ana,,,,-1,3\n"
        "interview_01,,Yes, I agree,ana,,,,,\n"
        "interview_01,,,ana,,,,0,28\n"
    )
    with pytest.raises(ImportCodesError) as err:
        rows_from(tmp_path, body)
    assert err.value.problems == [
        "line 2: start is 'ten', expected a whole number or empty",
        "line 3: start is given but end is empty; give both or neither",
        "line 4: end (3) is before start (9); swap them",
        "line 5: start is -1, expected a number of 0 or more",
        "line 6: has 10 fields but the header has 9; put text containing the separator in "
        "double quotes",
    ]
    assert str(err.value).startswith("seed.csv: 5 rows cannot be imported (nothing was imported)")


# --------------------------------------------------------------------------- matching


def test_match_by_id_offsets_and_text(tmp_path: Path, book: Codebook) -> None:
    body = (
        "interview_01,interview_01-004,,ana,coaching,exchange,,,\n"
        f"interview_01.vtt,,,ben,Didactic Training,push/pull,,{SEGMENTS[1].start},"
        f"{SEGMENTS[1].end}\n"
        "interview_01,,They ran a training day for all of our staff.,cy,training,,,,\n"
        "interview_02,,We shared  data with the hub.,ana,data_sharing,,,,\n"
    )
    annotations = match(rows_from(tmp_path, body), book)
    assert annotations == [
        Annotation("interview_01-004", "ana", "code", "coaching"),
        Annotation("interview_01-004", "ana", "stage", "exchange"),
        Annotation("interview_01-001", "ben", "code", "training"),
        Annotation("interview_01-001", "ben", "stage", "push_pull"),
        Annotation("interview_01-001", "cy", "code", "training"),
        Annotation("interview_02-000", "ana", "code", "data_sharing"),
    ]


def test_no_code_dedup_and_source_label(tmp_path: Path, book: Codebook) -> None:
    body = (
        "interview_01,interview_01-001,,ana,,,,,\n"  # seen, no code
        "interview_01,interview_01-004,,ana,coaching,,,,\n"
        "interview_01,interview_01-004,,ana,coaching,,,,\n"  # exact duplicate
        "interview_01,interview_01-004,,ana,training,,,,\n"
        "interview_01,interview_01-004,,ana,,,,,\n"  # empty code beside real codes
        "interview_01,interview_01-000,,ana,,,,,\n"  # non-codable segment is allowed
    )
    annotations = match_coded_rows(
        rows_from(tmp_path, body), BY_DOC, book, source="seed.csv", source_label="consensus"
    )
    assert annotations == [
        Annotation("interview_01-001", "ana", "code", None, "consensus"),
        Annotation("interview_01-004", "ana", "code", "coaching", "consensus"),
        Annotation("interview_01-004", "ana", "code", "training", "consensus"),
        Annotation("interview_01-000", "ana", "code", None, "consensus"),
    ]


def test_repeated_text_fills_occurrences_in_order(tmp_path: Path, book: Codebook) -> None:
    body = (
        "interview_01,,Yes.,ana,coaching,,P1,,\n"
        "interview_01,,Yes.,ana,training,,P1,,\n"  # second code, same segment
        "interview_01,,Yes.,ana,coaching,,P1,,\n"  # same code again: next occurrence
        "interview_01,,Yes.,ben,,,Interviewer,,\n"  # speaker picks the interviewer's "Yes."
        "interview_01,,Yes.,cy,training,,,,\n"
    )
    assert labels(match(rows_from(tmp_path, body), book)) == {
        ("interview_01-003", "ana", "code", "coaching"),
        ("interview_01-003", "ana", "code", "training"),
        ("interview_01-005", "ana", "code", "coaching"),
        ("interview_01-002", "ben", "code", None),
        ("interview_01-002", "cy", "code", "training"),
    }


def test_all_problems_collected_nothing_imported(tmp_path: Path, book: Codebook) -> None:
    body = (
        "interview_01,interview_01-004,,ana,coaching,,,,\n"  # fine
        "interview_01,interview_01-004,,ana,capacity_bulding,,,,\n"
        "interview_9,,Yes.,ana,,,,,\n"
        "interview_01,,They ran a training day,ana,,,,,\n"
        "interview_01,interview_01-001,,ana,,mixed,,,\n"
        "interview_01,interview_01-001,,,training,,,,\n"
        "interview_01,,,ana,,,,,\n"
        ",,Yes.,ana,,,,,\n"
        "interview_01,nope,Nothing like this.,ana,,,,3,4\n"
    )
    with pytest.raises(ImportCodesError) as err:
        match(rows_from(tmp_path, body), book)
    problems = err.value.problems
    assert problems[0] == (
        "line 3: unknown code 'capacity_bulding' (did you mean 'capacity_building'?)"
    )
    assert problems[1].startswith("line 4: unknown document 'interview_9' (did you mean")
    assert "known documents: interview_01, interview_01.vtt, interview_02" in problems[1]
    assert problems[2].startswith(
        "line 5: no segment of 'interview_01' has text 'They ran a training day'; "
        "the text is part of segment 1 (turn)"
    )
    assert problems[3].startswith("line 6: invalid stage 'mixed'; use one of push, push_pull")
    assert problems[4] == "line 7: coder is empty; fill in who coded the row"
    assert problems[5].startswith("line 8: no segment id, offsets or text to match")
    assert problems[6].startswith("line 9: document is empty")
    assert problems[7].startswith(
        "line 10: no segment of 'interview_01' has id 'nope' or offsets 3-4 or text"
    )
    assert len(problems) == 8
    assert str(err.value) == (
        "seed.csv: 8 rows cannot be imported (nothing was imported); first: line 3: unknown "
        "code 'capacity_bulding' (did you mean 'capacity_building'?)."
    )


def test_conflicting_stages(tmp_path: Path, book: Codebook) -> None:
    body = (
        "interview_01,interview_01-004,,ana,coaching,push,,,\n"
        "interview_01,interview_01-004,,ana,training,,,,\n"  # empty = not given: fine
        "interview_01,interview_01-004,,ana,training,Exchange,,,\n"
        "interview_01,interview_01-004,,ben,training,exchange,,,\n"
    )
    with pytest.raises(ImportCodesError) as err:
        match(rows_from(tmp_path, body), book)
    assert err.value.problems == [
        "line 4: coder 'ana' gives segment interview_01-004 conflicting stage values "
        "'push' (line 2), 'exchange' (line 4); use one stage on all of that coder's rows for "
        "the segment"
    ]


def test_ambiguous_code_name(tmp_path: Path) -> None:
    book = codebook_from_dict(
        {"codes": [{"id": "a_other", "name": "Other"}, {"id": "b_other", "name": "other"}]}
    )
    with pytest.raises(ImportCodesError) as err:
        match(
            rows_from(tmp_path, "interview_02,,We shared data with the hub.,ana,OTHER,,,,\n"), book
        )
    assert "matches several codes (a_other, b_other); write the code id" in err.value.problems[0]


# --------------------------------------------------------------------------- writing


ANNOTATIONS = [
    Annotation("interview_01-004", "ana", "code", "coaching"),
    Annotation("interview_01-004", "ana", "code", "training"),
    Annotation("interview_01-004", "ana", "stage", "exchange"),
    Annotation("interview_01-001", "ana", "code", None),
    Annotation("interview_01-001", "ana", "stage", "push"),
    Annotation("interview_01-003", "ben", "code", "training"),
    Annotation("interview_01-005", "ben", "code", None),
    Annotation("interview_02-000", "ana", "code", "data_sharing"),
    Annotation("interview_01-001", "ben", "code", "training"),
]


def test_annotations_to_frame() -> None:
    frame = annotations_to_frame(ANNOTATIONS, BY_ID)
    assert list(frame.columns) == [*COLUMNS[:5], "stage", *COLUMNS[5:]]
    assert frame[["segment", "coder", "code", "stage"]].values.tolist() == [
        ["interview_01-001", "ana", "", "push"],
        ["interview_01-001", "ben", "training", ""],
        ["interview_01-003", "ben", "training", ""],
        ["interview_01-004", "ana", "coaching", "exchange"],
        ["interview_01-004", "ana", "training", "exchange"],
        ["interview_01-005", "ben", "", ""],
        ["interview_02-000", "ana", "data_sharing", ""],
    ]
    row = frame.iloc[3]
    seg = BY_ID["interview_01-004"]
    assert (row.document, row.text, row.speaker, row.start, row.end) == (
        "interview_01",
        seg.text,
        "P1",
        seg.start,
        seg.end,
    )


def test_annotations_to_frame_unknown_segment() -> None:
    with pytest.raises(ProjectError, match="segment gone"):
        annotations_to_frame([Annotation("gone", "ana", "code", "x")], BY_ID)


@pytest.mark.parametrize("bom", [False, True])
def test_round_trip(tmp_path: Path, book: Codebook, bom: bool) -> None:
    path = write_coded_csv(ANNOTATIONS, tmp_path / "out.csv", BY_ID, bom=bom)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") == bom
    rows = read_coded_csv(path)
    assert len(rows) == 7
    assert set(match_coded_rows(rows, BY_DOC, book, source="out.csv")) == set(ANNOTATIONS)


def test_round_trip_by_text_only(tmp_path: Path, book: Codebook) -> None:
    frame = annotations_to_frame(ANNOTATIONS, BY_ID)
    frame["segment"] = ""
    frame["start"] = ""
    frame["end"] = ""
    path = write_coded_csv(frame, tmp_path / "text_only.csv")
    rows = read_coded_csv(path)
    assert set(match_coded_rows(rows, BY_DOC, book, source="text_only.csv")) == set(ANNOTATIONS)


def test_write_needs_segments_for_annotations(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_coded_csv(ANNOTATIONS, tmp_path / "x.csv")


def test_write_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot write"):
        write_coded_csv(ANNOTATIONS, tmp_path / "no" / "x.csv", BY_ID)


# --------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_annomi_transcript_round_trip(tmp_path: Path) -> None:
    """Ten annotators' codes for AnnoMI transcript 7 survive CSV export and text-only import."""
    source = SHARED / "data" / "annomi" / "AnnoMI-full.csv"
    if not source.exists():
        pytest.skip("../shared not found: real-data test needs the shared data folder")
    with source.open(encoding="utf-8", newline="") as fh:
        records = [r for r in csv.DictReader(fh) if r["transcript_id"] == "7"]
    utterances = {int(r["utterance_id"]): r for r in records}
    turns = [
        (utterances[i]["interlocutor"], utterances[i]["utterance_text"]) for i in sorted(utterances)
    ]
    segments = make_segments("annomi_t7", turns)
    book = codebook_from_dict(
        {
            "codes": [
                {"id": c, "name": c.replace("_", " ").title()}
                for c in (
                    "question",
                    "reflection",
                    "therapist_input",
                    "other",
                    "change",
                    "neutral",
                    "sustain",
                )
            ]
        }
    )
    expected = set()
    for r in records:
        seg = segments[int(r["utterance_id"])]
        codes = {r["main_therapist_behaviour"], r["client_talk_type"]} - {"", "n/a"}
        label = codes.pop() if codes else None
        expected.add(Annotation(seg.id, f"annotator_{r['annotator_id']}", "code", label))
    assert len(expected) == 660

    frame = annotations_to_frame(expected, {s.id: s for s in segments})
    frame[["segment", "start", "end"]] = ""  # force matching by text (and speaker)
    path = write_coded_csv(frame, tmp_path / "annomi_t7.csv")
    rows = read_coded_csv(path)
    got = match_coded_rows(rows, {"annomi_t7": segments}, book, source=path.name)
    assert set(got) == expected
