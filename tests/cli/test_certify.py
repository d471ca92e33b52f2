"""`isp-nlp certify`: a wave certificate on an audit's blind codes, end to end, shown by
`review`, `status` and the report; and its refusals."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from isp_nlp.store.certificates import certificates
from isp_nlp.store.database import Store, project_db
from isp_nlp.store.decisions import DecisionLog
from tests.builders.coded_projects import STAGE_OF, WORDS, coded_project
from tests.builders.terminal import run


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds from two documents, trained; the third document left to suggest on."""
    folder, _, _ = coded_project(tmp_path_factory.mktemp("certify"), leave_out="site2")
    result = run("train", project=folder)
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def suggested(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _copy(trained, tmp_path_factory.mktemp("suggested"))
    result = run("suggest", project=folder)
    assert result.exit_code == 0, result.output
    return folder


def _copy(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(project, target)
    return target


def _draw(folder: Path, n: int = 14) -> int:
    result = run("audit", "draw", "--n", str(n), "--seed", "1", project=folder)
    assert result.exit_code == 0, result.output
    m = re.search(r"Audit (\d+):", result.output)
    assert m, result.output
    return int(m.group(1))


def _script(folder: Path, audit_id: int, *, wrong: bool = False) -> str:
    """Blind codes for the audit's segments in drawn order: the code whose words the
    segment uses (``wrong``: always the funding code and the stage 'none')."""
    with Store.open(project_db(folder)) as store:
        ids = store.audit_segment_ids(audit_id) or []
        text = {s.id: s.text for s in store.segments()}
    actions = []
    for sid in ids:
        first = text[sid].split()[0].lower()
        code = next(c for c, words in WORDS.items() if first in words.split())
        if wrong:
            actions.append("e:funding|stage=none" if code else "e:training|stage=push")
        else:
            actions.append(f"e:{code}|stage={STAGE_OF[code]}")
    return ",".join(actions)


def _blind(folder: Path, audit_id: int, script: str, coder: str = "zoe") -> None:
    result = run("review", "--blind", "--coder", coder, "--audit", str(audit_id),
                 "--script", script, project=folder)
    assert result.exit_code == 0, result.output


def test_certify_stores_a_certificate_that_review_status_and_report_show(
        suggested: Path, tmp_path: Path) -> None:
    folder = _copy(suggested, tmp_path)
    audit_id = _draw(folder)
    _blind(folder, audit_id, _script(folder, audit_id))
    result = run("certify", "--audit", str(audit_id), project=folder)
    assert result.exit_code == 0, result.output
    out = result.output
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert f"on audit {audit_id}: 14 segments, 14 coded blind, 0 still uncoded" in out
    assert "Stage: certified on audit" in out
    with Store.open(project_db(folder)) as store:
        rows = certificates(store, audit_id=audit_id)
        events = [e for e in DecisionLog(store).entries() if e["action"] == "certify"]
        model_id = store.latest_model()["id"]  # type: ignore[index]
    assert {r["target"] for r in rows} == {"code", "stage"}
    stage = next(r for r in rows if r["target"] == "stage")
    detail = stage["detail"]
    assert stage["model_id"] == model_id and detail["coded"] == 14
    assert detail["audit_size"] == 14 and detail["coders"] == ["zoe"]
    assert detail["agreement"] == 1.0 and detail["threshold"] is not None
    assert detail["lower_bound"] >= detail["target_agreement"]
    assert detail["seeds"]["target"] == detail["target_agreement"]  # the default target
    assert len(events) == 1 and events[0]["model_id"] == model_id
    header = run("review", "--coder", "ana", "--script", "q", project=folder)
    assert f"Wave certificate (audit {audit_id}" in header.output
    assert "Stage: certified on audit" in header.output
    status = run("status", project=folder)
    assert f"Wave certificate (audit {audit_id}" in status.output
    model_lines = status.output.split("Model:\n", 1)[1].splitlines()
    assert all(len(line) <= 80 for line in model_lines), model_lines
    report = tmp_path / "report.html"
    made = run("report", "--out", str(report), project=folder)
    assert made.exit_code == 0, made.output
    html = report.read_text(encoding="utf-8")
    assert "Wave certificates" in html and "Stage: certified on audit" in html


def test_a_wave_that_differs_says_so_with_points(suggested: Path, tmp_path: Path) -> None:
    folder = _copy(suggested, tmp_path)
    audit_id = _draw(folder)
    _blind(folder, audit_id, _script(folder, audit_id, wrong=True))
    result = run("certify", "--audit", str(audit_id), "--format", "table", project=folder)
    assert result.exit_code == 0, result.output
    assert "the wave differs from the seeds" in result.output
    assert "points below the seeds'" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())


def test_uncoded_audit_segments_are_counted_and_json_has_the_numbers(
        suggested: Path, tmp_path: Path) -> None:
    folder = _copy(suggested, tmp_path)
    audit_id = _draw(folder)
    script = ",".join(_script(folder, audit_id).split(",")[:10])
    _blind(folder, audit_id, script)
    result = run("certify", "--target", "0.7", "--format", "json", project=folder)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["audit_id"] == audit_id and data["uncoded"] == 4
    assert {t["target_agreement"] for t in data["targets"]} == {0.7}
    text = run("certify", project=folder).output
    assert "4 still uncoded" in text


def _refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "Traceback" not in message and "\n" not in message, message
    for word in words:
        assert word in message, message


def test_refusals(suggested: Path, trained: Path, tmp_path: Path) -> None:
    folder = _copy(suggested, tmp_path / "a")
    _refused(run("certify", project=folder), "no audit", "audit draw")
    audit_id = _draw(folder)
    _refused(run("certify", "--audit", str(audit_id), project=folder), "no blind codes",
             "review --blind")
    _refused(run("certify", "--audit", "99", project=folder), "no audit 99")
    _blind(folder, audit_id, _script(folder, audit_id))
    _refused(run("certify", "--target", "1.5", project=folder), "--target")
    _refused(run("certify", "--confidence", "1", project=folder), "--confidence")
    bare = _copy(trained, tmp_path / "b")  # trained, never suggested
    audit_id = _draw(bare)
    _blind(bare, audit_id, _script(bare, audit_id))
    _refused(run("certify", project=bare), "no suggestions", "isp-nlp suggest")
