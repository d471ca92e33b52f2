"""Tests for transcript ingestion: decoding, text, captions and Word files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from isp_nlp.errors import InputFileError
from isp_nlp.ingest.readers import SUPPORTED_SUFFIXES, read_transcript
from isp_nlp.records import Transcript
from tests.builders import paths

DATA = paths.DATA / "ingest"
SHARED = paths.SHARED


def shared_dir(*parts: str) -> Path:
    folder = SHARED.joinpath(*parts)
    if not folder.is_dir():
        pytest.skip("../shared not found: real-data test needs the shared data folder")
    return folder


def error_for(path: Path) -> str:
    """The message of the InputFileError reading ``path`` raises; checks it is one line."""
    with pytest.raises(InputFileError) as info:
        read_transcript(path)
    message = str(info.value)
    assert "\n" not in message
    assert path.name in message
    return message


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def check_offsets(t: Transcript) -> None:
    """Every turn's offsets slice out its utterance, rendered with its label."""
    parts = []
    for turn in t.turns:
        utterance = t.turn_text(turn)
        assert utterance and utterance == utterance.strip()
        label = f"{turn.speaker}: " if turn.speaker else ""
        assert t.text[turn.start - len(label) : turn.start] == label
        parts.append(label + utterance)
    assert t.text == "\n\n".join(parts)


def speakers_and_texts(t: Transcript) -> list[tuple[str | None, str]]:
    return [(turn.speaker, t.turn_text(turn)) for turn in t.turns]


# --- decoding ---------------------------------------------------------------


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_transcript(tmp_path / "nope.txt")
    folder = tmp_path / "dir.txt"
    folder.mkdir()
    with pytest.raises(InputFileError, match="is a folder"):
        read_transcript(folder)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("e.txt", b"", "is empty (0 bytes)"),
        ("w.txt", b"  \n\t\r\n  ", "only whitespace"),
        ("w.vtt", b" \n \n", "only whitespace"),
        ("e.docx", b"", "is empty (0 bytes)"),
    ],
)
def test_empty_files(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    assert expected in error_for(write(tmp_path, name, data))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP"),
        (b"%PDF-1.7\n", "PDF"),
        (b"Interviewer: hi\x00\x01\x02", "NUL"),
    ],
)
def test_binary_files_are_rejected(tmp_path: Path, data: bytes, kind: str) -> None:
    assert kind in error_for(write(tmp_path, "bin.txt", data))


def test_utf8_bom_crlf_cr_and_nfc(tmp_path: Path) -> None:
    raw = "\ufeffInterviewer: Cafe\u0301?\r\nP1: Yes.\rMore.\r\n".encode()
    t = read_transcript(write(tmp_path, "bom.txt", raw))
    assert t.text == "Interviewer: Caf\u00e9?\n\nP1: Yes. More."
    assert t.warnings == ()
    assert "\ufeff" not in t.text and "\r" not in t.text


def test_cp1252_fallback_warns(tmp_path: Path) -> None:
    raw = "Interviewer: \u201cCaf\u00e9\u201d \u2013 ok?\nP2: S\u00ed.\n".encode("cp1252")
    t = read_transcript(write(tmp_path, "old.txt", raw))
    assert t.turn_text(t.turns[0]) == "\u201cCaf\u00e9\u201d \u2013 ok?"
    assert len(t.warnings) == 1
    assert "old.txt is not UTF-8" in t.warnings[0] and "cp1252" in t.warnings[0]


def test_undecodable_byte_names_line_and_byte(tmp_path: Path) -> None:
    raw = b"Interviewer: one\r\nP1: two\r\nP1: caf\xe9 \x81 three\r\n"
    message = error_for(write(tmp_path, "bad.txt", raw))
    assert "line 3" in message and "0x81" in message and "UTF-8" in message


def test_utf16_with_bom(tmp_path: Path) -> None:
    raw = "Interviewer: Hello\nP1: Hi\n".encode("utf-16")
    t = read_transcript(write(tmp_path, "u16.txt", raw))
    assert speakers_and_texts(t) == [("Interviewer", "Hello"), ("P1", "Hi")]


