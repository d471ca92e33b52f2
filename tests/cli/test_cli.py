"""Every command through click's CliRunner: output, exit status, one-line errors."""

from __future__ import annotations

import ast
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from isp_nlp.cli import COMMANDS, all_commands, cli
from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.paths import CORPUS, REPO, require_shared


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    assert run("init", str(d), "--embedder", "hashing-256").exit_code == 0
    return d


COMMANDS_DOC = REPO / "docs" / "commands.md"


def _leaf_commands() -> dict[str, click.Command]:
    """Every command a user types, by name (``codebook load`` for a group's subcommand)."""
    out: dict[str, click.Command] = {}
    for name, cmd in all_commands().items():
        if isinstance(cmd, click.Group):
            out.update({f"{name} {sub}": subcmd for sub, subcmd in cmd.commands.items()})
        else:
            out[name] = cmd
    return out


def _options(cmd: click.Command) -> set[str]:
    """The long option names of a command (both sides of a --flag/--no-flag pair), no --help."""
    names = {opt for p in cmd.params if isinstance(p, click.Option)
             for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}
    return names - {"--help"}


def _synopses() -> dict[str, str]:
    """Each ``### isp-nlp NAME`` section of docs/commands.md mapped to its synopsis (the first
    fenced block after the heading); the page's first fenced block is the top-level one."""
    text = COMMANDS_DOC.read_text(encoding="utf-8")
    out = {"": re.search(r"^```\n(.*?)^```", text, re.M | re.S).group(1)}  # type: ignore[union-attr]
    for m in re.finditer(r"^### isp-nlp ([^\n]+)\n\n```\n(.*?)^```", text, re.M | re.S):
        assert m.group(1) not in out, f"docs/commands.md documents `isp-nlp {m.group(1)}` twice"
        out[m.group(1)] = m.group(2)
    return out


def test_every_command_has_help_and_a_documented_synopsis() -> None:
    """docs/commands.md has a section per command whose synopsis names exactly its options."""
    synopses = _synopses()
    commands = _leaf_commands()
    for name, cmd in commands.items():
        assert cmd.help, f"command {name} has no help text"
        assert run(*name.split(), "--help").exit_code == 0
        assert name in synopses, f"docs/commands.md has no `### isp-nlp {name}` section"
        synopsis = synopses[name]
        assert all(line.startswith(f"isp-nlp {name}") for line in synopsis.splitlines()), \
            f"the synopsis of `isp-nlp {name}` is not a usage line of it: {synopsis!r}"
        documented = set(re.findall(r"--[a-z][a-z0-9-]*", synopsis))
        assert documented == _options(cmd), (
            f"`isp-nlp {name}`: docs/commands.md's synopsis names {sorted(documented)}, "
            f"the command has {sorted(_options(cmd))}")
    assert set(synopses) - {""} <= set(commands), \
        f"docs/commands.md documents commands isp-nlp lacks: {set(synopses) - {''} - set(commands)}"
    assert set(re.findall(r"--[a-z][a-z0-9-]*", synopses[""])) == _options(cli)


