"""Hostile excerpt sheets (Dedoose, ATLAS.ti, CSV/XLSX): each refused in one line, exit 2.

Every refusal goes through the CLI and checks: exit status 2, exactly one output line,
starting with "Error: ", no traceback, and the project's rows unchanged. Limits are
tested at the limit and one past it; large limits are lowered with monkeypatch (said at
each test) or met with sparse files, so the file runs in seconds.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook import check
from isp_nlp.interchange import sheet_rows, xlsx
from isp_nlp.interchange.sheet_rows import read_table
from isp_nlp.store.database import Store
from tests.builders.sheets import (
    CONTENT_TYPES,
    DEDOOSE,
    FIRST_TURN,
    data_row,
    dedoose_row,
    dedoose_sheet,
    header_row,
    inline,
    sheet_xml,
    snapshot,
    workbook,
    write_csv,
)

ATLAS = ["Number", "Reference", "Text Content", "Document", "Codes", "Initial Position",
         "Final Position"]


def refused(store: Store, path: Path, *extra: str, command: str = "import-excerpts") -> str:
    """Run ``command`` on ``path``; assert the one-line refusal and an unchanged project."""
    before = snapshot(store)
    result = CliRunner().invoke(cli, ["--project", str(store.path.parent), command,
                                      str(path), *extra])
    lines = result.output.splitlines()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert snapshot(store) == before
    return lines[0]


def imported(store: Store, path: Path, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["--project", str(store.path.parent), "import-excerpts",
                                      str(path), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_handmade_workbook_is_read_and_imported(excerpt_store: Store, tmp_path: Path) -> None:
    path = workbook(tmp_path / "ok.xlsx", dedoose_sheet(data_row()))
    assert "1 codings added" in imported(excerpt_store, path)


# --------------------------------------------------------------------------- positions


def test_an_excerpt_range_of_5000_digits_is_refused(excerpt_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", DEDOOSE, [dedoose_row(f"1-{'9' * 5000}")])
    line = refused(excerpt_store, path)
    assert "r.csv row 2 'Excerpt Range'" in line and "5,000 digits" in line


def test_an_excerpt_range_at_the_digit_limit_is_a_hint_and_one_past_it_is_refused(
        excerpt_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", DEDOOSE, [dedoose_row(f"1-{'9' * 13}")])
    assert "13 digits" in refused(excerpt_store, path)
    path = write_csv(tmp_path / "ok.csv", DEDOOSE, [dedoose_row(f"{'9' * 12}-{'9' * 12}")])
    assert "1 codings added" in imported(excerpt_store, path)


@pytest.mark.parametrize("column, value", [("Initial Position", "7" * 5000),
                                           ("Final Position", "7" * 13),
                                           ("Reference", "¶ " + "4" * 5000)])
def test_an_atlasti_position_of_too_many_digits_is_refused(
        excerpt_store: Store, tmp_path: Path, column: str, value: str) -> None:
    row = {"Number": "1:1", "Reference": "", "Text Content": FIRST_TURN,
           "Document": "interview_01", "Codes": "Trust", "Initial Position": "1",
           "Final Position": "2", column: value}
    path = write_csv(tmp_path / "q.csv", ATLAS, [[row[h] for h in ATLAS]], delimiter=";")
    line = refused(excerpt_store, path, "--coder", "ana")
    assert f"q.csv row 2 '{column}'" in line and "digits" in line


def test_an_atlasti_position_at_the_digit_limit_is_imported(excerpt_store: Store,
                                                            tmp_path: Path) -> None:
    row = ["1:1", "", FIRST_TURN, "interview_01", "Trust", "9" * 12, "9" * 12]
    path = write_csv(tmp_path / "q.csv", ATLAS, [row], delimiter=";")
    assert "1 codings added" in imported(excerpt_store, path, "--coder", "ana")


# --------------------------------------------------------------------------- code depth


def deep_path(levels: int) -> str:
    return "\\".join(f"c{i}" for i in range(levels))


def test_a_dedoose_code_deeper_than_export_can_write_is_refused(excerpt_store: Store,
                                                                tmp_path: Path) -> None:
    for levels in (101, 20_000):
        path = write_csv(tmp_path / "d.csv", [*DEDOOSE[:4], f"Code: {deep_path(levels)} Applied"],
                         [dedoose_row()])
        line = refused(excerpt_store, path, "--add-codes")
        assert "d.csv row 2" in line and f"{levels} levels deep" in line


def test_a_dedoose_code_at_the_depth_limit_is_imported_and_exported(excerpt_store: Store,
                                                                    tmp_path: Path) -> None:
    assert check.MAX_CODE_DEPTH == 100
    path = write_csv(tmp_path / "d.csv", [*DEDOOSE[:4], f"Code: {deep_path(100)} Applied"],
                     [dedoose_row()])
    assert "100 codes added" in imported(excerpt_store, path, "--add-codes")
    for out in ("p.qdpx", "p.qdc"):
        result = CliRunner().invoke(cli, ["--project", str(excerpt_store.path.parent), "export",
                                          "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output


def test_an_atlasti_code_deeper_than_export_can_write_is_refused(excerpt_store: Store,
                                                                 tmp_path: Path) -> None:
    codes = "::".join(f"c{i}" for i in range(101))
    row = ["1:1", "", FIRST_TURN, "interview_01", codes, "", ""]
    path = write_csv(tmp_path / "q.csv", ATLAS, [row], delimiter=";")
    assert "101 levels deep" in refused(excerpt_store, path, "--coder", "ana", "--add-codes")


def chain_codebook(path: Path, levels: int) -> Path:
    lines = ["name: deep", "codes:"]
    for i in range(levels):
        lines += [f"  - id: c{i}", f"    name: C{i}"] + ([f"    parent: c{i - 1}"] if i else [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_codebook_nested_beyond_the_limit_is_refused_and_at_it_loaded(
        excerpt_store: Store, tmp_path: Path) -> None:
    line = refused(excerpt_store, chain_codebook(tmp_path / "deep.yaml", 101), command="codebook")
    assert line  # `codebook FILE` is a usage error; the real command follows
    before = snapshot(excerpt_store)
    result = CliRunner().invoke(cli, ["--project", str(excerpt_store.path.parent), "codebook",
                                      "load", str(tmp_path / "deep.yaml")])
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1
    assert "code 'c100' (codes[100] at line" in result.output
    assert "101 levels deep" in result.output and snapshot(excerpt_store) == before
    result = CliRunner().invoke(cli, ["--project", str(excerpt_store.path.parent), "codebook",
                                      "load", str(chain_codebook(tmp_path / "ok.yaml", 100))])
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- damaged .xlsx


def test_an_unclosed_sheet_is_refused(excerpt_store: Store, tmp_path: Path) -> None:
    sheet = dedoose_sheet(data_row())
    path = workbook(tmp_path / "u.xlsx", sheet[: sheet.index("</sheetData>")])
    assert "not well-formed XML" in refused(excerpt_store, path)


@pytest.mark.parametrize("cell", [
    '<c r="A2" t="s"><v>99</v></c>',  # a shared string that does not exist: IndexError
    f'<c r="A2"><v>{"9" * 5000}</v></c>',  # a number Python will not read: ValueError
    '<c r="A2" t="d"><v>not a date</v></c>',  # a date openpyxl cannot read
])
def test_a_cell_openpyxl_fails_on_while_iterating_is_refused(excerpt_store: Store, tmp_path: Path,
                                                             cell: str) -> None:
    rows = f'<row r="2">{cell}</row>' + data_row(3)
    path = workbook(tmp_path / "c.xlsx", dedoose_sheet(rows), strings="<si><t>x</t></si>")
    line = refused(excerpt_store, path)
    assert "c.xlsx" in line


def test_a_claimed_dimension_of_the_whole_sheet_is_ignored(excerpt_store: Store,
                                                           tmp_path: Path) -> None:
    """openpyxl would pad every row to A1:XFD1048576 (17 billion cells)."""
    sheet = sheet_xml(header_row(DEDOOSE) + data_row(),
                      before='<dimension ref="A1:XFD1048576"/>')
    path = workbook(tmp_path / "dim.xlsx", sheet)
    assert len(read_table(path).rows) == 1
    assert "1 codings added" in imported(excerpt_store, path)


def test_rows_at_the_row_limit_are_read_and_one_past_is_refused(
        excerpt_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 50)  # Excel's 1,048,576 in real use
    path = workbook(tmp_path / "ok.xlsx", dedoose_sheet(data_row(50)))
    assert "1 codings added" in imported(excerpt_store, path)
    path = workbook(tmp_path / "far.xlsx", dedoose_sheet(data_row(51)))
    assert "more than 50 rows" in refused(excerpt_store, path)
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>1</v></c></row>' for i in range(2, 52))
    path = workbook(tmp_path / "many.xlsx", dedoose_sheet(rows))
    assert "more than 50 rows" in refused(excerpt_store, path)


def test_a_row_number_beyond_excel_is_refused_quickly(excerpt_store: Store, tmp_path: Path) -> None:
    path = workbook(tmp_path / "r.xlsx", dedoose_sheet(data_row(10**12)))
    assert "more than 1,048,576 rows" in refused(excerpt_store, path)


def test_columns_at_the_limit_are_read_and_one_past_is_refused(
        excerpt_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (xlsx, sheet_rows):
        monkeypatch.setattr(module, "MAX_COLUMNS", 6)  # Excel's 16,384 in real use
    path = write_csv(tmp_path / "ok.csv", [*DEDOOSE, "Site"], [[*dedoose_row(), "N"]])
    assert "1 codings added" in imported(excerpt_store, path)
    path = write_csv(tmp_path / "wide.csv", [*DEDOOSE, "Site", "More"],
                     [[*dedoose_row(), "N", "M"]])
    assert "wide.csv (line 1)" in refused(excerpt_store, path)
    extra = inline("F2", "N")
    path = workbook(tmp_path / "ok.xlsx", dedoose_sheet(data_row().replace("</row>",
                                                                           extra + "</row>")))
    assert "codings" in imported(excerpt_store, path)
    extra += inline("G2", "M")
    path = workbook(tmp_path / "wide.xlsx", dedoose_sheet(data_row().replace("</row>",
                                                                             extra + "</row>")))
    assert "row of more than 6 cells" in refused(excerpt_store, path)


def test_100k_columns_are_refused(excerpt_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "w.csv", [*DEDOOSE, *(f"x{i}" for i in range(100_000))],
                     [dedoose_row()])
    assert "16,384 columns" in refused(excerpt_store, path)
    cells = "<c/>" * 100_000
    path = workbook(tmp_path / "w.xlsx", dedoose_sheet(f"<row>{cells}</row>"))
    assert "row of more than 16,384 cells" in refused(excerpt_store, path)


def test_cells_at_the_limit_are_read_and_one_past_is_refused(
        excerpt_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (xlsx, sheet_rows):
        monkeypatch.setattr(module, "MAX_CELLS", 10)  # 10,000,000 in real use
    path = write_csv(tmp_path / "ok.csv", DEDOOSE, [dedoose_row()])
    assert "1 codings added" in imported(excerpt_store, path)
    path = workbook(tmp_path / "ok.xlsx", dedoose_sheet(data_row()))
    assert "codings" in imported(excerpt_store, path)
    path = write_csv(tmp_path / "big.csv", DEDOOSE, [dedoose_row(), ["x"]])
    assert "10 cells" in refused(excerpt_store, path)
    path = workbook(tmp_path / "big.xlsx", dedoose_sheet(data_row() + data_row(3)))
    assert "more than 10 cells" in refused(excerpt_store, path)
    # short rows are padded to the header's width: those cells count too
    path = write_csv(tmp_path / "pad.csv", DEDOOSE, [dedoose_row(), [""], ["y"]])
    assert "10 cells" in refused(excerpt_store, path)


def test_a_cell_at_the_character_limit_is_read_and_one_past_is_refused(
        excerpt_store: Store, tmp_path: Path) -> None:
    ok = "a" * xlsx.MAX_CELL_CHARS
    path = workbook(tmp_path / "ok.xlsx", dedoose_sheet(
        data_row().replace("</row>", inline("F2", ok) + "</row>")))
    assert len(read_table(path).rows[0][1][5]) == xlsx.MAX_CELL_CHARS
    path = workbook(tmp_path / "big.xlsx", dedoose_sheet(
        data_row().replace("</row>", inline("F2", ok + "a") + "</row>")))
    assert "big.xlsx row 2 column 6 holds 131,073 characters" in refused(excerpt_store, path)


def test_a_cell_of_10_mb_is_refused(excerpt_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", DEDOOSE, [dedoose_row(text="a" * 10_000_000)])
    assert "a cell of more than 131,072 characters" in refused(excerpt_store, path)


def test_a_zip_directory_of_too_many_entries_is_refused_before_zipfile_reads_it(
        excerpt_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_MEMBERS", 20)  # 10,000 in real use
    ok = workbook(tmp_path / "ok.xlsx", dedoose_sheet(data_row()), extra=15)  # 20 parts
    assert len(zipfile.ZipFile(ok).infolist()) == 20
    assert "codings" in imported(excerpt_store, ok)
    path = workbook(tmp_path / "many.xlsx", dedoose_sheet(data_row()), extra=16)

    def no_zipfile(*_args: object, **_kw: object) -> None:
        raise AssertionError("zipfile parsed the directory before it was checked")

    monkeypatch.setattr(xlsx.zipfile, "ZipFile", no_zipfile)
    assert "21 members" in refused(excerpt_store, path)


def test_10001_entries_are_refused(excerpt_store: Store, tmp_path: Path) -> None:
    path = workbook(tmp_path / "many.xlsx", dedoose_sheet(data_row()), extra=9_996)
    assert "10,001 members" in refused(excerpt_store, path)


@pytest.mark.parametrize("part", [
    '<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet/>',
    '<worksheet><sheetData><row>' + '<a>' * 200_001,  # nested past a row's element limit
])
def test_xml_no_spreadsheet_writes_is_refused(excerpt_store: Store, tmp_path: Path,
                                              part: str) -> None:
    path = workbook(tmp_path / "x.xlsx", part)
    assert "x.xlsx: its part 'xl/worksheets/sheet1.xml'" in refused(excerpt_store, path)


def test_a_shared_string_of_too_many_parts_is_refused(excerpt_store: Store, tmp_path: Path) -> None:
    strings = "<si>" + "<r><t>a</t></r>" * 100_001 + "</si>"
    path = workbook(tmp_path / "s.xlsx", dedoose_sheet(data_row()), strings=strings)
    assert "more than 200,000 XML elements" in refused(excerpt_store, path)


# --------------------------------------------------------------------------- junk


@pytest.mark.parametrize("name, content", [
    ("empty.csv", b""),
    ("blank.csv", b" \r\n\t\n"),
    ("junk.csv", bytes(range(256)) * 40),
    ("junk.xlsx", b"PK\x03\x04" + b"\x00" * 100),
    ("header.csv", ",".join(DEDOOSE).encode()),
    ("utf16.csv", ",".join(DEDOOSE).encode("utf-16-le")),
    ("old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100),
    ("nul.csv", b"\x00" * 1000),
])
def test_junk_is_refused(excerpt_store: Store, tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    refused(excerpt_store, path)


def test_a_workbook_without_rows_or_sheets_is_refused(excerpt_store: Store, tmp_path: Path) -> None:
    refused(excerpt_store, workbook(tmp_path / "none.xlsx", sheet_xml("")))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES.format(strings=""))
    (tmp_path / "bare.xlsx").write_bytes(buf.getvalue())
    refused(excerpt_store, tmp_path / "bare.xlsx")


def test_formula_and_merged_cells_are_read_as_their_values(excerpt_store: Store,
                                                           tmp_path: Path) -> None:
    formula = '<c r="F2"><f>1+1</f><v>2</v></c><c r="G2"><f>A1</f></c>'
    sheet = sheet_xml(header_row(DEDOOSE) + data_row().replace("</row>", formula + "</row>"),
                      after='<mergeCells count="1"><mergeCell ref="A2:A3"/></mergeCells>')
    path = workbook(tmp_path / "f.xlsx", sheet)
    assert read_table(path).rows[0][1][5:] == ("2",)
    assert "1 codings added" in imported(excerpt_store, path)


def test_a_file_over_the_size_limit_is_refused_before_reading(excerpt_store: Store,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"  # sparse: takes no disk space
    with path.open("wb") as handle:
        handle.truncate(sheet_rows.MAX_SHEET_BYTES + 1)
    assert "beyond the limit of" in refused(excerpt_store, path)
    os.truncate(path, sheet_rows.MAX_SHEET_BYTES)
    line = refused(excerpt_store, path)  # at the limit it is read: all NUL bytes, so not text
    assert "beyond the limit" not in line


def test_a_fifo_or_folder_is_refused(excerpt_store: Store, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    assert "not a regular file" in refused(excerpt_store, tmp_path / "pipe.csv")
    (tmp_path / "dir.csv").mkdir()
    refused(excerpt_store, tmp_path / "dir.csv")


def test_a_coder_name_holding_a_newline_cannot_forge_an_error_line(excerpt_store: Store,
                                                                  tmp_path: Path) -> None:
    row = dedoose_row()
    row[2] = "ana\nError: all good"
    output = imported(excerpt_store, write_csv(tmp_path / "c.csv", DEDOOSE, [row]))
    assert not [line for line in output.splitlines() if line.startswith("Error")]
    assert "ana<U+000A>Error: all good" in output
