"""Transcripts as transcription services write them: timestamps, Rev, Otter, Teams.

Each test builds a small realistic file in tmp_path and checks the turns,
speakers and start times read from it, and that prose is not mistaken for
a label.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from isp_nlp.ingest.labels import accepted_speakers, label_lines, match_label, match_stamp_line
from isp_nlp.ingest.readers import read_transcript
from isp_nlp.records import Transcript


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def turns(t: Transcript) -> list[tuple[str | None, str, float | None]]:
    return [(x.speaker, t.turn_text(x), x.t_start) for x in t.turns]


@pytest.mark.parametrize(
    "text",
    [
        "[00:00:03] Interviewer: How are you?\n[00:00:05] Jane: Fine, thanks.\n"
        "[00:00:09] Interviewer: Good.\n",
        "00:00:03 Interviewer: How are you?\n00:00:05 Jane: Fine, thanks.\n"
        "00:00:09 Interviewer: Good.\n",
        "(00:03) Interviewer: How are you?\n(00:05) Jane: Fine, thanks.\n"
        "(00:09) Interviewer: Good.\n",
        "Interviewer (00:00:03): How are you?\n\nJane (00:00:05): Fine, thanks.\n\n"
        "Interviewer (00:00:09): Good.\n",
        "Interviewer: [00:00:03] How are you?\nJane: [00:00:05] Fine, thanks.\n"
        "Interviewer: [00:00:09] Good.\n",
    ],
    ids=["bracket-before", "bare-before", "paren-before", "rev-inline", "stamp-after"],
)
def test_timestamped_labels_with_a_one_off_name(tmp_path: Path, text: str) -> None:
    # "Jane" labels a single line, but the file labels its turns with times.
    t = read_transcript(write(tmp_path, "stamped.txt", text))
    got = turns(t)
    assert [(s, x) for s, x, _ in got] == [
        ("Interviewer", "How are you?"),
        ("Jane", "Fine, thanks."),
        ("Interviewer", "Good."),
    ]
    assert got[1][2] == 5.0 and got[2][2] == 9.0
    assert t.warnings == ()


def test_rev_label_on_its_own_line(tmp_path: Path) -> None:
    text = (
        "Speaker 1 (00:03):\nSo tell me about the first week.\n\n"
        "Speaker 2 (00:09):\nIt was chaotic.\nBut people were kind.\n\n"
        "Speaker 1 (01:02:03):\nThank you.\n"
    )
    got = turns(read_transcript(write(tmp_path, "rev.txt", text)))
    assert got == [
        ("Speaker 1", "So tell me about the first week.", 3.0),
        ("Speaker 2", "It was chaotic. But people were kind.", 9.0),
        ("Speaker 1", "Thank you.", 3723.0),
    ]


def test_otter_headings(tmp_path: Path) -> None:
    text = (
        "Interview with Jane\n\n"
        "Speaker 1  0:03\nHow did you hear about it?\n\n"
        "Jane Doe  0:07\nA friend told me. We met at 10:30 one morning.\n"
        "Note: we met at 10:30\n\n"
        "Speaker 1\t1:02:03\nThanks.\n"
    )
    t = read_transcript(write(tmp_path, "otter.txt", text))
    assert turns(t) == [
        (None, "Interview with Jane", None),
        ("Speaker 1", "How did you hear about it?", 3.0),
        ("Jane Doe", "A friend told me. We met at 10:30 one morning. Note: we met at 10:30", 7.0),
        ("Speaker 1", "Thanks.", 3723.0),
    ]


def test_prose_with_colons_and_times_is_not_a_label(tmp_path: Path) -> None:
    text = (
        "Interviewer: How was the day?\n"
        "P1: Long.\nNote: we met at 10:30\nYes: that's right, we did.\n"
        "We left at 12:00\n"
        "Interviewer: And then?\nP1: Home.\n"
    )
    got = turns(read_transcript(write(tmp_path, "prose.txt", text)))
    assert [(s, x) for s, x, _ in got] == [
        ("Interviewer", "How was the day?"),
        ("P1", "Long. Note: we met at 10:30 Yes: that's right, we did. We left at 12:00"),
        ("Interviewer", "And then?"),
        ("P1", "Home."),
    ]


def test_label_helpers() -> None:
    assert match_label("Jane Doe  0:03") == match_label("Jane Doe\t0:03")
    heading = match_label("Jane Doe   1:02:03")
    assert heading is not None and (heading.speaker, heading.seconds) == ("Jane Doe", 3723.0)
    assert match_label("We met at 10:30") is None  # one space: prose, not a heading
    assert match_label("Speaker 2 0:03") is not None  # ... unless the name is a known role
    assert match_label("12:00 Noon") is None and match_label("[12:00] Noon") is not None
    assert match_stamp_line("0:0:3.120 --> 0:0:5.600") == 3.12
    assert match_stamp_line("[00:01:02]") == 62.0
    assert match_stamp_line("At 00:01:02") is None
    once = [match_label("Note: one"), match_label("Yes: two")]
    assert accepted_speakers(once) == set()
    assert accepted_speakers([match_label("[00:01] Ann: hi"), match_label("[00:02] Bo: yo")]) == {
        "ann",
        "bo",
    }
    lines = ["0:0:1.0 --> 0:0:2.0", "Jane Doe", "Hello.", "", "0:0:2.0 --> 0:0:3.0", "so what"]
    found = label_lines(lines)
    assert found[1] is not None and found[1].speaker == "Jane Doe" and found[1].seconds == 1.0
    assert found[5] is None  # lower-case text below a timing line is not a name


def test_teams_vtt_voice_spans_and_guid_ids(tmp_path: Path) -> None:
    guid = "c9b3e1a2-5f4d-4c1e-9b7a-2d3e4f5a6b7c"
    vtt = (
        "WEBVTT\n\n"
        f"{guid}/12-0\n00:00:03.120 --> 00:00:05.600\n"
        "<v Jane Doe>How are you today? I wanted</v>\n\n"
        f"{guid}/12-1\n00:00:05.600 --> 00:00:07.000\n<v Jane Doe>to ask about it.</v>\n\n"
        f"{guid}/13-0\n00:00:07.500 --> 00:00:09.000\n<v Bob Smith>Fine, thanks.</v>\n\n"
        f"{guid}/14-0\n00:00:09.100 --> 00:00:11.000\n<v Jane Doe>Good &amp; you?</v>\n"
    )
    t = read_transcript(write(tmp_path, "teams.vtt", vtt))
    assert turns(t) == [
        ("Jane Doe", "How are you today? I wanted to ask about it.", 3.12),
        ("Bob Smith", "Fine, thanks.", 7.5),
        ("Jane Doe", "Good & you?", 9.1),
    ]
    assert guid not in t.text and [x.line for x in t.turns] == [4, 12, 16]


def _teams_docx(path: Path, paragraphs: list[list[str]], *, bold_names: bool = False) -> Path:
    """A .docx whose paragraphs hold lines separated by line breaks, as Teams writes them."""
    import docx

    d = docx.Document()
    for lines in paragraphs:
        p = d.add_paragraph()
        for i, line in enumerate(lines):
            run = p.add_run(line)
            run.bold = bold_names and i == 0
            if i < len(lines) - 1:
                run.add_break()
    d.save(str(path))
    return path


@pytest.mark.parametrize("bold_names", [False, True])
def test_teams_docx_name_and_time_headings(tmp_path: Path, bold_names: bool) -> None:
    paragraphs = [
        ["Jane Doe   0:03", "How did the project start?"],
        ["Bob Smith   0:09", "Slowly. We had no budget."],
        ["Jane Doe   1:02:03", "Thanks, Bob."],
    ]
    path = _teams_docx(tmp_path / "teams.docx", paragraphs, bold_names=bold_names)
    t = read_transcript(path)
    assert turns(t) == [
        ("Jane Doe", "How did the project start?", 3.0),
        ("Bob Smith", "Slowly. We had no budget.", 9.0),
        ("Jane Doe", "Thanks, Bob.", 3723.0),
    ]
    assert [x.line for x in t.turns] == [1, 2, 3]


@pytest.mark.parametrize("one_paragraph_per_line", [False, True])
def test_teams_docx_timing_line_then_name(tmp_path: Path, one_paragraph_per_line: bool) -> None:
    cues = [
        ["0:0:0.0 --> 0:0:5.600", "Jane Doe", "How did the project start?"],
        ["0:0:5.600 --> 0:0:9.120", "Bob Smith", "Slowly."],
        ["0:0:9.120 --> 0:0:12.0", "Jane Doe", "Thanks."],
    ]
    paragraphs = [[line] for cue in cues for line in cue] if one_paragraph_per_line else cues
    t = read_transcript(_teams_docx(tmp_path / "old-teams.docx", paragraphs))
    assert turns(t) == [
        ("Jane Doe", "How did the project start?", 0.0),
        ("Bob Smith", "Slowly.", 5.6),
        ("Jane Doe", "Thanks.", 9.12),
    ]
    assert "-->" not in t.text


def test_unlabelled_file_is_one_turn_per_paragraph_and_warns(tmp_path: Path) -> None:
    text = "We started in March.\nIt was hard.\n\nThen it got better.\n"
    t = read_transcript(write(tmp_path, "plain.txt", text))
    assert turns(t) == [(None, "We started in March. It was hard.", None),
                        (None, "Then it got better.", None)]
    assert t.warnings == (
        "plain.txt: only one speaker found (no speaker labels at all); check the speaker "
        "labels (expected lines such as 'Interviewer: …')",
    )


def test_one_speaker_warns(tmp_path: Path) -> None:
    t = read_transcript(write(tmp_path, "mono.txt", "Jane: Hello.\nJane: Again.\n"))
    assert [w.split(";")[0] for w in t.warnings] == ["mono.txt: only one speaker found ('Jane')"]


def test_one_turn_holding_most_of_the_text_warns(tmp_path: Path) -> None:
    long = " ".join(["This answer goes on and on."] * 100)  # 2,799 characters
    text = f"Interviewer: Tell me.\nP1: {long}\nInterviewer: Thanks.\nP1: Bye.\n"
    t = read_transcript(write(tmp_path, "long.txt", text))
    assert len(t.warnings) == 1
    assert t.warnings[0].startswith(
        "long.txt: one turn of P1 (line 2) holds 99 % of the text (2799 characters)"
    )
    short = read_transcript(write(tmp_path, "short.txt", text.replace(long, "Fine.")))
    assert short.warnings == ()


# --- --skip-speakers ----------------------------------------------------------------


def _cli(*args: str, project: Path):
    from click.testing import CliRunner

    from isp_nlp.cli import cli

    return CliRunner().invoke(cli, ["--project", str(project), *args])


@pytest.fixture
def interview(tmp_path: Path) -> tuple[Path, Path]:
    """An empty project and a two-speaker interview file."""
    from isp_nlp.store.folder import init_project

    project = tmp_path / "proj"
    init_project(project, embedder="hashing-256")
    f = write(tmp_path, "p01.txt", "Interviewer: How did it start?\n\nP01: With webinars.\n\n"
              "Interviewer: And now?\n\nP01: Now we co-design.\n")
    return project, f


def test_misspelt_skip_speaker_is_an_error_and_ingests_nothing(
    interview: tuple[Path, Path], tmp_path: Path
) -> None:
    from isp_nlp.store.folder import open_project

    project, f = interview
    other = write(tmp_path, "p02.txt", "Moderator: Hi.\nP02: Hello.\n")
    r = _cli("ingest", str(f), str(other), "--skip-speakers", "P01, Intervewer", project=project)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert lines == [
        "Error: --skip-speakers names 'Intervewer', but no transcript in this batch has that "
        "speaker; did you mean 'Interviewer'? speakers found: Interviewer, Moderator, P01, P02; "
        "fix the spelling (nothing was ingested)"
    ]
    with open_project(project) as store:
        assert store.transcripts() == []
    ok = _cli("ingest", str(f), "--skip-speakers", "INTERVIEWER", project=project)
    assert ok.exit_code == 0 and "(2 codable)" in ok.output


def test_reingesting_unchanged_file_applies_new_skip_speakers(
    interview: tuple[Path, Path],
) -> None:
    from isp_nlp.project import ingest_files
    from isp_nlp.records import Annotation
    from isp_nlp.store.folder import open_project

    project, f = interview
    with open_project(project) as store:
        (first,) = ingest_files(store, [f], skip_speakers=["Interviewer"])
        before = store.segments()
        question = next(s for s in before if s.speaker == "Interviewer")
        store.import_annotations([Annotation(question.id, "ana", "code", "c1")], source="t")
    assert (first.outcome, first.n_codable) == ("added", 2)

    r = _cli("ingest", str(f), "--skip-speakers", "p01", project=project)
    assert r.exit_code == 0, r.output
    assert "  updated  p01: 4 turns, 4 segments (2 codable)" in r.output
    with open_project(project) as store:
        after = store.segments()
        assert [s.id for s in after] == [s.id for s in before]
        assert [s.codable for s in after] == [True, False, True, False]
        assert [(a.segment_id, a.label) for a in store.annotations()] == [(question.id, "c1")]
        # the same flags again, or no option at all, change nothing
        (same,) = ingest_files(store, [f], skip_speakers=["P01"])
        (kept,) = ingest_files(store, [f])
        assert (same.outcome, kept.outcome, kept.n_codable) == ("unchanged", "unchanged", 2)
        (reset,) = ingest_files(store, [f], skip_speakers=[""])
        assert (reset.outcome, reset.n_codable) == ("updated", 4)
        assert all(s.codable for s in store.segments())


# --- provenance in export-codes / import-codes ------------------------------------------


def _coded_project(root: Path, coded: str | None) -> Path:
    """A project with the demo codebook, one interview and, optionally, a coded CSV imported."""
    from tests.builders.paths import CORPUS

    root.mkdir(parents=True, exist_ok=True)
    project = root / "proj"
    interview = write(root, "t.txt", "Interviewer: How did it start?\n\nP01: With webinars.\n\n"
                      "Interviewer: And now?\n\nP01: We co-design the tools.\n")
    assert _cli("init", str(project), "--embedder", "hashing-256", project=project).exit_code == 0
    loaded = _cli("codebook", "load", str(CORPUS / "codebook.yaml"), project=project)
    assert loaded.exit_code == 0, loaded.output
    assert _cli("ingest", str(interview), project=project).exit_code == 0
    if coded is not None:
        r = _cli("import-codes", str(write(root, "coded.csv", coded)), project=project)
        assert r.exit_code == 0, r.output
    return project


CODED_WITH_PROVENANCE = (
    "document,segment,text,coder,code,stage,provenance\n"
    "t,,With webinars.,ana,didactic_training,push,blind\n"
    "t,,We co-design the tools.,ana,technical_assistance,exchange,Consensus\n"
    "t,,With webinars.,bob,didactic_training,push_pull,assisted\n"
    "t,,We co-design the tools.,bob,,exchange,\n"
)


def test_export_and_import_codes_keep_provenance(tmp_path: Path) -> None:
    import csv

    from isp_nlp.store.folder import open_project

    project = _coded_project(tmp_path / "a", CODED_WITH_PROVENANCE)
    out = tmp_path / "out.csv"
    assert _cli("export-codes", str(out), project=project).exit_code == 0
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["coder"], r["text"], r["provenance"]) for r in rows] == [
        ("ana", "With webinars.", "blind"),
        ("bob", "With webinars.", "assisted"),
        ("ana", "We co-design the tools.", "consensus"),
        ("bob", "We co-design the tools.", "human"),
    ]
    fresh = _coded_project(tmp_path / "b", None)
    r = _cli("import-codes", str(out), project=fresh)
    assert r.exit_code == 0, r.output
    assert "provenance: human 2, assisted 2, blind 2, consensus 2" in r.output
    with open_project(project) as a, open_project(fresh) as b:
        original = a.annotations()
        assert original == b.annotations()
    assert {(x.coder, x.dimension, x.source) for x in original} == {
        ("ana", "code", "blind"), ("ana", "stage", "blind"),
        ("ana", "code", "consensus"), ("ana", "stage", "consensus"),
        ("bob", "code", "assisted"), ("bob", "stage", "assisted"),
        ("bob", "code", "human"), ("bob", "stage", "human"),
    }


def test_unknown_provenance_is_a_one_line_error(tmp_path: Path) -> None:
    from isp_nlp.store.folder import open_project

    project = _coded_project(tmp_path, None)
    bad = CODED_WITH_PROVENANCE.replace("assisted\n", "machine\n")
    r = _cli("import-codes", str(write(tmp_path, "bad.csv", bad)), project=project)
    assert r.exit_code == 2
    problem = ("line 4: provenance is 'machine', expected one of human, assisted, blind, "
               "consensus, model (or empty for human)")
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and problem in errors[0], r.output
    with open_project(project) as store:
        assert store.annotations() == []


def test_teams_docx_directory_names_and_bold_name_with_one_space(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    for name, gap, time, said in [
        ("Doe, Jane (Guest)", "   ", "0:03", "How did it start?"),
        ("Smith, Bob", "   ", "0:09", "Slowly."),
    ]:
        p = d.add_paragraph()
        p.add_run(f"{name}{gap}{time}").add_break()
        p.add_run(said)
    for name, time, said in [("Ana Lima", "0:12", "Thanks."), ("Tom Wu", "0:15", "Bye.")]:
        p = d.add_paragraph()
        p.add_run(name).bold = True
        run = p.add_run(f" {time}")
        run.add_break()
        p.add_run(said)
    d.save(str(tmp_path / "dir.docx"))
    assert turns(read_transcript(tmp_path / "dir.docx")) == [
        ("Doe, Jane (Guest)", "How did it start?", 3.0),
        ("Smith, Bob", "Slowly.", 9.0),
        ("Ana Lima", "Thanks.", 12.0),
        ("Tom Wu", "Bye.", 15.0),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "00:00:03 Interviewer\nHow are you?\n\n00:00:05 Jane Doe\nFine, thanks.\n\n"
        "00:00:09 Interviewer\nGood.\n",  # Word's Transcribe
        "[Interviewer] 00:00:03\nHow are you?\n\n[Jane Doe] 00:00:05\nFine, thanks.\n\n"
        "[Interviewer] 00:00:09\nGood.\n",  # Zoom's audio transcript
        "Interviewer: (00:03)\nHow are you?\n\nJane Doe: (00:05)\nFine, thanks.\n\n"
        "Interviewer: (00:09)\nGood.\n",  # Rev, time after the colon
    ],
    ids=["word-transcribe", "zoom-txt", "rev-colon-first"],
)
def test_time_and_name_above_the_text(tmp_path: Path, text: str) -> None:
    assert turns(read_transcript(write(tmp_path, "x.txt", text))) == [
        ("Interviewer", "How are you?", 3.0),
        ("Jane Doe", "Fine, thanks.", 5.0),
        ("Interviewer", "Good.", 9.0),
    ]


def test_an_answer_that_is_a_time_stays_text(tmp_path: Path) -> None:
    text = "Interviewer: When did you arrive?\nP1: 10:30\nInterviewer: And left?\nP1: 12:00 Noon\n"
    assert [x for _, x, _ in turns(read_transcript(write(tmp_path, "t.txt", text)))] == [
        "When did you arrive?", "10:30", "And left?", "12:00 Noon"]


def test_name_line_then_time_line_then_text(tmp_path: Path) -> None:
    text = ("Jane Doe\n0:03\nHow are you?\n\nBob Smith\n0:05\nFine, thanks.\n\n"
            "Interviewer:\n00:00:09\nGood.\nReally good.\n")
    got = turns(read_transcript(write(tmp_path, "names.txt", text)))
    assert got == [
        ("Jane Doe", "How are you?", 3.0),
        ("Bob Smith", "Fine, thanks.", 5.0),
        ("Interviewer", "Good. Really good.", 9.0),
    ]
    nbsp = match_label("Jane Doe\u00a0\u00a00:03")
    assert nbsp is not None and (nbsp.speaker, nbsp.seconds) == ("Jane Doe", 3.0)


def test_a_schedule_inside_a_labelled_turn_is_text(tmp_path: Path) -> None:
    text = (
        "Interviewer: What was the day like?\n"
        "P1: The schedule was\n09:00\nBreakfast\nwith the team\n10:30\nTraining\nin the hall\n"
        "Interviewer: Long day.\nP1: Yes.\n"
    )
    got = turns(read_transcript(write(tmp_path, "day.txt", text)))
    assert [s for s, _, _ in got] == ["Interviewer", "P1", "Interviewer", "P1"]
    assert got[1][1] == ("The schedule was 09:00 Breakfast with the team 10:30 Training "
                         "in the hall")


def test_ingest_prints_the_speaker_warning(interview: tuple[Path, Path], tmp_path: Path) -> None:
    project, _ = interview
    notes = write(tmp_path, "notes.txt", "We talked about the hub.\n\nThen about money.\n")
    r = _cli("ingest", str(notes), project=project)
    assert r.exit_code == 0, r.output
    assert ("Warning: notes.txt: only one speaker found (no speaker labels at all); check the "
            "speaker labels (expected lines such as 'Interviewer: …')") in r.output
    assert "added  notes: 2 turns, 2 segments (2 codable); speakers: —" in r.output
    skip = _cli("ingest", str(notes), "--skip-speakers", "Interviewer", project=project)
    assert skip.exit_code == 2 and "speakers found: none (no speaker labels)" in skip.output


def test_control_characters_never_reach_the_stored_text_or_document_name(tmp_path):
    from isp_nlp.ingest.readers import read_transcript

    path = tmp_path / "p01\nx\x1b[31m.txt"
    path.write_text("Interviewer: Hello \x1b]0;pwned\x07there.\n\n"
                    "P01: We \u202eevil\u202c trained staff.\n\n"
                    "Interviewer: Thanks.\n\nP01: Bye.\n", encoding="utf-8")
    t = read_transcript(path)
    assert t.document == "p01 x[31m"
    assert "\x1b" not in t.text and "\x07" not in t.text and "\u202e" not in t.text
    assert "Hello ]0;pwnedthere." in t.text and "We evil trained staff." in t.text