def test_init_ingest_status(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "p01.txt"
    f.write_text("Interviewer: How did it start?\n\nP01: With webinars, mostly.\n"
                 "Then coaching.\n\nInterviewer: And now?\n\nP01: Now we co-design.\n",
                 encoding="utf-8")
    r = run("ingest", str(f), "--skip-speakers", "Interviewer", project=project)
    assert r.exit_code == 0, r.output
    assert "added" in r.output and "4 turns" in r.output and "2 codable" in r.output
    again = run("ingest", str(f), project=project)
    assert "unchanged" in again.output
    status = json.loads(run("status", "--format", "json", project=project).output)
    assert status["transcripts"] == 1 and status["codable"] == 2


def test_changed_file_needs_replace(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "p02.txt"
    f.write_text("A: one\n\nB: two\n\nA: three\n", encoding="utf-8")
    assert run("ingest", str(f), project=project).exit_code == 0
    f.write_text("A: one\n\nB: two changed\n\nA: three\n", encoding="utf-8")
    assert_one_line_error(run("ingest", str(f), project=project), "p02.txt", "--replace")
    assert "replaced" in run("ingest", str(f), "--replace", project=project).output


def test_no_project_is_a_clear_error(tmp_path: Path) -> None:
    assert_one_line_error(run("status", project=tmp_path / "none"), "isp-nlp init")


@pytest.mark.parametrize(
    "name, content, needle",
    [
        ("missing.txt", None, "missing.txt"),
        ("empty.txt", b"", "empty.txt"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "binary.txt"),
        ("bad.txt", b"Interviewer: caf\xc3\xa9\n\nP1: \x81\x8d\x90 broken\n", "bad.txt"),
        ("notes.pdf", b"%PDF-1.4", ".pdf"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "broken.docx"),
    ],
)
def test_bad_transcripts_give_one_line_and_exit_2(project: Path, tmp_path: Path, name,
                                                  content, needle) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    good = tmp_path / "good.txt"
    good.write_text("A: fine\n\nB: also fine\n", encoding="utf-8")
    result = run("ingest", str(good), str(path), project=project)
    assert_one_line_error(result, needle)
    # The batch is all-or-nothing: the good file was not stored either.
    assert json.loads(run("status", "--format", "json", project=project).output)[
        "transcripts"] == 0


def test_cp1252_is_read_with_a_warning(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "win.txt"
    f.write_bytes("Interviewer: Caf\u00e9 \u2013 ok?\r\n\r\nP1: Yes \u2019fine\u2019.\r\n"
                  .encode("cp1252"))
    r = run("ingest", str(f), project=project)
    assert r.exit_code == 0, r.output
    assert "Warning:" in r.output and "cp1252" in r.output.lower()


def test_vtt_edge_cases_never_traceback(project: Path) -> None:
    folder = require_shared("data", "vtt-edge-cases")
    for path in sorted(folder.iterdir()):
        result = run("ingest", str(path), project=project)
        assert result.exit_code in (0, 2), (path.name, result.output)
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert_one_line_error(result, path.name)


def test_annomi_vtt_has_66_turns(project: Path) -> None:
    path = require_shared("data", "transcripts-vtt", "annomi_t7_zoom.vtt")
    r = run("ingest", str(path), project=project)
    assert r.exit_code == 0, r.output
    assert "66 turns" in r.output
    con = sqlite3.connect(project / "project.sqlite")
    speakers = {s for (s,) in con.execute("SELECT DISTINCT speaker FROM segments")}
    assert speakers == {"Therapist", "Client"}
    assert con.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 66


def test_codebook_check_and_cycle(tmp_path: Path) -> None:
    ok = run("codebook", "check", str(CORPUS / "codebook.yaml"))
    assert ok.exit_code == 0 and "OK" in ok.output
    cyc = tmp_path / "cycle.yaml"
    cyc.write_text("codes:\n  - {id: a, name: A, parent: b}\n  - {id: b, name: B, parent: a}\n",
                   encoding="utf-8")
    result = run("codebook", "check", str(cyc))
    assert_one_line_error(result, "cycle.yaml")
    assert re.search(r"a → b → a|b → a → b", result.output)


def test_codebook_check_says_what_the_file_is_and_how_to_load_it() -> None:
    qdc = require_shared("refi-qda", "atlasti-win-23.4.0.qdc")
    result = run("codebook", "check", str(qdc))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "It is a REFI-QDA codebook; make it this project's with `isp-nlp codebook load " \
           f"{qdc}`." in text
    assert all(len(line) <= 80 or len(line.split()) == 1 for line in result.output.splitlines())


def test_import_codes_unknown_code_imports_nothing(project: Path, tmp_path: Path) -> None:
    run("codebook", "load", str(CORPUS / "codebook.yaml"), project=project)
    f = tmp_path / "p03.txt"
    f.write_text("Interviewer: Tell me.\n\nP03: We ran webinars.\n\nP03b: And coached.\n",
                 encoding="utf-8")
    run("ingest", str(f), project=project)
    csv = tmp_path / "codes.csv"
    csv.write_text(
        "document,segment,text,coder,code,stage\n"
        "p03,,We ran webinars.,ana,didactic_training,push\n"
        "p03,,And coached.,ana,capacity_bulding,push_pull\n",
        encoding="utf-8")
    result = run("import-codes", str(csv), project=project)
    assert result.exit_code == 2
    assert "capacity_bulding" in result.output and "Traceback" not in result.output
    con = sqlite3.connect(project / "project.sqlite")
    assert con.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 0


def test_review_interactive_then_resume(project_copy: Path) -> None:
    first = run("review", "--coder", "zoe", project=project_copy, input="a" "s" "q")
    assert first.exit_code == 0, first.output
    assert "accept" in first.output.lower()
    log = json.loads(run("log", "--coder", "zoe", "--format", "json",
                         project=project_copy).output)
    assert [e["action"] for e in log] == ["accept", "skip"]
    accepted = log[0]["segment_id"]
    # Resume: the accepted item is not shown again; undo restores it.
    second = run("review", "--coder", "zoe", "--script", "u,q", project=project_copy)
    assert second.exit_code == 0, second.output
    log = json.loads(run("log", "--coder", "zoe", "--format", "json",
                         project=project_copy).output)
    assert [e["action"] for e in log] == ["accept", "skip", "undo"]
    assert log[1]["undone"] and not log[0]["undone"]
    con = sqlite3.connect(project_copy / "project.sqlite")
    n = con.execute("SELECT COUNT(*) FROM annotations WHERE coder='zoe' AND segment_id=? AND "
                    "retracted_by IS NULL AND source='assisted'", (accepted,)).fetchone()[0]
    assert n >= 1


def test_agreement_formats(demo_project: Path) -> None:
    data = json.loads(run("agreement", "--format", "json", project=demo_project).output)
    text = json.dumps(data)
    assert "stage" in text and "model" in text and "ana" in text
    csv = run("agreement", "--format", "csv", project=demo_project).output
    assert csv.splitlines()[0].count(",") >= 4
    table = run("agreement", project=demo_project)
    assert table.exit_code == 0 and "kappa" in table.output.lower()


def test_report_and_export(demo_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = run("report", "--out", str(out), project=demo_project)
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    csv = tmp_path / "codes.csv"
    r = run("export-codes", str(csv), project=demo_project)
    assert r.exit_code == 0, r.output
    header = csv.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("document,segment,text,coder,code")


def test_every_command_loads_by_name_and_help_lists_them_all() -> None:
    """The lazily loaded group knows every command, and `--help` names each one."""
    commands = all_commands()
    assert set(commands) == set(COMMANDS)
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()}
    assert listed == set(COMMANDS)


def test_a_command_imports_only_its_own_module() -> None:
    """`isp-nlp review` does not import the modules of other commands (start-up time)."""
    code = ("import sys; from click.testing import CliRunner; from isp_nlp.cli import cli; "
            "CliRunner().invoke(cli, ['review', '--help']); "
            "print(sorted(m for m in sys.modules if m.startswith('isp_nlp.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    loaded = set(ast.literal_eval(out.strip().splitlines()[-1]))
    assert "isp_nlp.cli.review" in loaded
    assert not loaded & {"isp_nlp.cli.interchange", "isp_nlp.cli.report",
                         "isp_nlp.cli.agreement", "isp_nlp.cli.suggester"}, loaded
