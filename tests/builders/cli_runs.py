"""Running the CLI in-process and checking its one-line errors."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from isp_nlp.cli import cli


def run(*args: str, project: Path | None = None, input: str | None = None) -> Result:
    """``isp-nlp [--project PROJECT] ARGS`` through click's test runner."""
    argv = (["--project", str(project)] if project else []) + list(args)
    return CliRunner().invoke(cli, argv, input=input)


def assert_one_line_error(result: Result, *needles: str) -> None:
    """The command failed with exit 2 and one ``Error:`` line holding every needle."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
