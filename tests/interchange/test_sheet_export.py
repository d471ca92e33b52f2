"""Codings and suggestions exported as formula-safe CSV and XLSX, written atomically."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.errors import InputFileError, ModelError
from isp_nlp.interchange import sheet_export
from isp_nlp.interchange.sheet_export import export_sheet, model_coder
from isp_nlp.interchange.xlsx import MAX_CELL, read_xlsx, xlsx_bytes
from isp_nlp.project import ingest_files, load_project_codebook
from isp_nlp.records import Annotation, Coding, Suggestion
from isp_nlp.store.database import Store
from isp_nlp.store.folder import init_project, open_project

FORMULA = '=HYPERLINK("http://x","y")'
CODEBOOK = """name: test
codes:
  - id: cmd
    name: "+cmd"
  - id: trust
    name: Trust
"""


@pytest.fixture
def store(tmp_path: Path):
    init_project(tmp_path / "p", embedder="hashing-256")
    s = open_project(tmp_path / "p")
    book = tmp_path / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    load_project_codebook(s, book)
    doc = tmp_path / "talk.txt"
    doc.write_text(f"Interviewer: Click this.\n\nP01: {FORMULA}\n\nInterviewer: And trust?\n\n"
                   "P01: Trust took a year.", encoding="utf-8")
    ingest_files(s, [doc])
    yield s
    s.close()


def segs(store: Store) -> dict[str, str]:
    return {s.text: s.id for s in store.segments()}


def coded(store: Store) -> None:
    seg = segs(store)
    text = store.transcript_texts()["talk"]
    start = text.index(FORMULA)
    store.add_codings([Coding("talk", start, start + len(FORMULA), "cmd", "ana")])
    store.import_annotations([
        Annotation(seg[FORMULA], "ana", "code", "cmd"),  # covered by ana's coding: no row
        Annotation(seg["Trust took a year."], "bo", "code", "trust", "assisted"),
        Annotation(seg["Trust took a year."], "bo", "stage", "exchange"),
        Annotation(seg["And trust?"], "bo", "code", None),  # seen, no code: no row
    ], source="test")


def test_csv_has_one_row_per_coded_span_and_formulas_arrive_as_text(store: Store,
                                                                    tmp_path: Path) -> None:
    coded(store)
    out = export_sheet(store, tmp_path / "codes.csv")
    assert (out.rows, out.codings, out.annotations, out.suggestions) == (3, 1, 2, 0)
    raw = (tmp_path / "codes.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == list(sheet_export.COLUMNS)
    first = rows[0]
    assert first["text"] == "'" + FORMULA and first["code_name"] == "'+cmd"
    assert (first["coder"], first["provenance"], first["speaker"]) == ("ana", "human", "P01")
    text = store.transcript_texts()["talk"]
    assert text[int(first["start"]):int(first["end"])] == FORMULA
    assert first["segment_ids"] == segs(store)[FORMULA]
    rest = [(r["code_id"], r["dimension"], r["coder"], r["provenance"]) for r in rows[1:]]
    assert rest == [("trust", "code", "bo", "assisted"), ("exchange", "stage", "bo", "human")]


def test_xlsx_keeps_formulas_as_text_cells(store: Store, tmp_path: Path) -> None:
    coded(store)
    path = tmp_path / "codes.xlsx"
    assert export_sheet(store, path).format == "xlsx"
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet  # no formula cells at all
    rows = read_xlsx(path.read_bytes(), path.name)
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header == list(sheet_export.COLUMNS)
    assert first["text"] == "'" + FORMULA and first["code_name"] == "'+cmd"
    openpyxl = pytest.importorskip("openpyxl")
    ws = openpyxl.load_workbook(path).active
    cells = {ws.cell(1, c).value: ws.cell(2, c) for c in range(1, ws.max_column + 1)}
    assert cells["text"].value == "'" + FORMULA and cells["text"].data_type == "s"
    assert cells["code_name"].value == "'+cmd" and cells["code_name"].data_type == "s"
    assert cells["start"].data_type == "n"


def test_suggestions_come_from_the_latest_model(store: Store, tmp_path: Path) -> None:
    seg = segs(store)
    with pytest.raises(ModelError, match="no trained model"):
        export_sheet(store, tmp_path / "s.csv", include_suggestions=True)
    store.register_model("m1", "models/m1", {})
    store.replace_suggestions("m1", [
        Suggestion(seg["Trust took a year."], "m1", "code", "trust", 0.91, True),
        Suggestion(seg["Trust took a year."], "m1", "code", "cmd", 0.05, False),
        Suggestion(seg["Trust took a year."], "m1", "stage", "push", 0.40, False),
        Suggestion(seg["Trust took a year."], "m1", "stage", "exchange", 0.45, False),
    ])
    out = export_sheet(store, tmp_path / "s.csv", include_suggestions=True)
    assert out.suggestions == 2
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text("utf-8-sig"))))
    got = [(r["code_id"], r["coder"], r["provenance"], r["probability"], r["status"])
           for r in rows]
    assert got == [("trust", model_coder("m1"), "model", "0.91", "suggested"),
                   ("exchange", model_coder("m1"), "model", "0.45", "abstained")]
    plain = export_sheet(store, tmp_path / "plain.csv")
    assert plain.rows == 0 and "probability" not in (tmp_path / "plain.csv").read_text("utf-8")


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(store: Store, tmp_path: Path,
                                                             monkeypatch) -> None:
    coded(store)
    path = tmp_path / "codes.xlsx"
    path.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sheet_export, "xlsx_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        export_sheet(store, path)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []
    monkeypatch.setattr(sheet_export, "write_safe_csv", boom)
    with pytest.raises(OSError):
        export_sheet(store, tmp_path / "new.csv")
    assert not (tmp_path / "new.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_format_comes_from_the_option_or_the_suffix(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="csv or xlsx"):
        export_sheet(store, tmp_path / "codes.ods")
    assert export_sheet(store, tmp_path / "codes.dat", fmt="csv").format == "csv"


def test_cli_export_sheet(store: Store, tmp_path: Path) -> None:
    coded(store)
    project = str(store.path.parent)
    out = tmp_path / "x.xlsx"
    result = CliRunner().invoke(cli, ["--project", project, "export-sheet", "--format", "xlsx",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 3 rows" in result.output and "1 codings, 2 segment annotations" in result.output
    assert read_xlsx(out.read_bytes(), "x")[0][0] == "document"
    bad = CliRunner().invoke(cli, ["--project", project, "export-sheet", "--out", "x.ods"])
    assert bad.exit_code == 2 and "csv or xlsx" in bad.output


def test_the_workbook_writer_round_trips_awkward_text() -> None:
    rows = [["keep _x0041_ literally", 3, 0.25, True, None, "a\x01b <&> \"q\""],
            ["x" * (MAX_CELL + 10), -1, float("nan"), False, "", " lead"]]
    got = read_xlsx(xlsx_bytes(["t", "n", "f", "b", "none", "s"], rows), "w")
    assert got[1] == ["keep _x0041_ literally", "3", "0.25", "True", "", "a\ufffdb <&> \"q\""]
    assert len(got[2][0]) == MAX_CELL and got[2][1:4] == ["-1", "", "False"]
    assert got[2][5] == " lead"
