"""Code colours: YAML/JSON `color`, kept by the project database, exported to .qdc."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook.load import codebook_to_dict, load_codebook
from isp_nlp.interchange.refi_codebook import CODEBOOK_NS, read_refi_codebook
from isp_nlp.store.database import Store, project_db

QDC = f"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="{CODEBOOK_NS}"><Codes>
  <Code guid="00000000-0000-0000-0000-000000000001" name="Strategies" isCodable="true"
        color="#46AA00">
    <Code guid="00000000-0000-0000-0000-000000000002" name="Training" isCodable="true"
          color="#1f77b4"/>
    <Code guid="00000000-0000-0000-0000-000000000003" name="Plain" isCodable="true"/>
  </Code>
  <Code guid="00000000-0000-0000-0000-000000000004" name="Stage" isCodable="false">
    <Code guid="00000000-0000-0000-0000-000000000005" name="push" isCodable="true"
          color="#FF0000"/>
    <Code guid="00000000-0000-0000-0000-000000000006" name="exchange" isCodable="true"/>
  </Code>
</Codes></CodeBook>
"""

YAML = """\
name: coloured
codes:
  - id: strategies
    name: Strategies
    color: "#46AA00"
  - id: training
    name: Training
    parent: strategies
    color: "#1F77B4"
  - id: plain
    name: Plain
stage:
  - {id: push, name: Push, color: "#FF0000"}
  - push_pull
  - exchange
  - none
"""


def _run(*args: str, project: Path):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def _colours(path: Path) -> dict[tuple[str, str], str]:
    book = read_refi_codebook(path).codebook
    return {(c.dimension, c.name): c.color for c in (*book.codes, *book.dimensions[0].values)}


def test_qdc_colours_survive_load_and_export(project: Path, tmp_path: Path) -> None:
    source = tmp_path / "coloured.qdc"
    source.write_text(QDC, encoding="utf-8")
    assert _run("codebook", "load", str(source), project=project).exit_code == 0
    out = tmp_path / "back.qdc"
    result = _run("codebook", "export", "--out", str(out), project=project)
    assert result.exit_code == 0, result.output
    colours = _colours(out)
    assert colours == _colours(source)
    assert colours[("code", "Strategies")] == "#46AA00"
    assert colours[("code", "Training")] == "#1f77b4"
    assert colours[("code", "Plain")] == ""
    assert colours[("stage", "push")] == "#FF0000"


def test_yaml_colours_round_trip_through_the_project(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "coloured.yaml"
    path.write_text(YAML, encoding="utf-8")
    book = load_codebook(path)
    assert [c.color for c in book.codes] == ["#46AA00", "#1F77B4", ""]
    assert book.dimensions[0].values[0].color == "#FF0000"
    assert _run("codebook", "load", str(path), project=project).exit_code == 0
    with Store.open(project_db(project)) as store:
        stored = store.codebook()
    assert stored == book
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(codebook_to_dict(book), sort_keys=False), encoding="utf-8")
    assert load_codebook(again) == book
    out = tmp_path / "coloured.qdc"
    assert _run("codebook", "export", "--out", str(out), project=project).exit_code == 0
    assert _colours(out)[("code", "Training")] == "#1F77B4"


def test_json_codebook_accepts_a_colour_and_the_short_form(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    path.write_text('{"codes": [{"id": "a", "name": "A", "color": "#0A0B0C"},'
                    ' {"id": "b", "name": "B", "color": "#abc"}]}', encoding="utf-8")
    assert [c.color for c in load_codebook(path).codes] == ["#0A0B0C", "#abc"]


@pytest.mark.parametrize(("value", "needle"), [
    ('"green"', "has color 'green', which is not a #RRGGBB colour"),
    ('"#12345"', "has color '#12345', which is not a #RRGGBB colour"),
    ("0x46AA00", "which is not a #RRGGBB colour"),
    ("#46AA00", "unquoted # starts a comment"),
])
def test_bad_colour_is_refused_with_exit_2_naming_the_code(
        project: Path, tmp_path: Path, value: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"codes:\n  - id: trust\n    name: Trust\n    color: {value}\n",
                    encoding="utf-8")
    result = _run("codebook", "load", str(path), project=project)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "code 'trust' (codes[0] at line 2)" in lines[0] and needle in lines[0]
    assert 'color: "#46AA00"' in lines[0]
    with Store.open(project_db(project)) as store:
        assert store.codebook() is None
