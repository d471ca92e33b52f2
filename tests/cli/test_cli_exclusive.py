"""Exclusive codes at the command line: codebook check/load/show name the groups, a bad
flag is one line, and import-codes warns once about segments with two exclusive codes."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

import tests.builders.coded_projects as cp
from isp_nlp.cli import cli


def run(*args: str, project: Path | None = None):
    argv = (["--project", str(project)] if project else []) + list(args)
    return CliRunner().invoke(cli, argv)


def _exclusive_book(root: Path) -> Path:
    head = "    definition: Ways of supporting practice.\n"
    book = root / "exclusive.yaml"
    book.write_text(cp.CODEBOOK.replace(head, head + "    exclusive: true\n", 1),
                    encoding="utf-8")
    return book


def test_check_and_show_name_the_groups(tmp_path: Path) -> None:
    book = _exclusive_book(tmp_path)
    checked = run("codebook", "check", str(book))
    assert checked.exit_code == 0, checked.output
    assert "exclusive: strategies (training | coaching)" in checked.output
    project = tmp_path / "p"
    assert run("init", str(project), "--embedder", "hashing-256").exit_code == 0
    loaded = run("codebook", "load", str(book), project=project)
    assert "exclusive: strategies (training | coaching)" in loaded.output
    shown = run("codebook", "show", project=project)
    assert shown.exit_code == 0, shown.output
    assert "strategies  (Strategies)  [exclusive]" in shown.output
    assert shown.output.splitlines()[-1] == "exclusive: strategies (training | coaching)"
    assert max(len(line) for line in shown.output.splitlines()) <= 80


def test_a_bad_flag_is_one_line_and_a_lone_child_a_warning(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("codes:\n  - {id: q, name: Q, exclusive: maybe}\n", encoding="utf-8")
    result = run("codebook", "check", str(bad))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "code 'q' (codes[0] at line 2) has exclusive 'maybe'" in result.output
    lone = tmp_path / "lone.yaml"
    lone.write_text("codes:\n  - {id: q, name: Q, exclusive: true}\n"
                    "  - {id: open, name: Open, parent: q}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["codebook", "check", str(lone)])
    assert result.exit_code == 0
    assert "Warning: lone.yaml: code 'q' says `exclusive: true` but has only one child" \
        in result.output


def test_import_codes_warns_once_with_a_count(tmp_path: Path) -> None:
    transcripts, coded = cp.write_corpus(tmp_path)
    with coded.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    both = {(r["document"], r["text"]) for r in rows
            if r["coder"] == "ana" and r["code"] == "training"} & {
        (r["document"], r["text"]) for r in rows
        if r["coder"] == "ana" and r["code"] == "coaching"}
    assert both  # ana gives some coaching turns training too
    project = tmp_path / "p"
    assert run("init", str(project), "--embedder", "hashing-256").exit_code == 0
    assert run("codebook", "load", str(_exclusive_book(tmp_path)),
               project=project).exit_code == 0
    assert run("ingest", *map(str, transcripts), project=project).exit_code == 0
    result = run("import-codes", str(coded), project=project)
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.output.splitlines() if ln.startswith("Warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Warning: {len(both)} segments were given two codes")
    assert "Imported" in result.output  # imported as coded
