"""Nothing a file brings (code, coder, document or file names, texts) acts on the terminal.

A project whose every name carries an escape sequence, an OSC title sequence, the
right-to-left override (U+202E), a C1 CSI (U+009B) and, where a format allows it, a line
break, is put through every command of the CLI: no raw control character may reach
stdout or stderr, JSON stays JSON, and an error is one line.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import Result

from isp_nlp.cli import all_commands, cli
from isp_nlp.cli.common import TerminalStream
from isp_nlp.ingest.controls import CONTROLS, one_line, terminal_text
from isp_nlp.store.folder import open_project
from tests.builders.terminal import (
    ESC,
    FORGED,
    HOSTILE,
    OSC,
    RLO,
    Hostile,
    hostile_transcript,
    run,
)

ZIP_MEMBER = "../\x1b[2J\x1b[31mFAKE\nError: all good"


def _copy(h: Hostile, tmp: Path) -> Path:
    dest = tmp / ("copy" + ESC)
    shutil.copytree(h.project, dest)
    return dest


def _dedoose(h: Hostile, tmp: Path, p: Path) -> Path:
    with open_project(p) as store:
        s = next(x for x in store.segments() if x.codable)
    sheet = tmp / ("dedoose" + ESC + ".csv")
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["Media Title", "Excerpt Range", "Excerpt Creator", "Excerpt Copy",
                    "Codes Applied Combined"])
        w.writerow([s.document, "0-10", "dee" + HOSTILE, s.text, "Gamma" + HOSTILE])
    return sheet


def _wave(tmp: Path) -> Path:
    wave = tmp / ("wave" + ESC)
    wave.mkdir()
    for i in range(2):
        (wave / f"w{i}{HOSTILE}.txt").write_text(hostile_transcript(i), "utf-8")
    (wave / f"broken{OSC}.vtt").write_text("WEBVTT\n\n00:00:01.000 --> soon\nhi\n", "utf-8")
    return wave


def _corpus(h: Hostile, tmp: Path) -> Path:
    corpus = tmp / "corpus"
    (corpus / "transcripts").mkdir(parents=True)
    shutil.copy(h.codebook, corpus / "codebook.yaml")
    shutil.copy(h.seed, corpus / "seed_codes.csv")
    for doc in h.transcripts:
        shutil.copy(doc, corpus / "transcripts" / doc.name)
    return corpus


def _qdpx(h: Hostile, tmp: Path, p: Path) -> Path:
    out = tmp / "hostile.qdpx"
    r = run("export", "--out", str(out), "--include-suggestions", project=p)
    assert r.exit_code == 0, r.output
    return out


def _names_csv(tmp: Path) -> Path:
    names = tmp / "names.csv"
    # A pseudonym holding a control is refused (tests/builders/hostile.py); this one is plain,
    # and the project's speaker labels and texts carry the controls the output must hide.
    names.write_text("name,pseudonym\nP00,Person\n", "utf-8")
    return names


def _evaluate_csv(h: Hostile, tmp: Path) -> Path:
    text = h.seed.read_text("utf-8")
    out = tmp / "coded.csv"
    out.write_text(text.replace(",alpha,", ",alpha" + ESC + ",").replace(",beta,",
                                                                        ",beta" + RLO + ","),
                   "utf-8")
    return out


def _import_decisions(h: Hostile, t: Path, p: Path) -> list[str]:
    """A triage sheet exported from the hostile project (hostile names and texts in it)."""
    sheet = t / ("sheet" + HOSTILE + ".csv")
    exported = run("export-suggestions", "--out", str(sheet), project=p)
    assert exported.exit_code == 0, exported.output
    return ["import-decisions", str(sheet), "--coder", "d" + HOSTILE]


def _certify(h: Hostile, t: Path, p: Path) -> list[str]:
    """An audit of the hostile project coded blind by a hostile coder name, to certify."""
    drawn = run("audit", "draw", "--n", "3", "--seed", "1", project=p)
    assert drawn.exit_code == 0, drawn.output
    coded = run("review", "--blind", "--coder", "b" + HOSTILE, "--audit", "1", "--script",
                "e:,e:,e:", project=p)
    assert coded.exit_code == 0, coded.output
    return ["certify", "--target", "0.5", "--coder", "c" + HOSTILE]


def _memo(h: Hostile, t: Path, p: Path) -> list[str]:
    """A hostile memo on a hostile document by a hostile coder, then listed."""
    document = _document(p)
    written = run("memo", "--document", document, "memo " + HOSTILE + FORGED, "--coder",
                  "m" + HOSTILE, project=p)
    assert written.exit_code == 0, written.output
    return ["memo", "--document", document]


def _attributes_csv(h: Hostile, t: Path, p: Path) -> Path:
    """Attributes whose names and values carry the hostile characters (and a forged line)."""
    sheet = t / ("attributes" + HOSTILE + ".csv")
    with open(sheet, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["document", "role" + HOSTILE, "site" + FORGED])
        with open_project(p) as store:
            for i, doc in enumerate(t["document"] for t in store.transcripts()):
                w.writerow([doc, f"r{i % 2}" + HOSTILE, "north" + FORGED])
    return sheet


def _attribute_table(h: Hostile, t: Path, p: Path) -> list[str]:
    imported = run("attributes", str(_attributes_csv(h, t, p)), project=p)
    assert imported.exit_code == 0, imported.output
    return ["attributes", "--table", "role" + HOSTILE]


def _attributes_listed(h: Hostile, t: Path, p: Path) -> list[str]:
    assert run("attributes", str(_attributes_csv(h, t, p)), project=p).exit_code == 0
    return ["attributes"]


def _bad_attributes(h: Hostile, t: Path, p: Path) -> list[str]:
    sheet = t / ("bad" + HOSTILE + ".csv")
    sheet.write_text('document,role\n"x' + HOSTILE + FORGED + '",a\n', "utf-8")
    return ["attributes", str(sheet)]


#: Each case: (command path, a function of (hostile, tmp folder, project copy) giving the
#: arguments after ``--project COPY``).
Case = Callable[[Hostile, Path, Path], list[str]]
CASES: dict[str, Case] = {
    "init": lambda h, t, p: ["init", str(t / ("new" + HOSTILE)), "--embedder", "hashing-256"],
    "ingest": lambda h, t, p: ["ingest", "--replace", *map(str, h.transcripts)],
    "codebook check": lambda h, t, p: ["codebook", "check", str(h.codebook)],
    "codebook load": lambda h, t, p: ["codebook", "load", str(h.codebook)],
    "codebook show": lambda h, t, p: ["codebook", "show"],
    "codebook export": lambda h, t, p: ["codebook", "export", "--out",
                                        str(t / ("cb" + HOSTILE + ".qdc"))],
    "import-codes": lambda h, t, p: ["import-codes", str(h.seed)],
    "export-codes": lambda h, t, p: ["export-codes", str(t / ("codes" + HOSTILE + ".csv"))],
    "embed": lambda h, t, p: ["embed"],
    "train": lambda h, t, p: ["train", "--folds", "2"],
    "suggest": lambda h, t, p: ["suggest"],
    "review": lambda h, t, p: ["review", "--coder", "rev" + HOSTILE, "--script", "a,r,s,q"],
    "review blind": lambda h, t, p: ["review", "--blind", "--coder", "b" + HOSTILE,
                                     "--script", "e:,s,q"],
    "audit draw": lambda h, t, p: ["audit", "draw", "--n", "2", "--seed", "1"],
    "audit list": lambda h, t, p: ["audit", "list"],
    "certify": _certify,
    "export-suggestions": lambda h, t, p: ["export-suggestions", "--out",
                                           str(t / ("s" + HOSTILE + ".xlsx"))],
    "import-decisions": _import_decisions,
    "log": lambda h, t, p: ["log"],
    "log json": lambda h, t, p: ["log", "--format", "json"],
    "report": lambda h, t, p: ["report", "--out", str(t / ("report" + HOSTILE + ".html"))],
    "status": lambda h, t, p: ["status"],
    "status json": lambda h, t, p: ["status", "--format", "json"],
    "demo": lambda h, t, p: ["demo", "--out", str(t / ("demo" + ESC)), "--corpus",
                             str(_corpus(h, t)), "--embedder", "hashing-256"],
    "agreement": lambda h, t, p: ["agreement", "--resamples", "20"],
    "agreement detail": lambda h, t, p: ["agreement", "--resamples", "20", "--detail"],
    "agreement json": lambda h, t, p: ["agreement", "--resamples", "20", "--format", "json"],
    "agreement csv": lambda h, t, p: ["agreement", "--resamples", "20", "--format", "csv"],
    "pathways": lambda h, t, p: ["pathways", "--min-run", "1"],
    "pathways json": lambda h, t, p: ["pathways", "--min-run", "1", "--format", "json"],
    "disagreements": lambda h, t, p: ["disagreements", "--include-model"],
    "disagreements json": lambda h, t, p: ["disagreements", "--format", "json"],
    "disagreements csv": lambda h, t, p: ["disagreements", "--format", "csv"],
    "disagreements --out": lambda h, t, p: ["disagreements", "--out",
                                            str(t / ("sheet" + HOSTILE + ".csv"))],
    "resolve": lambda h, t, p: ["resolve", "--segment", _segment(p), "--codes", "alpha"],
    "evaluate": lambda h, t, p: ["evaluate", str(_evaluate_csv(h, t)), "--folds", "2",
                                 "--embedder", "hashing-256", "--repeats", "1"],
    "next-to-code": lambda h, t, p: ["next-to-code", "--n", "5"],
    "next-to-code json": lambda h, t, p: ["next-to-code", "--n", "5", "--format", "json"],
    "precode": lambda h, t, p: ["precode", str(_wave(t)), "--from", str(p), "--out",
                                str(t / ("out" + HOSTILE))],
    "import": lambda h, t, p: ["import", str(_qdpx(h, t, p)), "--init",
                               str(t / ("imported" + ESC)), "--embedder", "hashing-256"],
    "export": lambda h, t, p: ["export", "--out", str(t / ("x" + HOSTILE + ".qdpx"))],
    "export qdc": lambda h, t, p: ["export", "--out", str(t / ("x" + HOSTILE + ".qdc"))],
    "import-excerpts": lambda h, t, p: ["import-excerpts", str(_dedoose(h, t, p)),
                                        "--add-codes"],
    "export-sheet": lambda h, t, p: ["export-sheet", "--out",
                                     str(t / ("sheet" + HOSTILE + ".csv"))],
    "pseudonymise": lambda h, t, p: ["pseudonymise", "--names", str(_names_csv(t)), "--key",
                                     str(t / ("key" + ESC + ".csv")), "--show-key"],
    "check": lambda h, t, p: ["check"],
    "export-segments": lambda h, t, p: ["export-segments", "--out",
                                        str(t / ("segments" + HOSTILE + ".xlsx"))],
    "show": lambda h, t, p: ["show", "--code", "alpha"],
    "show search": lambda h, t, p: ["show", "--search", "workshop", "--limit", "3"],
    "remove": lambda h, t, p: ["remove", _document(p), "--yes"],
    "memo": _memo,
    "memo write": lambda h, t, p: ["memo", "--code", "alpha", "why " + HOSTILE + FORGED,
                                   "--coder", "m" + HOSTILE],
    "memo json": lambda h, t, p: ["memo", "--code", "alpha", "--format", "json"],
    "show memos": lambda h, t, p: ["show", "--document", _memo(h, t, p)[-1], "--limit", "2"],
    "attributes": lambda h, t, p: ["attributes", str(_attributes_csv(h, t, p))],
    "attributes list": _attributes_listed,
    "attributes table": _attribute_table,
    "attributes table json": lambda h, t, p: [*_attribute_table(h, t, p), "--format", "json"],
    "backup": lambda h, t, p: ["backup", str(t / ("backup" + HOSTILE))],
    # PostgreSQL: no server answers on port 1, so these end in their one-line errors
    "push": lambda h, t, p: ["push", str(p), "postgresql://127.0.0.1:1/x" + HOSTILE],
    "pull": lambda h, t, p: ["pull", "postgresql://127.0.0.1:1/x" + HOSTILE,
                             str(t / ("out" + HOSTILE))],
    "team add-coder": lambda h, t, p: ["team", "add-coder", "x" + HOSTILE + FORGED],
    "team list": lambda h, t, p: ["team", "list"],
    "team remove": lambda h, t, p: ["team", "remove", "x" + HOSTILE + FORGED],
    # errors that quote what the user or a file gave
    "error: coders": lambda h, t, p: ["disagreements", "--coders", "x" + HOSTILE + FORGED],
    "error: agreement coders": lambda h, t, p: ["agreement", "--coders", "x" + HOSTILE + FORGED],
    "error: missing file": lambda h, t, p: ["import-codes", str(t / ("no" + HOSTILE + FORGED))],
    "error: usage": lambda h, t, p: ["status", "--format", "x" + HOSTILE + FORGED],
    "error: unknown command": lambda h, t, p: ["x" + HOSTILE + FORGED],
    "error: memo document": lambda h, t, p: ["memo", "--document", "x" + HOSTILE + FORGED],
    "error: attributes": _bad_attributes,
}


#: Cases that end in their one-line error on the hostile SQLite project: the demo (its
#: scripted review needs the demo corpus's codes), push and pull (no server answers on
#: port 1) and the team commands (teams need a PostgreSQL project).
REFUSED_HERE = {"demo", "push", "pull", "team add-coder", "team list", "team remove"}


def _document(p: Path) -> str:
    with open_project(p) as store:
        return store.transcripts()[0]["document"]


def _segment(p: Path) -> str:
    with open_project(p) as store:
        return next(s.id for s in store.segments() if s.codable)


def _command_paths() -> list[str]:
    paths = []
    for command in all_commands().values():
        paths.append(command.name or "")
        if isinstance(command, click.Group):
            paths += [f"{command.name} {sub}" for sub in command.commands]
    return paths


def test_every_command_is_walked() -> None:
    groups = {c.name for c in all_commands().values() if isinstance(c, click.Group)}
    walked = set(_command_paths()) - groups
    assert walked <= set(CASES), walked - set(CASES)


def _assert_safe(result: Result, what: str) -> None:
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        found = CONTROLS.search(text)
        assert found is None, f"{what}: raw {found.group()!r} in {name}: {text[:2000]!r}"
    assert "Traceback" not in result.output, f"{what}: {result.output}"
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines and lines[-1].startswith("Error: "), f"{what}: {result.stderr!r}"
        assert not any(line.startswith("Error: all good") for line in lines), what


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_control_character_reaches_the_terminal(hostile: Hostile, tmp_path: Path,
                                                   case: str) -> None:
    project = _copy(hostile, tmp_path)
    args = CASES[case](hostile, tmp_path, project)
    result = run(*args, project=project)
    _assert_safe(result, case)
    if case.startswith("error") or case in REFUSED_HERE:  # the demo's scripted review
        assert result.exit_code == 2, result.output  # needs the demo corpus's codes
        assert len(result.stderr.splitlines()) == 1, result.stderr
    else:
        assert result.exit_code in (0, 1), f"{case}: {result.output}"
    if case.endswith("json"):
        json.loads(result.stdout)


@pytest.mark.parametrize("path", ["", *_command_paths()])
def test_help_of_every_command_is_safe(path: str) -> None:
    result = run(*path.split(), "--help")
    assert result.exit_code == 0, result.output
    _assert_safe(result, path)


def test_a_hostile_zip_member_name_is_refused_in_one_visible_line(tmp_path: Path) -> None:
    archive = tmp_path / "evil.qdpx"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("project.qde", "<Project/>")
        z.writestr(ZIP_MEMBER, "x")
    result = run("import", str(archive), "--init", str(tmp_path / "p"), "--embedder",
                 "hashing-256")
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output and CONTROLS.search(result.output) is None
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: ") and "<U+001B>" in result.stderr
    assert not (tmp_path / "p").exists()


def test_the_rule_shows_controls_and_line_forging_carriage_returns() -> None:
    assert terminal_text("a\x1bb\u202ec\x9bd\te\n") == "a<U+001B>b<U+202E>c<U+009B>d\te\n"
    assert terminal_text("Error: x\rError: all good\n") == (
        "Error: x<U+000D>Error: all good\n")
    assert terminal_text("line\r\n") == "line\r\n"
    assert terminal_text("\r 40%|####  |") == "\r 40%|####  |"  # a bar redrawing its line
    assert terminal_text("\r\x1b[?25l[##  ] 50%") == "\r\x1b[?25l[##  ] 50%"  # click's bar
    assert terminal_text("\rA\nB") == "<U+000D>A\nB"
    once = terminal_text(HOSTILE)
    assert terminal_text(once) == once
    assert one_line("a\nb\rc\x1b") == "a<U+000A>b<U+000D>c<U+001B>"


class _Ascii(io.StringIO):
    encoding = "ascii"


class _Tty(io.StringIO):
    def isatty(self) -> bool:  # click keeps colour codes on a terminal
        return True


def test_click_echo_goes_through_the_wrapper_even_where_click_would_rewrap() -> None:
    for inner in (_Tty(), _Ascii(), io.TextIOWrapper(io.BytesIO(), "ascii")):
        stream = TerminalStream(inner)  # type: ignore[arg-type]
        old = sys.stdout
        sys.stdout = stream  # type: ignore[assignment]
        try:
            click.echo("x" + OSC + "é")
            click.echo(f"y{RLO}", err=False)
        finally:
            sys.stdout = old
        if isinstance(inner, io.TextIOWrapper):
            inner.flush()
            got = inner.buffer.getvalue().decode("ascii")  # type: ignore[attr-defined]
        else:
            got = inner.getvalue()
        assert "x<U+001B>]0;pwned<U+0007>" in got and "y<U+202E>" in got, got
        assert CONTROLS.search(got) is None


def test_the_streams_are_restored_after_a_command() -> None:
    before = sys.stdout, sys.stderr
    with pytest.raises(SystemExit):
        cli.main(["--version"], prog_name="isp-nlp")
    assert (sys.stdout, sys.stderr) == before
