"""What `isp-nlp import` prints about a real QDA export keeps to 80 columns: warnings and
missing sources wrap, indented, instead of running to 200 columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from tests.builders.paths import require_shared


@pytest.mark.parametrize("name", ["nvivo-mac-12.7-export.qdpx",
                                  "atlasti-8.4-standard-project.qde"])
def test_import_output_fits_80_columns(tmp_path: Path, name: str) -> None:
    export = require_shared("refi-qda", name)
    project = tmp_path / "p"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(project), "--embedder", "hashing-256"]).exit_code == 0
    result = runner.invoke(cli, ["--project", str(project), "import", str(export)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("Warning: ") for line in lines), result.output
    long = [line for line in lines if len(line) > 80 and len(line.split()) > 1]
    assert long == [], long
    assert all(len(line) <= 80 for line in lines if line.startswith("Warning: "))
