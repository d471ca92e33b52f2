"""`isp-nlp log`: the audit trail by coder and time, as a table, JSON or formula-safe CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from isp_nlp.cli import cli


def _run(project: Path, *args: str):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def test_log_filters_by_coder_and_time_and_writes_csv(project_copy: Path) -> None:
    done = _run(project_copy, "review", "--coder", "=zoe", "--script", "a,s,q")
    assert done.exit_code == 0, done.output
    everything = json.loads(_run(project_copy, "log", "--format", "json").output)
    mine = json.loads(_run(project_copy, "log", "--coder", "=zoe", "--format", "json").output)
    assert [e["action"] for e in mine] == ["accept", "skip"]
    assert len(everything) > len(mine)
    last = mine[-1]["at"]
    later = json.loads(_run(project_copy, "log", "--since", last, "--format", "json").output)
    assert [e["id"] for e in later] == [mine[-1]["id"]]
    assert json.loads(_run(project_copy, "log", "--since", "2999-01-01", "--format",
                           "json").output) == []
    day = last[:10]  # a date alone is that day's midnight, UTC
    assert len(json.loads(_run(project_copy, "log", "--since", day, "--format",
                               "json").output)) >= 2
    text = _run(project_copy, "log", "--coder", "=zoe", "--format", "csv").output
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["id", "at", "coder", "action"]
    assert [r[3] for r in rows[1:]] == ["accept", "skip"]
    assert all(r[2] == "'=zoe" for r in rows[1:])  # a formula-looking name is neutralised


def test_a_bad_since_is_one_plain_sentence(project_copy: Path) -> None:
    result = _run(project_copy, "log", "--since", "last tuesday")
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--since 'last tuesday' is not a date or time" in lines[0]


def test_the_table_names_an_imports_source_and_fits_80_columns(project_copy: Path) -> None:
    assert _run(project_copy, "review", "--coder", "tab", "--script", "e:co_creation,q"
                ).exit_code == 0
    text = _run(project_copy, "log").output
    lines = text.splitlines()
    first = lines.index(next(ln for ln in lines if " import" in ln))
    assert "from " in lines[first + 1] and "seed_codes.csv" in lines[first + 1]
    assert "rows=" in lines[first + 1]
    assert any("co_creation" in ln for ln in lines[-3:]), text
    assert all(len(ln) <= 80 or len(ln.split()) == 1 for ln in lines), text
    rows = list(csv.reader(io.StringIO(_run(project_copy, "log", "--format", "csv").output)))
    assert rows[0][-1] == "detail"
    (imported,) = [r for r in rows[1:] if r[3] == "import"][:1]
    assert json.loads(imported[-1])["source"].endswith("seed_codes.csv")