# --- dispatch and metadata ---------------------------------------------------


def test_unknown_suffix_lists_supported(tmp_path: Path) -> None:
    message = error_for(write(tmp_path, "notes.pdf", b"x"))
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in message
    assert "no suffix" in error_for(write(tmp_path, "README", b"x"))


def test_metadata_and_document_name(tmp_path: Path) -> None:
    raw = b"Interviewer: Hello\nP1: Hi\n"
    path = write(tmp_path, "Int 01.TXT", raw)
    t = read_transcript(str(path))
    assert (t.document, t.name, t.source_format) == ("Int 01", "Int 01.TXT", "text")
    assert t.sha256 == hashlib.sha256(raw).hexdigest()
    assert read_transcript(path, document="int01").document == "int01"
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".text", ".vtt", ".srt", ".sbv", ".docx"}


# --- plain text and Markdown -------------------------------------------------


def test_plain_text_fixture() -> None:
    t = read_transcript(DATA / "interview.txt")
    check_offsets(t)
    assert speakers_and_texts(t) == [
        (None, "Project: Housing study, site B"),
        (
            "Interviewer",
            "Thanks for joining. Could you tell me how you first heard about the programme?",
        ),
        (
            "P07",
            "A neighbour told me about it. I was sceptical at first.\nThen I went to the open day.",
        ),
        ("Interviewer", "What changed your mind?"),
        ("P07", "Note: this is just my view. The staff listened."),
        ("Interviewer", "Thank you."),
    ]
    assert [turn.line for turn in t.turns] == [1, 3, 6, 9, 10, 11]
    assert t.turns[-1].t_start == 12 * 60 + 5


def test_markdown_fixture_labels_and_title() -> None:
    t = read_transcript(DATA / "notes.md")
    check_offsets(t)
    assert t.source_format == "markdown"
    assert "Focus group" not in t.text
    assert speakers_and_texts(t) == [
        ("Dr. Lee", "Welcome, everyone."),
        ("Maria Gomez", "Happy to be here."),
        ("Tom", "Same here. Glad to help."),
        ("Dr. Lee", "Let's begin."),
        ("Maria Gomez", "Sure."),
        ("Tom", "Ready."),
    ]


def test_no_labels_gives_one_turn_per_paragraph(tmp_path: Path) -> None:
    t = read_transcript(write(tmp_path, "p.txt", "First line\nwraps here.\n\n\nSecond: para.\n"))
    assert speakers_and_texts(t) == [(None, "First line wraps here."), (None, "Second: para.")]


def test_one_off_colon_is_text_but_repeated_name_is_a_label(tmp_path: Path) -> None:
    once = read_transcript(write(tmp_path, "a.txt", "Note: this is prose.\nMore prose.\n"))
    assert speakers_and_texts(once) == [(None, "Note: this is prose. More prose.")]
    twice = read_transcript(write(tmp_path, "b.txt", "Ann: hi\nBo: yo\nAnn: bye\nBo: ok\n"))
    assert [s for s, _ in speakers_and_texts(twice)] == ["Ann", "Bo", "Ann", "Bo"]


def test_label_forms_and_timestamps(tmp_path: Path) -> None:
    text = (
        "(00:00:05) Interviewer:\n"
        "Question on the next line?\n"
        "[00:01:02] P7: Answer.\n"
        "[Respondent 2]: Me too.\n"
        "**Speaker 3**: Bold.\n"
        "Q: Anything else?\n"
        "A: No.\n"
        "see http://example.org: not a label\n"
    )
    t = read_transcript(write(tmp_path, "forms.txt", text))
    check_offsets(t)
    assert speakers_and_texts(t) == [
        ("Interviewer", "Question on the next line?"),
        ("P7", "Answer."),
        ("Respondent 2", "Me too."),
        ("Speaker 3", "Bold."),
        ("Q", "Anything else?"),
        ("A", "No. see http://example.org: not a label"),
    ]
    assert [turn.t_start for turn in t.turns[:3]] == [5.0, 62.0, None]


