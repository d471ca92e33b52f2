"""ATLAS.ti quotation exports: headers in several languages, delimiters, code lists."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.errors import InputFileError
from isp_nlp.interchange.atlasti_quotations import (
    code_path,
    parse_codes,
    read_atlasti_quotations,
    unquote,
)
from isp_nlp.interchange.excerpt_import import import_excerpts, read_excerpts
from isp_nlp.interchange.sheet_rows import sniff_delimiter, split_code_list
from isp_nlp.interchange.xlsx import xlsx_bytes
from isp_nlp.project import ingest_files, load_project_codebook
from isp_nlp.store.database import Store
from isp_nlp.store.folder import init_project, open_project
from tests.builders.paths import require_shared
from tests.builders.sheets import write_csv

THIN = "\u2009"
HEADER = ["Number", "Reference", "Name", "Text Content", "Document", "Codes", "Number of Codes",
          "Comment", "Initial Position", "Final Position", "Extensão", "Creation Date ",
          "Modification Date"]
DOC_TEXT = ("Open the broker.\n\nUse TLS for every client.\n\nOpen the broker.\n\n"
            "Rotate keys yearly.")  # paragraphs 1, 3, 5, 7 as ATLAS.ti counts them
SEC = "T2. Security, Privacy & Trust Management"


def quotations(tmp_path: Path) -> Path:
    rows = [
        ["1:1", f"¶{THIN}1", "", '"Open the broker."', "Broker notes.txt",
         '"Open the broker.", T1. Setup: Broker', "2", "F001", "1", "1", "1", "3/25/25", "9/14/25"],
        ["1:2", f"¶{THIN}3", "", '"Use TLS for every client."', "Broker notes.txt",
         f"{SEC}: TLS, {SEC}: Clients, T1. Setup: Broker", "3", "", "3", "3", "1", "", ""],
        ["1:3", f"¶{THIN}5", "", '"Open the broker."', "Broker notes.txt",
         "T1. Setup: Broker", "1", "", "5", "5", "1", "", ""],
        ["1:4", f"¶{THIN}7 – 7", "", "Rotate keys yearly.", "Broker notes.txt",
         SEC, "1", "", "7", "7", "1", "", ""],
    ]
    return write_csv(tmp_path / "quotations.csv", HEADER, rows, encoding="utf-8", delimiter=";")


def project(tmp_path: Path, *, with_document: bool = True) -> Store:
    init_project(tmp_path / "p", embedder="hashing-256")
    store = open_project(tmp_path / "p")
    if with_document:
        doc = tmp_path / "Broker notes.txt"
        doc.write_text(DOC_TEXT, encoding="utf-8")
        ingest_files(store, [doc])
    return store


# --------------------------------------------------------------------------- pieces


def test_code_lists_with_commas_inside_names_are_grouped() -> None:
    cell = f"{SEC}: TLS, T1. Setup: Broker, {SEC}: Clients"
    assert split_code_list(cell) == [f"{SEC}: TLS", "T1. Setup: Broker", f"{SEC}: Clients"]
    assert split_code_list("alpha, beta, gamma") == ["alpha", "beta", "gamma"]
    assert split_code_list("alpha, beta, gamma", expected=2,
                           known=frozenset({"beta, gamma"})) == ["alpha", "beta, gamma"]
    assert split_code_list("one\ntwo, three\n") == ["one", "two, three"]  # one a line


def test_a_leading_copy_of_the_quotation_is_not_a_code() -> None:
    names, dropped = parse_codes('"Open it, now.", T1: A, T1: B', "Open it,  now.", 3,
                                 frozenset())
    assert (names, dropped) == (["T1: A", "T1: B"], True)
    names, dropped = parse_codes('"In vivo", T1: A', "Other text", None, frozenset())
    assert (names, dropped) == (['"In vivo"', "T1: A"], False)


def test_quotes_themes_and_delimiters() -> None:
    assert unquote('"Check it."') == "Check it." and unquote("“Check”") == "Check"
    assert unquote('say "this"') == 'say "this"'
    assert code_path("T1. Setup: Broker") == ("T1. Setup", "Broker")
    assert code_path("Plain") == ("Plain",)
    assert code_path("Coke::diet Coke") == ("Coke", "diet Coke")  # ATLAS.ti's own prefixes
    assert code_path("A::B::C") == ("A", "B", "C") and code_path("::x") == ("::x",)
    assert split_code_list("Coke::diet Coke, Coke::full-fat, sugar", theme=r"::|: ") == [
        "Coke::diet Coke", "Coke::full-fat", "sugar"]
    assert sniff_delimiter('Number;Reference;"a;b";Codes') == ";"
    assert sniff_delimiter("ID\tName\tCodes") == "\t"
    assert sniff_delimiter("ID,Name") == ","
    assert sniff_delimiter("Report, 2025\nID;Text;Document;Codes\n1;a;b;c") == ";"


# --------------------------------------------------------------------------- reading


def test_a_semicolon_export_with_paragraph_references_is_read(tmp_path: Path) -> None:
    file = read_atlasti_quotations(quotations(tmp_path))
    assert file.tool == "atlasti" and not file.has_coder_column
    first, second, third, fourth = file.rows
    assert first.text == "Open the broker." and first.codes == (("T1. Setup", "Broker"),)
    assert (first.start, first.end, first.unit, first.label) == (1, 1, "paragraph",
                                                                 "quotation 1:1")
    assert second.codes == ((SEC, "TLS"), (SEC, "Clients"), ("T1. Setup", "Broker"))
    assert (fourth.start, fourth.end) == (7, 7) and fourth.codes == ((SEC,),)
    assert any("their own text" in w for w in file.warnings)
    assert third.document == "Broker notes.txt"


def test_other_languages_delimiters_and_workbooks_are_detected(tmp_path: Path) -> None:
    header = ["ID", "Zitatinhalt", "Dokument", "Codes", "Erstellt von", "Anfang", "Ende"]
    rows = [["1:1", "Öffne den Broker.", "Notizen", "Einrichtung: Broker\nSicherheit: TLS",
             "Lena", "12", "12"]]
    tsv = write_csv(tmp_path / "de.tsv", header, rows, delimiter="\t", encoding="utf-16")
    book = tmp_path / "de.xlsx"
    book.write_bytes(xlsx_bytes(header, rows))
    for path in (tsv, book):
        file = read_excerpts(path)  # auto: not Dedoose, so ATLAS.ti
        [row] = file.rows
        assert file.tool == "atlasti" and file.has_coder_column
        assert (row.text, row.document, row.coder, row.start) == (
            "Öffne den Broker.", "Notizen", "Lena", 12)
        assert row.codes == (("Einrichtung", "Broker"), ("Sicherheit", "TLS"))


def test_report_lines_above_the_header_are_skipped(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["Quotation Report"], [
        ["Project: Broker", "created 2025-01-01"], [],
        ["ID", "Quotation Content", "Document", "Codes"], ["1:1", "Open it.", "d", "A: b"]])
    [row] = read_excerpts(path).rows
    assert (row.text, row.codes, row.row) == ("Open it.", (("A", "b"),), 5)


def test_a_broken_csv_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text('ID;Text Content;Document;Codes\n1;"' + "x" * 200_000 + '";d;c\n',
                    encoding="utf-8")
    with pytest.raises(InputFileError, match=r"big.csv line \d+: not readable as CSV"):
        read_excerpts(path)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "q.csv", ["Number", "Text Content", "Codes"], [["1", "t", "c"]],
                     delimiter=";")
    with pytest.raises(InputFileError, match=r"no 'Document' column.*required.*'Text Content'"):
        read_atlasti_quotations(path)
    with pytest.raises(InputFileError, match="neither a Dedoose excerpt export"):
        read_excerpts(path)


# --------------------------------------------------------------------------- importing


def test_quotations_are_placed_at_the_nearest_paragraph(tmp_path: Path) -> None:
    store = project(tmp_path)
    out = import_excerpts(store, quotations(tmp_path), coder="ana", add_codes=True)
    text = store.transcript_texts()["Broker notes"]
    spans = {(c.start, c.end, c.code) for c in store.codings()}
    first = text.index("Open the broker.")
    second = text.index("Open the broker.", first + 1)
    # quotation 1:1 says paragraph 1 (the first), 1:3 says paragraph 5 (the second)
    assert (first, first + 16, "broker") in spans and (second, second + 16, "broker") in spans
    assert out.documents_matched == ("Broker notes",)  # matched without the .txt suffix
    assert out.coders == ("ana",) and out.codings_added == 6
    assert set(out.codes_added) == {"t1_setup", "broker", "t2_security_privacy_trust_management",
                                    "tls", "clients"}
    codes = {c.id: c for c in store.codebook().codes}
    assert codes["tls"].parent == "t2_security_privacy_trust_management"
    assert codes["t2_security_privacy_trust_management"].name == SEC


def test_a_file_without_coders_needs_the_coder_option(tmp_path: Path) -> None:
    store = project(tmp_path)
    with pytest.raises(InputFileError, match="no coder column.*--coder NAME"):
        import_excerpts(store, quotations(tmp_path), add_codes=True)
    assert store.codings() == []
    result = CliRunner().invoke(cli, ["--project", str(tmp_path / "p"), "import-excerpts",
                                      str(quotations(tmp_path)), "--format", "atlasti",
                                      "--coder", "ana", "--add-codes"])
    assert result.exit_code == 0, result.output
    assert "Imported 4 atlasti excerpts by ana: 6 codings added" in result.output


def test_prefixed_names_resolve_to_flat_codes_of_an_atlasti_codebook(tmp_path: Path) -> None:
    """ATLAS.ti codebooks (.qdc/.qde) keep ``Coke::diet Coke`` as one flat code name."""
    store = project(tmp_path)
    book = tmp_path / "book.yaml"
    book.write_text('name: b\ncodes:\n  - {id: coke, name: Coke}\n'
                    '  - {id: diet, name: "Coke::diet Coke"}\n', encoding="utf-8")
    load_project_codebook(store, book)
    path = write_csv(tmp_path / "q.csv", ["ID", "Quotation Content", "Document", "Codes"],
                     [["1:1", "use  TLS\nfor every CLIENT.", "broker notes",
                       "Coke::diet Coke, Coke"]])
    out = import_excerpts(store, path, coder="ana")
    assert out.codes_added == () and {c.code for c in store.codings()} == {"diet", "coke"}
    text = store.transcript_texts()["Broker notes"]
    [span] = {(c.start, c.end) for c in store.codings()}
    assert text[span[0]:span[1]] == "Use TLS for every client."  # case and spaces folded


# --------------------------------------------------------------------------- the real file


@pytest.mark.shared_data
def test_the_shared_quotation_export_imports_in_full(tmp_path: Path) -> None:
    folder = require_shared("data", "atlasti-quotations")
    path = folder / "20250914_quotation_export.csv"
    file = read_atlasti_quotations(path)
    assert len(file.rows) == 394
    assert {r.document for r in file.rows} == {"[ATLAS] - Codifying Fragments"}
    assert file.rows[0].text == "Check the publishing and receiving messages via MQTTBox."
    assert file.rows[0].start == 4
    with (folder / "20250914_codebook_full.csv").open(encoding="utf-8-sig") as f:
        book = {r["Code"] for r in csv.DictReader(f, delimiter=";")}
    applied = {": ".join(p) for r in file.rows for p in r.codes}
    assert applied <= book and len(applied) == 435  # every code, commas and all, is real
    store = project(tmp_path, with_document=False)
    out = import_excerpts(store, path, coder="ana", add_codes=True, reconstruct_documents=True)
    assert out.excerpts == 394 and out.codings_added == sum(len(r.codes) for r in file.rows)
    assert out.mapping["unmapped"] == 0 and out.mapping["overlap"] == 0
    assert len(out.codes_added) == 435 + 18  # 18 themes as parents
    assert out.documents_reconstructed == ("[ATLAS] - Codifying Fragments",)


def test_excel_escapes_and_line_breaks_in_a_workbook_cell(tmp_path: Path) -> None:
    """ATLAS.ti 9+ writes one code a line, CRLF as ``_x000D_`` + LF in the workbook."""
    header = ["ID", "Quotation Name", "Document", "Document Groups", "Quotation Content",
              "Comment", "Codes", "Reference", "Density", "Created by"]
    row = ["1:1", "", "Notizen", "Group A", "Öffne den Broker.", "",
           "Einrichtung: Broker_x000D_\nSicherheit, Vertrauen: TLS", "¶ 3", "0", "Lena"]
    book = tmp_path / "q.xlsx"
    ours = zipfile.ZipFile(io.BytesIO(xlsx_bytes(header, [row])))
    with zipfile.ZipFile(book, "w") as excel:  # as Excel writes it: _x000D_ unescaped
        for info in ours.infolist():
            excel.writestr(info, ours.read(info).replace(b"_x005F_x000D_", b"_x000D_"))
    [got] = read_excerpts(book).rows
    assert got.codes == (("Einrichtung", "Broker"), ("Sicherheit, Vertrauen", "TLS"))
    assert (got.document, got.coder, got.start) == ("Notizen", "Lena", 3)
