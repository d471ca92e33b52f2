"""`export-segments` writes a blank coding sheet that `import-codes` reads back as it is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.paths import CORPUS

DOCS = ("isp01_child_welfare_coach", "isp03_perinatal_quality")


@pytest.fixture
def ingested(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    assert run("init", str(project), "--embedder", "hashing-256").exit_code == 0
    assert run("codebook", "load", str(CORPUS / "codebook.yaml"), project=project).exit_code == 0
    files = [str(p) for p in sorted((CORPUS / "transcripts").iterdir())
             if p.stem in DOCS]
    assert len(files) == 2
    assert run("ingest", *files, project=project).exit_code == 0
    return project


def _codable(project: Path) -> int:
    con = sqlite3.connect(project / "project.sqlite")
    return con.execute("SELECT COUNT(*) FROM segments WHERE codable").fetchone()[0]


def _human(project: Path) -> list[tuple]:
    con = sqlite3.connect(project / "project.sqlite")
    return con.execute("SELECT segment_id, coder, dimension, label FROM annotations "
                       "WHERE retracted_by IS NULL ORDER BY 1, 3").fetchall()


def test_a_blank_xlsx_sheet_goes_out_and_comes_back_coded(ingested: Path, tmp_path: Path):
    sheet = tmp_path / "sheet.xlsx"
    result = run("export-segments", "--out", str(sheet), project=ingested)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    book = load_workbook(sheet)
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header == ["document", "segment", "speaker", "start", "end", "text", "coder",
                      "code", "stage"]
    assert ws.max_row - 1 == _codable(ingested)
    assert {ws.cell(r, c).value for r in range(2, ws.max_row + 1) for c in (7, 8, 9)} == {None}
    ws.cell(2, 7).value = "ana"
    ws.cell(2, 8).value = "didactic_training"
    ws.cell(2, 9).value = "push"
    ws.cell(3, 7).value = "ana"  # seen, no code: coder given, code empty
    book.save(sheet)

    result = run("import-codes", str(sheet), project=ingested)
    assert result.exit_code == 0, result.output
    assert "Imported 2 rows" in result.output
    assert f"{_codable(ingested) - 2} rows left blank" in result.output
    stored = _human(ingested)
    first, second = ws.cell(2, 2).value, ws.cell(3, 2).value
    assert (first, "ana", "code", "didactic_training") in stored
    assert (first, "ana", "stage", "push") in stored
    assert (second, "ana", "code", None) in stored
    assert {row[0] for row in stored} == {first, second}

    again = tmp_path / "rest.csv"
    result = run("export-segments", "--out", str(again), "--uncoded", "--document", DOCS[0],
                 project=ingested)
    assert result.exit_code == 0, result.output
    text = again.read_text(encoding="utf-8-sig").splitlines()
    assert first not in "\n".join(text) and second not in "\n".join(text)
    assert len(text) > 1 and all(line.startswith(DOCS[0] + ",") for line in text[1:])


def test_a_csv_sheet_imports_unchanged_rows_as_blank(ingested: Path, tmp_path: Path):
    sheet = tmp_path / "sheet.csv"
    assert run("export-segments", "--out", str(sheet), project=ingested).exit_code == 0
    result = run("import-codes", str(sheet), project=ingested)
    assert_one_line_error(result, "none of its", "is coded", "fill in the coder and code")
    assert _human(ingested) == []


def test_an_unknown_document_is_refused(ingested: Path, tmp_path: Path):
    result = run("export-segments", "--out", str(tmp_path / "s.csv"), "--document", "P99",
                 project=ingested)
    assert_one_line_error(result, "'P99'", "is not in the project", ", ".join(DOCS))
    assert not (tmp_path / "s.csv").exists()
