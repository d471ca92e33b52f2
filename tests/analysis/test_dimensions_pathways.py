"""Pathways and the report on a codebook that declares its own dimensions: they follow
the dimension marked ``pathway: true`` (``phase``: early → middle → late), a codebook
without one is refused in one sentence, and the report names the dimension."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from isp_nlp.analysis.pathways import project_pathways, summarize_pathways
from isp_nlp.cli import cli
from isp_nlp.codebook.load import codebook_from_dict
from isp_nlp.store.folder import open_project
from tests.builders.dimension_project import CODEBOOK, FLAT, build


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("phases"))


def _run(project: Path, *args: str):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def test_pathways_follow_the_pathway_dimension(project: Path) -> None:
    result = _run(project, "pathways", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dimension"] == "phase" and data["scale"] == ["early", "middle", "late"]
    assert {p["text"] for p in data["participants"]} == {"early → middle → late"}
    assert [(t["from"], t["to"], t["kind"]) for t in data["transitions"]] == [
        ("early", "middle", "forward"), ("middle", "late", "forward")]
    text = _run(project, "pathways").stdout
    assert "a phase counts from its first run" in text and "stage" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    with open_project(project) as store:
        summary = project_pathways(store, min_run=1)
    assert summary.title == "phase" and summary.dimension.scale == ("early", "middle", "late")


def test_a_leap_and_a_move_back_on_another_scale() -> None:
    phase = codebook_from_dict(yaml.safe_load(CODEBOOK)).pathway
    assert phase is not None
    summary = summarize_pathways({"a": ["early"] * 2 + ["late"] * 2 + ["middle"] * 2},
                                 dimension=phase)
    kinds = {(t.from_stage, t.to_stage): t.kind for t in summary.transitions}
    assert kinds == {("early", "late"): "leap-frog", ("late", "middle"): "backward"}
    empty = summarize_pathways({"a": ["?", "?"]}, dimension=phase)
    assert empty.pathways[0].text == "no phase"
    assert "an early, middle or late label" in empty.notes[0]


def test_a_codebook_without_a_pathway_dimension_is_refused(tmp_path: Path) -> None:
    flat = build(tmp_path / "flat", FLAT, documents=1, turns=4)
    result = _run(flat, "pathways")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "no pathways" in result.output
    no_pathway = CODEBOOK.replace("    pathway: true\n", "")
    other = build(tmp_path / "other", no_pathway, documents=1, turns=4)
    result = _run(other, "pathways")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "(phase, valence) `pathway: true`" in result.output
    report = _run(other, "report", "--out", str(tmp_path / "other.html"))
    assert report.exit_code == 0, report.output
    html = (tmp_path / "other.html").read_text(encoding="utf-8")
    assert "no pathways to trace" in html and "Valence" in html


def test_the_report_names_the_dimension(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = _run(project, "report", "--out", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    words = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert "Phase sequences" in words and "Phase confusion matrix" in words
    assert "Phase" in words and "Valence" in words  # a reliability row per dimension
    assert "the phase values early, middle, late" in words
    assert not re.search(r"\bstages?\b", words, re.IGNORECASE), re.findall(
        r".{40}\bstages?\b.{40}", words, re.IGNORECASE)[:3]