def test_labels_without_text_are_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "only.txt", "# Title\n\nInterviewer:\nP1:\n")
    assert "no transcript text" in error_for(path)


# --- captions -----------------------------------------------------------------


def test_zoom_cues_merge_into_turns() -> None:
    t = read_transcript(DATA / "zoom.vtt")
    check_offsets(t)
    assert speakers_and_texts(t) == [
        ("Maria Gomez", "So I started the job in March, and it was hard at first."),
        ("Interviewer", "Why was it hard?"),
    ]
    first, second = t.turns
    assert (first.t_start, first.t_end, first.line) == (1.0, 8.0, 4)
    assert (second.t_start, second.t_end, second.line) == (9.0, 11.0, 20)


def test_voice_tags_markup_and_entities() -> None:
    t = read_transcript(DATA / "voice.vtt")
    check_offsets(t)
    assert speakers_and_texts(t) == [
        ("Ana", "Fish & chips, please <now>"),
        ("Ben", "One moment. Here you go."),
    ]
    assert "comment" not in t.text


def test_srt_with_tags_and_crlf() -> None:
    t = read_transcript(DATA / "tags.srt")
    assert t.source_format == "srt"
    assert speakers_and_texts(t) == [
        ("Speaker 1", "Hello"),
        ("Speaker 2", "Hi there, how are you?"),
    ]
    assert [turn.line for turn in t.turns] == [2, 6]


def test_speakerless_cues_are_separate_turns(tmp_path: Path) -> None:
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nOne\n\n00:02.000 --> 00:03.000\nTwo\n"
    t = read_transcript(write(tmp_path, "s.vtt", vtt))
    assert speakers_and_texts(t) == [(None, "One"), (None, "Two")]


