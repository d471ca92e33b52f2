"""`isp-nlp show`: every segment coded X, or saying TEXT, or of a document, in context."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.records import Note
from isp_nlp.store.folder import open_project
from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.coded_projects import coded_project


def _project(tmp_path: Path) -> Path:
    project, _, _ = coded_project(tmp_path)
    return project


def test_show_a_code_lists_each_coded_segment_with_coders_and_context(tmp_path: Path):
    project = _project(tmp_path)
    with open_project(project) as store:
        coded = {a.segment_id for a in store.annotations()
                 if a.dimension == "code" and a.label == "coaching"}
        seg = next(s for s in store.segments() if s.id in coded)
        store.add_notes([Note("memo", "check\x1b[31m this", coder="ana",
                              document=seg.document, start=seg.start, end=seg.end)])
    result = run("show", "--code", "coaching", project=project)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == f"{len(coded)} segments"
    assert all(len(line) <= 80 for line in lines)
    assert "\x1b" not in result.output
    assert "ana (human): coaching" in result.output
    assert "note (ana): check" in result.output
    assert sum(1 for line in lines if line.startswith("site")) == len(coded)
    assert any(line.startswith("… P0") for line in lines)  # the previous turn


def test_show_combines_search_document_and_a_dimension_value(tmp_path: Path):
    project = _project(tmp_path)
    with open_project(project) as store:
        expected = [s for s in store.segments(document="site1") if "turn 1" in s.text.lower()]
    result = run("show", "--search", "TURN 1", "--document", "site1", project=project)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"{len(expected)} segments"
    result = run("show", "--code", "stage=exchange", "--limit", "2", project=project)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 segments (--limit reached)"
    assert "stage=exchange" in result.output


def test_show_refuses_unknown_codes_and_no_filter(tmp_path: Path):
    project = _project(tmp_path)
    assert_one_line_error(run("show", "--code", "coachin", project=project),
                          "is not a code", "did you mean 'coaching'?")
    assert_one_line_error(run("show", "--code", "stage=later", project=project),
                          "is not a value of stage")
    assert_one_line_error(run("show", project=project), "--code CODE, --search TEXT")
    assert_one_line_error(run("show", "--document", "nope", project=project),
                          "'nope' is not in the project")
