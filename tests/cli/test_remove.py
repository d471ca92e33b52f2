"""`isp-nlp remove DOCUMENT` takes a document and everything on it, all or nothing, logged;
ingest warns when the same interview arrives under a second name."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.paths import CORPUS

TABLES = ("transcripts", "segments", "annotations", "codings", "notes", "suggestions",
          "suggestion_evidence")


def _counts(project: Path) -> dict[str, int]:
    con = sqlite3.connect(project / "project.sqlite")
    return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def _on(project: Path, document: str) -> dict[str, int]:
    con = sqlite3.connect(project / "project.sqlite")
    seg = ("SELECT s.id FROM segments s JOIN transcripts t ON t.id = s.transcript_id "
           "WHERE t.document = ?")
    return {
        "segments": con.execute(f"SELECT COUNT(*) FROM ({seg})", (document,)).fetchone()[0],
        "annotations": con.execute(f"SELECT COUNT(*) FROM annotations WHERE segment_id IN "
                                   f"({seg})", (document,)).fetchone()[0],
        "suggestions": con.execute(f"SELECT COUNT(*) FROM suggestions WHERE segment_id IN "
                                   f"({seg})", (document,)).fetchone()[0],
    }


def test_remove_takes_the_document_and_everything_on_it(project_copy: Path):
    document = "isp01_child_welfare_coach"
    before, on = _counts(project_copy), _on(project_copy, document)
    assert on["segments"] and on["annotations"] and on["suggestions"]
    result = run("remove", document, "--yes", project=project_copy)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    assert f"{on['segments']} segments" in result.output
    after = _counts(project_copy)
    assert after["transcripts"] == before["transcripts"] - 1
    assert after["segments"] == before["segments"] - on["segments"]
    assert after["annotations"] == before["annotations"] - on["annotations"]
    assert after["suggestions"] == before["suggestions"] - on["suggestions"]
    assert _on(project_copy, document) == {"segments": 0, "annotations": 0, "suggestions": 0}
    con = sqlite3.connect(project_copy / "project.sqlite")
    (detail,) = con.execute("SELECT detail FROM log WHERE action = 'remove'").fetchone()
    assert json.loads(detail)["document"] == document
    assert run("check", project=project_copy).exit_code == 0
    # The rest of the project still works: agreement and the report read it.
    assert run("agreement", "--format", "json", project=project_copy).exit_code == 0


def test_remove_refuses_an_unknown_document_or_no_confirmation(project_copy: Path):
    before = _counts(project_copy)
    result = run("remove", "isp01_child_welfare_coch", "--yes", project=project_copy)
    assert_one_line_error(result, "is not in the project", "did you mean "
                          "'isp01_child_welfare_coach'")
    result = run("remove", "isp01_child_welfare_coach", project=project_copy, input="")
    assert_one_line_error(result, "cannot be undone", "--yes")
    assert _counts(project_copy) == before


def test_ingest_warns_when_the_same_interview_comes_under_another_name(tmp_path: Path):
    project = tmp_path / "proj"
    assert run("init", str(project), "--embedder", "hashing-256").exit_code == 0
    first = CORPUS / "transcripts" / "isp01_child_welfare_coach.txt"
    twin = tmp_path / "interview_one.txt"
    shutil.copyfile(first, twin)
    assert "same text" not in run("ingest", str(first), project=project).output
    result = run("ingest", str(twin), project=project)
    assert result.exit_code == 0, result.output
    assert "interview_one.txt has the same text as document 'isp01_child_welfare_coach'" \
        in " ".join(result.output.split())
    assert "isp-nlp remove interview_one" in result.output
