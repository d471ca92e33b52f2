"""`isp-nlp demo` end to end with the real MiniLM model (the README's main job)."""

from __future__ import annotations

import json
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