def test_sbv_reader(tmp_path: Path) -> None:
    sbv = "0:00:01.000,0:00:02.000\nInterviewer: Hi\n\n0:00:02.000,0:00:04.500\nP1: Hello\nthere\n"
    t = read_transcript(write(tmp_path, "x.sbv", sbv))
    assert speakers_and_texts(t) == [("Interviewer", "Hi"), ("P1", "Hello there")]
    assert t.turns[1].t_end == 4.5


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("nohead.vtt", "00:01.000 --> 00:02.000\nHi\n", "WEBVTT"),
        ("bad.vtt", "WEBVTT\n\n00:01.000 --> 00:0x.000\nHi\n", "line 3"),
        ("lost.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\nOrphan text\n", "line 6"),
        ("none.vtt", "WEBVTT\n\nNOTE nothing here\n", "no captions"),
        ("blank.srt", "1\n00:00:01,000 --> 00:00:02,000\n\n", "no captions"),
        (
            "bad.srt",
            "1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:0x,000 --> 1\nYo\n",
            "line 6",
        ),
        ("nots.sbv", "Hello\n", "SBV"),
    ],
)
def test_caption_errors_are_one_line(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    assert expected in error_for(write(tmp_path, name, content))


# --- Word ----------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Interview 4", 1)
    p = d.add_paragraph()
    p.add_run("Interviewer").bold = True
    p.add_run("\tHow did it start?")
    p = d.add_paragraph()
    p.add_run("Sam:").bold = True
    p.add_run(" It started in 2019.")
    d.add_paragraph("I remember it well.")
    d.add_paragraph("")
    d.add_paragraph("It grew fast.")
    d.add_paragraph("Interviewer: And then?")
    table = d.add_table(rows=3, cols=2)
    rows = [("Speaker", "Text"), ("Sam", "Then it grew."), ("Interviewer", "Thanks.")]
    for row, (who, said) in zip(table.rows, rows, strict=True):
        row.cells[0].text, row.cells[1].text = who, said
    d.add_paragraph("Sam: Bye.")
    d.save(str(path))
    return path


def test_docx_paragraphs_bold_labels_and_table(tmp_path: Path) -> None:
    t = read_transcript(make_docx(tmp_path / "int4.docx"))
    check_offsets(t)
    assert t.source_format == "docx" and t.document == "int4"
    assert speakers_and_texts(t) == [
        ("Interviewer", "How did it start?"),
        ("Sam", "It started in 2019. I remember it well.\nIt grew fast."),
        ("Interviewer", "And then?"),
        ("Sam", "Then it grew."),
        ("Interviewer", "Thanks."),
        ("Sam", "Bye."),
    ]


@pytest.mark.parametrize(
    "data",
    [b"plain text, not a zip", b"PK\x03\x04garbage", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old"],
)
def test_corrupt_docx(tmp_path: Path, data: bytes) -> None:
    assert "not a valid Word .docx file" in error_for(write(tmp_path, "bad.docx", data))


def test_docx_that_is_another_zip(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "sheet.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    assert "not a valid Word .docx file" in error_for(path)


def test_empty_docx(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "empty.docx"
    docx.Document().save(str(path))
    assert "no transcript text" in error_for(path)


# --- real data in ../shared ----------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "turns"),
    [
        ("annomi_t7_zoom.vtt", 66),
        ("annomi_t7_voice.vtt", 66),
        ("annomi_t56_zoom.vtt", 175),
        ("annomi_t56_voice.vtt", 175),
    ],
)
def test_annomi_vtt(name: str, turns: int) -> None:
    t = read_transcript(shared_dir("data", "transcripts-vtt") / name)
    check_offsets(t)
    assert len(t.turns) == turns
    assert {turn.speaker for turn in t.turns} == {"Therapist", "Client"}
    assert t.turns[0].speaker == "Therapist"
    assert all(turn.t_start is not None and turn.line for turn in t.turns)


@pytest.mark.shared_data
def test_annomi_voice_and_zoom_agree() -> None:
    folder = shared_dir("data", "transcripts-vtt")
    for n in ("7", "56"):
        voice = read_transcript(folder / f"annomi_t{n}_voice.vtt")
        zoom = read_transcript(folder / f"annomi_t{n}_zoom.vtt")
        assert voice.text == zoom.text
        assert [(x.t_start, x.t_end) for x in voice.turns] == [
            (x.t_start, x.t_end) for x in zoom.turns
        ]


def _edge_cases() -> list[str]:
    folder = SHARED / "data" / "vtt-edge-cases"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else ["(absent)"]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", _edge_cases())
def test_every_edge_case_reads_or_fails_cleanly(name: str) -> None:
    path = shared_dir("data", "vtt-edge-cases") / name
    try:
        t = read_transcript(path)
    except InputFileError as exc:
        assert "\n" not in str(exc) and name in str(exc)
        return
    check_offsets(t)
    assert t.turns and t.source_format == path.suffix[1:]
    assert "-->" not in t.text and "<" not in t.text


EDGE_TEXTS = {
    "sample.vtt": [f"Caption text #{i}" for i in range(1, 17)],
    "captions_with_bom.vtt": [f"Caption text #{i}" for i in range(1, 5)],
    "using_identifiers.vtt": [f"Caption text #{i}" for i in range(1, 7)],
    "metadata_headers.vtt": ["Caption text #1", "Caption text #2"],
    "metadata_headers_multiline.vtt": ["Caption text #1", "Caption text #2"],
    "styles.vtt": ["- Hello world."],
    "cue_tags.vtt": ["When the moon hits your eye", "Like a big-a pizza pie", "That's amore"],
    "comments.vtt": [
        "- Ta en kopp varmt te.\n- Det är inte varmt.",
        "- Har en kopp te.\n- Det smakar som te.",
        "- Ta en kopp",
    ],
    "youtube_dl.vtt": ["yeah", "what", "this will happen is I'm telling"],
    "invalid_timeframe_in_cue_text.vtt": [f"Caption text #{i}" for i in range(1, 4)],
    "missing_caption_text.vtt": ["Caption text #1", *(f"Caption text #{i}" for i in (3, 4, 5))],
    "sample.srt": [f"Caption text #{i}" for i in range(1, 6)],
    "one_caption.srt": ["Caption text #1"],
    "missing_caption_text.srt": ["Caption text #1", *(f"Caption text #{i}" for i in (3, 4, 5))],
    "sample.sbv": [
        "Caption text #1",
        "Caption text #2",
        "Caption text #3 (line 1) Caption text #3 (line 2)",
        "Caption text #4",
        "Caption text #5",
    ],
    "two_captions.sbv": ["Caption text #1", "Caption text #2 (line 1) Caption text #2 (line 2)"],
}
EDGE_ERRORS = {
    "empty.vtt": "empty",
    "no_captions.vtt": "no captions",
    "invalid.vtt": "WEBVTT",
    "invalid_timeframe.vtt": "line 6",
    "invalid_timeframe.sbv": "line 7",
    "missing_timeframe.vtt": "line 6",
    "missing_timeframe.srt": "line 6",
    "missing_timeframe.sbv": "line 4",
    "invalid_format1.srt": "SubRip",
    "invalid_format.sbv": "SBV",
}


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "texts"), sorted(EDGE_TEXTS.items()))
def test_edge_case_texts(name: str, texts: list[str]) -> None:
    t = read_transcript(shared_dir("data", "vtt-edge-cases") / name)
    assert speakers_and_texts(t) == [(None, x) for x in texts]


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "expected"), sorted(EDGE_ERRORS.items()))
def test_edge_case_errors(name: str, expected: str) -> None:
    assert expected in error_for(shared_dir("data", "vtt-edge-cases") / name)


