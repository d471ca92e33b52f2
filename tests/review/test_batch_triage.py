"""Batch triage in a spreadsheet: `export-suggestions` writes the pending review queue as
CSV/XLSX, `import-decisions` records the filled rows through the review session, all or
nothing (issue 22, item 5)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.interchange.sheet_rows import read_table
from isp_nlp.interchange.triage_sheet import _csv, _xlsx
from isp_nlp.store.database import Store

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "corpora" / "isp-demo"


def _run(project: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--project", str(project), *args],
                                catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triage")
    project = root / "project"
    _run(root, "init", str(project), "--embedder", "hashing-256")
    _run(project, "codebook", "load", str(DEMO / "codebook.yaml"))
    _run(project, "ingest", *map(str, sorted((DEMO / "transcripts").iterdir())))
    _run(project, "import-codes", str(DEMO / "seed_codes.csv"))
    _run(project, "train")
    _run(project, "suggest")
    return project


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


def _fill(header: list[str], rows: list[list[str]], coder_rows: dict[int, dict[str, str]]
          ) -> list[list[str]]:
    out = [list(r) for r in rows]
    for i, cells in coder_rows.items():
        for name, value in cells.items():
            out[i][header.index(name)] = value
    return out


def _log(project: Path, coder: str) -> list[dict]:
    entries = json.loads(_run(project, "log", "--format", "json").output)
    return [e for e in entries if e["coder"] == coder]


def test_export_has_the_queue_and_empty_decision_columns(project: Path, tmp_path: Path
                                                         ) -> None:
    out = tmp_path / "s.csv"
    result = _run(project, "export-suggestions", "--out", str(out))
    assert "pending suggestions" in result.output
    header, rows = _read_csv(out)
    assert header[:7] == ["item_key", "model", "document", "segment", "speaker", "text",
                          "suggested_codes"]
    assert "suggested_stage" in header and header[-3:] == ["decision", "codes", "stage"]
    assert rows and all(r[header.index("decision")] == "" for r in rows)
    assert len({r[0] for r in rows}) == len(rows)


def test_csv_decisions_are_recorded_once(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    _run(project, "export-suggestions", "--out", str(out), "--coder", "carol")
    header, rows = _read_csv(out)
    filled = _fill(header, rows, {
        0: {"decision": "accept"},
        1: {"decision": "reject"},
        2: {"decision": "relabel", "codes": "peer_learning, teams", "stage": "exchange"},
    })
    _write_csv(out, header, filled)
    result = _run(project, "import-decisions", str(out), "--coder", "carol")
    assert "1 accepted, 1 rejected, 1 relabelled, 0 skipped" in result.output
    assert f"{len(rows) - 3} left" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    log = _log(project, "carol")
    assert [e["action"] for e in log] == ["accept", "reject", "relabel"]
    assert [e["item_key"] for e in log] == [r[0] for r in rows[:3]]
    assert log[2]["codes"] == ["peer_learning", "teams"]
    assert log[2]["values"] == {"stage": "exchange"}
    relabelled = log[2]["segment_id"]
    with Store.open(project / "project.sqlite") as store:
        mine = {(a.dimension, a.label) for a in store.annotations()
                if a.coder == "carol" and a.segment_id == relabelled}
    assert mine == {("code", "peer_learning"), ("code", "teams"), ("stage", "exchange")}
    again = _run(project, "import-decisions", str(out), "--coder", "carol")
    assert "3 already decided" in again.output
    assert len(_log(project, "carol")) == 3
    # The next export leaves the settled items out.
    _run(project, "export-suggestions", "--out", str(out), "--coder", "carol")
    assert len(_read_csv(out)[1]) == len(rows) - 3


def test_xlsx_round_trip_with_a_decision_list(project: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "s.xlsx"
    _run(project, "export-suggestions", "--out", str(out), "--coder", "dana")
    book = load_workbook(out)
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    validations = ws.data_validations.dataValidation
    assert len(validations) == 1 and "accept" in validations[0].formula1
    column = header.index("decision") + 1
    ws.cell(row=2, column=column, value="skip")
    ws.cell(row=3, column=column, value="Accept")
    book.save(out)
    result = _run(project, "import-decisions", str(out), "--coder", "dana")
    assert "1 accepted, 0 rejected, 0 relabelled, 1 skipped" in result.output
    assert [e["action"] for e in _log(project, "dana")] == ["skip", "accept"]


def test_a_bad_row_records_nothing_and_names_its_line(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    _run(project, "export-suggestions", "--out", str(out))
    header, rows = _read_csv(out)
    filled = _fill(header, rows, {
        0: {"decision": "accept"},
        1: {"decision": "maybe"},
        2: {"decision": "relabel", "codes": "no_such_code", "stage": "sideways"},
        3: {"decision": "accept", "item_key": "0" * 64},
    })
    _write_csv(out, header, filled)
    result = _run(project, "import-decisions", str(out), "--coder", "erin", code=2)
    text = result.output
    assert "nothing was recorded" in text
    assert "line 3, column decision" in text and "'maybe'" in text
    assert "line 4, column codes" in text and "line 4, column stage" in text
    assert "line 5, column item_key" in text
    assert _log(project, "erin") == []
    one_bad = _fill(header, rows, {1: {"decision": "maybe"}})
    _write_csv(out, header, one_bad)
    single = _run(project, "import-decisions", str(out), "--coder", "erin", code=2)
    assert "line 3" in single.output


def test_formula_like_text_is_written_as_text_and_read_back(tmp_path: Path) -> None:
    header = ["item_key", "text", "decision"]
    rows: list[list[object]] = [["k", "=HYPERLINK(\"http://x\")", "accept"],
                                ["k2", "- a bullet", ""]]
    path = tmp_path / "f.csv"
    path.write_bytes(_csv(header, rows))
    raw = path.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw and "'- a bullet" in raw
    from isp_nlp.coded.safe_csv import restore_cell

    table = read_table(path)
    assert [restore_cell(r[1][1]) for r in table.rows] == ["=HYPERLINK(\"http://x\")",
                                                           "- a bullet"]
    book = tmp_path / "f.xlsx"
    book.write_bytes(_xlsx(header, rows))
    from openpyxl import load_workbook

    cell = load_workbook(book).worksheets[0]["B2"]
    assert cell.data_type == "s" and cell.value == "'=HYPERLINK(\"http://x\")"
    assert [restore_cell(r[1][1]) for r in read_table(book).rows][0] == \
        "=HYPERLINK(\"http://x\")"


def test_export_refuses_an_unknown_suffix(project: Path, tmp_path: Path) -> None:
    result = _run(project, "export-suggestions", "--out", str(tmp_path / "s.txt"), code=2)
    assert "expected .csv or .xlsx" in result.output
