"""Commands people wait on must not import torch or sentence-transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "sentence_transformers", "spacy", "transformers")

PROBE = """
import json, sys
from click.testing import CliRunner
from isp_nlp.cli import cli
result = CliRunner().invoke(cli, sys.argv[1:], catch_exceptions=False)
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"exit": result.exit_code, "heavy": heavy, "out": result.output[-600:]}}))
"""


def run_probe(*args: str) -> dict:
    code = PROBE.format(heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["review", "--help"],
        ["agreement", "--help"],
        ["log", "--help"],
    ],
)
def test_help_does_not_import_torch(args: list[str]) -> None:
    r = run_probe(*args)
    assert r["exit"] == 0
    assert r["heavy"] == []


def test_review_agreement_log_do_not_import_torch(project_copy: Path) -> None:
    """On a real project with a trained model and suggestions (a private copy: the
    review decides, and the shared demo project must stay as built)."""
    for args in (
        ["--project", str(project_copy), "review", "--coder", "zoe", "--script", "a,s,q"],
        ["--project", str(project_copy), "agreement", "--format", "json"],
        ["--project", str(project_copy), "log", "--format", "json"],
    ):
        r = run_probe(*args)
        assert r["exit"] == 0, r
        assert r["heavy"] == [], (args, r["heavy"])


def test_ingesting_by_sentence_does_not_import_torch(tmp_path: Path) -> None:
    """spaCy's sentencizer is loaded with torch hidden: segmenting never pays for torch."""
    transcript = tmp_path / "t.txt"
    transcript.write_text("Interviewer: Hello. How are you?\n\nP01: Fine. Thanks a lot.\n",
                          encoding="utf-8")
    project = tmp_path / "p"
    assert run_probe("init", str(project), "--embedder", "hashing-256")["exit"] == 0
    out = run_probe("--project", str(project), "ingest", "--unit", "sentence", str(transcript))
    assert out["exit"] == 0, out["out"]
    assert "torch" not in out["heavy"] and "transformers" not in out["heavy"]
    assert "4 segments" in out["out"]


#: What a command people wait on must not pay for at start-up (issue 21, item 6).
SCIENTIFIC = ("sklearn", "scipy", "pandas", "matplotlib", "torch")

SYS_MODULES_PROBE = """
import json, sys
from click.testing import CliRunner
from isp_nlp.cli import cli
result = CliRunner().invoke(cli, sys.argv[1:], catch_exceptions=False)
print(json.dumps({{"exit": result.exit_code, "out": result.output[-600:],
                  "loaded": [m for m in {names!r} if m in sys.modules]}}))
"""


def loaded_by(*args: str) -> dict:
    """Run the CLI with ``args`` in a fresh interpreter; which of SCIENTIFIC it imported."""
    code = SYS_MODULES_PROBE.format(names=SCIENTIFIC)
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_imports_no_scientific_stack() -> None:
    r = loaded_by("--help")
    assert r["exit"] == 0 and "review" in r["out"]
    assert r["loaded"] == []


def test_review_first_screen_imports_no_scientific_stack(demo_project: Path) -> None:
    """The trust statement and the first item of a trained project, then quit."""
    r = loaded_by("--project", str(demo_project), "review", "--coder", "zoe", "--script", "q")
    assert r["exit"] == 0, r
    assert "Review by zoe" in r["out"]
    assert r["loaded"] == [], r["loaded"]


@pytest.mark.parametrize("module", SCIENTIFIC)
def test_status_imports_no_scientific_module(demo_project: Path, module: str) -> None:
    r = loaded_by("--project", str(demo_project), "status")
    assert r["exit"] == 0, r
    assert "certified" in r["out"]  # the trust statement of the trained model
    assert module not in r["loaded"]


#: The full-screen review's library: only the full screen may import it.
SCREEN = ("textual",)


def test_review_help_and_line_mode_do_not_import_textual(project_copy: Path) -> None:
    """``review --help``, a scripted review and ``--line`` (stdin is no terminal here, so
    the review runs line by line) never import Textual (nor torch)."""
    code = SYS_MODULES_PROBE.format(names=SCREEN + HEAVY)
    for args in (["review", "--help"],
                 ["--project", str(project_copy), "review", "--coder", "zoe", "--script", "s,q"],
                 ["--project", str(project_copy), "review", "--coder", "zoe", "--line"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, timeout=120, input="q")
        assert proc.returncode == 0, proc.stderr
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        assert r["exit"] == 0, r
        assert r["loaded"] == [], (args, r["loaded"])