@pytest.mark.shared_data
def test_edge_case_details() -> None:
    folder = shared_dir("data", "vtt-edge-cases")
    sample = read_transcript(folder / "sample.vtt")
    assert (sample.turns[0].t_start, sample.turns[0].t_end, sample.turns[0].line) == (0.5, 7.0, 3)
    sbv = read_transcript(folder / "sample.sbv")
    assert len(sbv.warnings) == 2 and "line 14" in sbv.warnings[0]
    assert "only one speaker found (no speaker labels at all)" in sbv.warnings[1]
    netflix = read_transcript(folder / "netflix_chicas_del_cable.vtt")
    assert netflix.turns[0].speaker == "Alba"
    assert netflix.turn_text(netflix.turns[0]) == "En 1928,"
    assert netflix.turn_text(netflix.turns[1]) == "las mujeres éramos algo así como adornos"
    assert "risita" in netflix.text and "risita" not in {x.speaker for x in netflix.turns}


def test_zoom_speaker_with_a_single_cue_is_still_a_speaker(tmp_path: Path) -> None:
    vtt = (
        "WEBVTT\n\n00:01.000 --> 00:02.000\nAnn Lee: Welcome.\n\n"
        "00:02.000 --> 00:03.000\nBo: Thanks.\n\n"
        "00:03.000 --> 00:04.000\nAnn Lee: Let's start.\n"
    )
    t = read_transcript(write(tmp_path, "z.vtt", vtt))
    assert speakers_and_texts(t) == [
        ("Ann Lee", "Welcome."),
        ("Bo", "Thanks."),
        ("Ann Lee", "Let's start."),
    ]


def test_caption_files_tolerate_leading_blank_lines_and_trailing_spaces(tmp_path: Path) -> None:
    srt = (
        "\n\n1 \n00:00:01,000 --> 00:00:02,000  \nHello \n   \n"
        "2\n00:00:02,000 --> 00:00:03,000\nBye\n"
    )
    t = read_transcript(write(tmp_path, "pad.srt", srt))
    assert speakers_and_texts(t) == [(None, "Hello"), (None, "Bye")]
    assert [turn.line for turn in t.turns] == [4, 8]
