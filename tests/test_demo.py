"""`isp-nlp demo` end to end with the real MiniLM model (the README's main job)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli


@pytest.mark.real_model
def test_demo_with_real_model(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = Path(result.output.strip().splitlines()[-1])
    assert report == out / "report.html" and report.is_file()
    assert "all-MiniLM-L6-v2" in result.output
    html = report.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "http://" not in html
    # The demo's small stage evaluation feeds the report's learning curve.
    assert (out / "evaluation.json").is_file()
    assert 'alt="Learning curve' in html

    status = json.loads(CliRunner().invoke(
        cli, ["--project", str(out), "status", "--format", "json"]).output)
    assert status["transcripts"] == 15 and status["codable"] == 520
    assert status["coders"] == ["ana", "ben", "demo_reviewer"]

    agreement = json.loads(CliRunner().invoke(
        cli, ["--project", str(out), "agreement", "--format", "json"]).output)
    assert "model" in json.dumps(agreement)

    # A second run replaces the demo project and reuses nothing stale.
    again = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert again.exit_code == 0, again.output


def test_the_demo_says_what_it_does_and_how_long_each_step_took(demo_project: Path) -> None:
    """On a loaded machine the demo runs for minutes: it never goes quiet for a slow step,
    and it tells the time each one took (issue 23)."""
    lines = (demo_project.parent / "demo-output.txt").read_text(encoding="utf-8").splitlines()
    said: list[str] = []  # each message whole: a continuation line joins the one above
    for line in lines:
        if said and line.startswith("      ") and not line.strip().startswith(
                ("embedding the", "training:")) and not said[-1].endswith("…"):
            said[-1] += " " + line.strip()
        else:
            said.append(line)
    assert said[0].startswith("isp-nlp demo: 8 steps on ")
    slow = {"[5/8] embedded", "[6/8] trained", "[6/8] suggestions", "[8/8] report written"}
    timed = [ln for ln in said if any(ln.startswith(step) for step in slow)]
    assert len(timed) == len(slow), said
    assert all(re.search(r"\((\d+ min )?\d+ s\)", ln) for ln in timed), timed
    assert said.index(next(ln for ln in said if ln.startswith("[6/8] trained"))) - 1 == \
        said.index(next(ln for ln in said if "training: cross-validation" in ln))
    assert re.search(r"the whole demo took (\d+ min )?\d+ s\.$", said[-1]), said[-1]
    assert all(len(line) <= 80 for line in lines), [ln for ln in lines if len(ln) > 80]
