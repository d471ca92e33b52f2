"""`isp-nlp resolve` names a mistyped document or code's closest match, as import-codes does."""

from __future__ import annotations

from pathlib import Path

from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.review_queue import suggested_project


def test_resolve_says_which_document_and_code_were_meant(tmp_path: Path) -> None:
    project = suggested_project(tmp_path, documents=2, turns=20)
    r = run("--project", str(project), "resolve", "--segment", "interveiw001#3",
            "--codes", "coaching")
    assert_one_line_error(r, "(did you mean 'interview001#3'?)")
    r = run("--project", str(project), "resolve", "--segment", "interview001#3",
            "--codes", "coachng")
    assert_one_line_error(r, "(did you mean 'coaching'?)")
    r = run("--project", str(project), "resolve", "--segment", "interview001#3",
            "--codes", "coaching")
    assert r.exit_code == 0, r.output
