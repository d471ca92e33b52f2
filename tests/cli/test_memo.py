"""`isp-nlp memo`: memos on a segment, a code and a document, kept, listed, logged and
shown by `isp-nlp show`."""

from __future__ import annotations

import json
from pathlib import Path

from isp_nlp.review.queue import ReviewItem
from isp_nlp.review.run import save_memo
from isp_nlp.store.folder import open_project
from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.coded_projects import coded_project


def _project(tmp_path: Path) -> Path:
    project, _, _ = coded_project(tmp_path)
    return project


def _fits(output: str) -> None:
    assert all(len(line) <= 80 for line in output.splitlines()), output


def test_a_memo_on_each_kind_of_target_is_kept_listed_and_logged(tmp_path: Path) -> None:
    project = _project(tmp_path)
    long = "Coaching means weekly feedback on the job, " * 6
    for args in (["--code", "Coaching", long], ["--document", "site1", "Interviewed twice."],
                 ["--segment", "site1#2", "A turning point."]):
        r = run("memo", *args, "--coder", "ana", project=project)
        assert r.exit_code == 0, r.output
        assert r.output.startswith("Memo kept on ") and "by ana." in r.output
    with open_project(project) as store:
        notes = store.notes()
        seg = next(s for s in store.segments(document="site1") if s.index == 2)
        log = [e for e in store.log_rows() if e[2] == "memo"]
    assert [(n.dimension, n.code, n.document, n.start, n.end, n.coder) for n in notes] == [
        ("code", "coaching", None, None, None, "ana"),
        (None, None, "site1", None, None, "ana"),
        (None, None, "site1", seg.start, seg.end, "ana")]
    assert [json.loads(e[6]) for e in log] == [
        {"text": long.strip(), "dimension": "code", "code": "coaching"},
        {"text": "Interviewed twice.", "document": "site1"},
        {"text": "A turning point."}]
    assert [e[4] for e in log] == [None, None, seg.id]
    listed = run("memo", "--code", "coaching", project=project)
    assert listed.exit_code == 0, listed.output
    _fits(listed.output)
    assert listed.output.splitlines()[0].startswith("ana · ")
    assert listed.output.splitlines()[-1] == "1 memo on code coaching."
    by_id = run("memo", "--segment", seg.id, project=project)
    assert "A turning point." in by_id.output and "Interviewed" not in by_id.output
    doc = run("memo", "--document", "site1", "--format", "json", project=project)
    data = json.loads(doc.output)
    assert data["target"] == "document" and [m["text"] for m in data["memos"]] == [
        "Interviewed twice."]
    assert run("memo", "--document", "site1", "--coder", "ben", project=project
               ).output.splitlines() == ["0 memos by ben on document site1."]
    as_file = run("memo", "--document", "site1.docx", project=project)  # a tool's file name
    assert as_file.output.splitlines()[-1] == "1 memo on document site1.", as_file.output


def test_the_review_keeps_its_segment_memos_in_the_same_home(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with open_project(project) as store:
        seg = next(s for s in store.segments() if s.codable)
        item = ReviewItem(segment=seg, previous=None, codes=(), suggested_codes=(), values=(),
                          evidence=(), score=0.0, model_id="m1")
        save_memo(store, "ben", item, "seen in review")
        rows = [e for e in store.log_rows() if e[2] == "memo"]
    assert json.loads(rows[0][6]) == {"text": "seen in review"} and rows[0][5] == "m1"
    listed = run("memo", "--segment", f"{seg.document}#{seg.index}", project=project)
    assert "seen in review" in listed.output and listed.output.splitlines()[0].startswith("ben")


def test_show_prints_code_document_and_segment_memos_once_each(tmp_path: Path) -> None:
    project = _project(tmp_path)
    for args in (["--code", "coaching", "Why coaching."], ["--document", "site0", "About site0."],
                 ["--segment", "site0#1", "On this turn."]):
        assert run("memo", *args, "--coder", "ana", project=project).exit_code == 0
    shown = run("show", "--code", "coaching", project=project)
    assert shown.exit_code == 0, shown.output
    _fits(shown.output)
    lines = shown.output.splitlines()
    assert lines[0] == "memo on code coaching (ana): Why coaching."
    assert lines.count("memo on site0 (ana): About site0.") == 1
    assert "  note (ana): On this turn." in lines
    document = run("show", "--document", "site0", project=project).output.splitlines()
    assert document[0] == "memo on site0 (ana): About site0."
    assert "Why coaching." not in "\n".join(document)


def test_memo_refuses_what_it_cannot_keep_in_one_line(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert_one_line_error(run("memo", "x", "--coder", "a", project=project),
                          "exactly one of --segment ID, --code X or --document D")
    assert_one_line_error(run("memo", "--code", "a", "--document", "b", project=project),
                          "got --code and --document")
    assert_one_line_error(run("memo", "--code", "coachin", "x", "--coder", "a",
                              project=project), "did you mean 'coaching'?")
    assert_one_line_error(run("memo", "--document", "sitee1", project=project),
                          "--document 'sitee1' is not in the project; did you mean 'site1'? "
                          "See `isp-nlp status`")
    assert_one_line_error(run("memo", "--segment", "site9#1", project=project),
                          "matches no segment")
    assert_one_line_error(run("memo", "--code", "coaching", "x", project=project),
                          "--coder NAME")
    assert_one_line_error(run("memo", "--code", "coaching", "  ", "--coder", "a",
                              project=project), "the memo is empty")
    with open_project(project) as store:
        assert store.notes() == []
