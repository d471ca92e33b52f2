"""`isp-nlp precode`: a new wave pre-coded with a trained project's model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.precode.wave import precode_wave
from isp_nlp.records import Segment, Suggestion
from isp_nlp.report.wave_summary import summarise_transcript
from isp_nlp.store.folder import open_project
from tests.builders.paths import CORPUS, SHARED, require_shared


def _wave(tmp_path: Path) -> Path:
    wave = tmp_path / "wave"
    (wave / "site-b").mkdir(parents=True)
    shutil.copy(CORPUS / "transcripts" / "isp01_child_welfare_coach.txt", wave / "w01.txt")
    shutil.copy(CORPUS / "transcripts" / "isp02_prevention_coalitions.vtt",
                wave / "site-b" / "w02.vtt")
    (wave / "broken.vtt").write_text("WEBVTT\n\n00:00:01.000 --> soon\nhello\n", "utf-8")
    (wave / ".hidden.txt").write_text("Interviewer: not part of the wave\n", "utf-8")
    (wave / "notes.pdf").write_bytes(b"%PDF-1.4 not a transcript")
    return wave


def test_precode_codes_the_readable_files_and_lists_the_broken_one(
        demo_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["precode", str(_wave(tmp_path)), "--from",
                                      str(demo_project), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "skipped  broken.vtt" in result.output
    assert "Pre-coded 2 transcripts" in result.output
    assert "Wrote" in result.output and "wave.qdpx (qdpx)" in result.output
    html = (out / "summary.html").read_text("utf-8")
    assert "broken.vtt" in html and "w01" in html and "site-b/w02.vtt" in html
    assert ".hidden" not in html and "notes.pdf" not in html
    with open_project(out) as wave:
        assert sorted(t["document"] for t in wave.transcripts()) == ["w01", "w02"]
        info = wave.latest_model()
        assert info is not None and (out / info["path"]).is_dir()
        suggestions = wave.suggestions(info["id"])
        codable = [s for s in wave.segments() if s.codable]
        assert {s.segment_id for s in suggestions} == {s.id for s in codable}
        with open_project(demo_project) as seed:
            assert wave.codebook() == seed.codebook()
            assert info["id"] == seed.latest_model()["id"]


def test_a_warm_rerun_scores_again_from_the_cache(demo_project: Path, tmp_path: Path) -> None:
    wave, out = _wave(tmp_path), tmp_path / "out"
    first = precode_wave(wave, demo_project, out)
    again = precode_wave(wave, demo_project, out)
    assert [f.path for f in first.failed] == [f.path for f in again.failed] == ["broken.vtt"]
    assert first.transcripts == again.transcripts
    assert first.segments_scored == again.segments_scored > 0


@pytest.mark.parametrize(("setup", "message"), [
    ("empty", "holds no transcripts"),
    ("same", "is the seed project itself"),
    ("untrained", "has no trained model yet"),
])
def test_a_wave_that_cannot_start_is_one_line_and_exit_2(
        demo_project: Path, project: Path, tmp_path: Path, setup: str, message: str) -> None:
    wave = _wave(tmp_path) if setup != "empty" else tmp_path / "empty"
    wave.mkdir(exist_ok=True)
    source = project if setup == "untrained" else demo_project
    if setup == "untrained":
        shutil.copy(CORPUS / "codebook.yaml", tmp_path / "cb.yaml")
        assert CliRunner().invoke(cli, ["--project", str(project), "codebook", "load",
                                        str(tmp_path / "cb.yaml")]).exit_code == 0
    out = demo_project if setup == "same" else tmp_path / "out"
    result = CliRunner().invoke(cli, ["precode", str(wave), "--from", str(source),
                                      "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_precode_reads_a_folder_of_real_vtt_files(demo_project: Path, tmp_path: Path) -> None:
    folder = require_shared("data", "transcripts-vtt")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["precode", str(folder), "--from", str(demo_project),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    n = len(list(folder.glob("*.vtt")))
    assert f"Pre-coded {n} transcripts" in result.output


def test_summary_counts_codes_abstentions_and_the_stage_sequence() -> None:
    segs = [Segment(f"s{i}", "d", i, i, "turn", "P", 10 * i, 10 * i + 5, "x", i != 1)
            for i in range(5)]
    sug = [Suggestion("s0", "m", "code", "a", 0.9, True), Suggestion("s0", "m", "code", "b", 0.2,
                                                                     False),
           Suggestion("s2", "m", "code", "a", 0.8, True), Suggestion("s2", "m", "code", "b", 0.7,
                                                                     True),
           Suggestion("s0", "m", "stage", "push", 0.9, True),
           Suggestion("s2", "m", "stage", "push", 0.3, False),
           Suggestion("s3", "m", "stage", "exchange", 0.8, True),
           Suggestion("s4", "m", "stage", "exchange", 0.8, True),
           Suggestion("s1", "m", "stage", "none", 0.9, True)]     # not codable: left out
    t = summarise_transcript("d", "d.txt", segs, sug, {"a": "Alpha"})
    assert (t.segments, t.codable) == (5, 4)
    assert t.code_counts == (("Alpha", 2), ("b", 1))
    assert t.no_code_share == 0.5 and t.stage_abstained_share == 0.25
    assert t.stage_sequence == "push → ? → exchange ×2"


def test_the_wave_qdpx_holds_the_suggestions_as_the_model_users_codings(
        demo_project: Path, tmp_path: Path) -> None:
    import zipfile

    import defusedxml.ElementTree as ET

    out = tmp_path / "out"
    outcome = precode_wave(_wave(tmp_path), demo_project, out)
    assert set(outcome.outputs) == {"summary", "qdpx", "csv"}
    with zipfile.ZipFile(out / "wave.qdpx") as z:
        root = ET.fromstring(z.read("project.qde"))
        assert len([n for n in z.namelist() if n.startswith("sources/")]) == 2
    ns = "{urn:QDA-XML:project:1.0}"
    users = {u.get("guid"): u.get("name") for u in root.iter(ns + "User")}
    assert list(users.values()) == [f"isp-nlp model {outcome.model_id}"]
    selections = list(root.iter(ns + "PlainTextSelection"))
    assert selections and all(
        users[c.get("creatingUser")].startswith("isp-nlp model") for s in selections
        for c in s.iter(ns + "Coding"))
    assert all("provenance=model" in (s.findtext(ns + "Description") or "")
               for s in selections)
    with open_project(out) as wave:
        suggested = [s for s in wave.suggestions(outcome.model_id) if s.suggested]
    import csv

    with (out / "suggestions.csv").open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    notes = [r[0] for r in table if r[0].startswith("# ")]
    assert table[:len(notes)] == [[n] for n in notes]  # the trust notes open the file
    assert "not certified" in notes[0]  # the demo's model is not certified
    header = table[len(notes)]
    rows = [dict(zip(header, r, strict=True)) for r in table[len(notes) + 1:]]
    assert sum(r["status"] == "suggested" for r in rows) == len(suggested) > 0
    assert {r["provenance"] for r in rows} == {"model"}
    schema = SHARED / "refi-qda" / "Project.xsd"
    if schema.is_file():
        import xmlschema

        with zipfile.ZipFile(out / "wave.qdpx") as z:
            xmlschema.XMLSchema(str(schema)).validate(z.read("project.qde").decode("utf-8"))


def test_skip_speakers_is_checked_across_the_wave_and_applies_on_a_rerun(
        demo_project: Path, tmp_path: Path) -> None:
    wave, out = _wave(tmp_path), tmp_path / "out"
    result = CliRunner().invoke(cli, ["precode", str(wave), "--from", str(demo_project),
                                      "--out", str(out), "--skip-speakers", "Interviewr"])
    assert result.exit_code == 2 and "did you mean 'Interviewer'" in result.output
    precode_wave(wave, demo_project, out)
    with open_project(out) as store:
        all_codable = sum(s.codable for s in store.segments())
    again = precode_wave(wave, demo_project, out, skip_speakers=["Interviewer"])
    with open_project(out) as store:
        segments = store.segments()
    assert not any(s.codable for s in segments if s.speaker == "Interviewer")
    assert sum(s.codable for s in segments) == again.segments_scored < all_codable
