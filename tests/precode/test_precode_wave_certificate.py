"""`precode` points to the wave certificate: it prints the audit commands for the documents
it pre-coded, and once the wave is certified, its statement ends with the certificate."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.cli.precode import AUDIT_SIZE, audit_commands
from tests.builders.paths import CORPUS


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_the_audit_commands_name_the_project_documents_and_size() -> None:
    steps = audit_commands(Path("out dir"), ["w01", "w02"], 500)
    assert steps[0] == (f"isp-nlp --project 'out dir' audit draw --n {AUDIT_SIZE} "
                        "--document w01 --document w02")
    assert steps[1].endswith("review --blind --coder NAME --audit ID")
    assert steps[2].endswith("certify --audit ID")
    assert audit_commands(Path("o"), ["w"], 7)[0].startswith("isp-nlp --project o audit "
                                                             "draw --n 7 ")


def test_precode_prints_the_next_steps_and_then_shows_the_certificate(
        demo_project: Path, tmp_path: Path) -> None:
    wave = tmp_path / "wave"
    wave.mkdir()
    shutil.copy(CORPUS / "transcripts" / "isp01_child_welfare_coach.txt", wave / "w01.txt")
    out = tmp_path / "out"
    first = _run("precode", str(wave), "--from", str(demo_project), "--out", str(out))
    assert first.exit_code == 0, first.output
    flat = " ".join(first.output.split())  # the temporary folder's path wraps the lines
    assert "audit draw --n" in flat and "--document w01" in flat
    assert "certify --audit ID" in flat
    assert all(len(line) <= 80 for line in first.output.splitlines()
               if "/" not in line)  # paths of the temporary folder may be longer
    drawn = _run("--project", str(out), "audit", "draw", "--n", "5", "--seed", "1")
    audit_id = re.search(r"Audit (\d+):", drawn.output).group(1)  # type: ignore[union-attr]
    coded = _run("--project", str(out), "review", "--blind", "--coder", "zoe", "--audit",
                 audit_id, "--script", "e:,e:,e:,e:,e:")
    assert coded.exit_code == 0, coded.output
    certified = _run("--project", str(out), "certify", "--target", "0.6")
    assert certified.exit_code == 0, certified.output
    again = _run("precode", str(wave), "--from", str(demo_project), "--out", str(out))
    assert again.exit_code == 0, again.output
    assert f"Wave certificate (audit {audit_id}" in again.output
    assert f"Wave certificate (audit {audit_id}" in (out / "summary.html").read_text("utf-8")
