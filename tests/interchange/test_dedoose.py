"""Dedoose excerpt exports: reading them (cp1252/CRLF, BOM, .xlsx) and importing them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.interchange.dedoose import parse_range, read_dedoose
from isp_nlp.interchange.excerpt_import import import_excerpts, read_excerpts
from isp_nlp.interchange.xlsx import xlsx_bytes
from isp_nlp.records import Coding
from isp_nlp.store.database import Store
from tests.builders.paths import DATA
from tests.builders.sheets import FIRST_TURN, TRANSCRIPT, excerpt_project, snapshot, write_csv

FIXTURE = DATA / "dedoose" / "excerpts_cp1252.csv"


# --------------------------------------------------------------------------- reading


def test_the_cp1252_crlf_fixture_is_what_dedoose_writes() -> None:
    raw = FIXTURE.read_bytes()
    assert b"\r\n" in raw and b"caf\xe9" in raw and b"\x93real support\x94" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_a_cp1252_export_is_read_with_paths_ranges_and_creators() -> None:
    file = read_dedoose(FIXTURE)
    assert file.tool == "dedoose" and file.has_coder_column
    assert any("Windows-1252" in w for w in file.warnings)
    first, second, third = file.rows
    assert first.document == "Interview_01.docx" and first.coder == "maria"
    assert first.text.startswith("We met every week.") and "café" in first.text
    assert "\r" not in first.text  # CRLF inside the cell is read as one line break
    assert first.codes == (("Support", "Coaching"),)  # per-code columns give full paths
    assert (first.page, first.start, first.end, first.row) == (1, 52, 180, 2)
    assert second.codes == (("Trust",),) and (second.start, second.end) == (231, 249)
    assert third.codes == (("Support",), ("Trust",)) and third.coder == "joao"


@pytest.mark.parametrize(("text", "expected"), [
    ("Page 1: 88-102", (1, 88, 102)), ("88-102", (0, 88, 102)), ("88 – 102", (0, 88, 102)),
    ("page 12:3-4", (12, 3, 4)), ("", (0, None, None)), ("00:01:02", (0, None, None)),
])
def test_excerpt_ranges_are_parsed(text: str, expected: tuple) -> None:
    assert parse_range(text) == expected


def test_utf8_bom_and_xlsx_exports_give_the_same_rows(tmp_path: Path) -> None:
    with FIXTURE.open(encoding="cp1252", newline="") as f:
        table = list(csv.reader(f))
    bom = write_csv(tmp_path / "bom.csv", table[0], table[1:], encoding="utf-8-sig")
    book = tmp_path / "excerpts.xlsx"
    book.write_bytes(xlsx_bytes(table[0], table[1:]))
    want = read_dedoose(FIXTURE).rows
    assert read_dedoose(bom).rows == want
    assert read_excerpts(book).rows == want  # auto-detected, from the workbook


def test_true_false_and_one_zero_both_mean_applied(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Code: A\\B\\C Applied",
                                          "Code: D Applied"],
                     [["m", "t1", "TRUE", "0"], ["m", "t2", "1", "yes"], ["m", "t3", "0", ""]])
    rows = read_dedoose(path).rows
    assert [r.codes for r in rows] == [(("A", "B", "C"),), (("A", "B", "C"), ("D",)), ()]


def test_the_combined_column_is_used_without_per_code_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Codes Applied Combined"],
                     [["m", "t", "Trust, Needs, wants, Support"]])
    known = frozenset({"needs, wants"})
    assert read_dedoose(path, known=known).rows[0].codes == (
        ("Trust",), ("Needs, wants",), ("Support",))


def test_missing_columns_are_named_with_the_required_ones(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Range", "Code: A Applied"],
                     [["m", "1-2", "1"]])
    with pytest.raises(InputFileError) as err:
        read_dedoose(path)
    message = str(err.value)
    assert "'Excerpt Copy'" in message and "required" in message and "\n" not in message
    nocodes = write_csv(tmp_path / "y.csv", ["Media Title", "Excerpt Copy"], [["m", "t"]])
    with pytest.raises(InputFileError, match="Codes Applied Combined"):
        read_dedoose(nocodes)


# --------------------------------------------------------------------------- importing


def test_excerpts_become_exact_codings_and_annotations(excerpt_store: Store) -> None:
    out = import_excerpts(excerpt_store, FIXTURE)
    text = excerpt_store.transcript_texts()["interview_01"]
    got = [(c.start, c.end, c.code, c.coder) for c in excerpt_store.codings()]
    assert got == [(47, 175, "coaching", "maria"), (207, 225, "support", "joao"),
                   (207, 225, "trust", "joao"), (226, 244, "trust", "maria")]
    assert text[47:175] == FIRST_TURN
    # "We met every week." is in both P01 turns; the range points at the second one
    assert text[226:244] == "We met every week."
    assert out.documents_matched == ("interview_01",) and out.documents_reconstructed == ()
    assert (out.excerpts, out.codings_added, out.codings_unchanged) == (3, 4, 0)
    assert out.mapping == {"exact": 1, "overlap": 3, "unmapped": 0}
    assert out.coders == ("joao", "maria") and out.codes_added == ()
    assert {c.name for c in excerpt_store.coders()} >= {"joao", "maria"}
    seg = {s.start: s.id for s in excerpt_store.segments()}
    labels = {(a.segment_id, a.coder, a.label) for a in excerpt_store.annotations()}
    assert (seg[47], "maria", "coaching") in labels
    assert (seg[207], "maria", "trust") in labels and (seg[207], "joao", "support") in labels
    assert (seg[13], "maria", None) in labels  # seen, no code
    again = import_excerpts(excerpt_store, FIXTURE)
    assert (again.codings_added, again.codings_unchanged, again.annotations_changed) == (0, 4, 0)


def test_an_unknown_document_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    store = excerpt_project(tmp_path)
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Excerpt Creator",
                                          "Code: Trust Applied"],
                     [["intervew_01", "Trust took a year.", "ana", "1"],
                      ["Other talk", "Something else.", "ana", "1"]])
    before = snapshot(store)
    with pytest.raises(ProjectError) as err:
        import_excerpts(store, path)
    message = str(err.value)
    assert "2 document(s)" in message and "'intervew_01'" in message and "'Other talk'" in message
    assert "did you mean 'interview_01'" in message and "--reconstruct-documents" in message
    assert snapshot(store) == before


def test_documents_can_be_rebuilt_from_their_excerpts(tmp_path: Path) -> None:
    store = excerpt_project(tmp_path, transcript=False)
    out = import_excerpts(store, FIXTURE, reconstruct_documents=True)
    assert out.documents_reconstructed == ("Interview_01.docx",)
    [doc] = store.transcripts()
    assert doc["document"] == "Interview_01.docx" and doc["format"] == "excerpts"
    text = store.transcript_texts()["Interview_01.docx"]
    # range order, one paragraph each; "We met every week." is inside the first excerpt
    assert text == ("We met every week. The coach asked what we needed,\nnot what the manual "
                    "said. I would call that “real support” for our café team.\n\n"
                    "Trust took a year.")
    assert any("reconstructed from 2 excerpts" in w for w in out.warnings)
    assert out.codings_added == 4 and out.mapping["unmapped"] == 0


def test_unknown_codes_are_refused_or_added_under_their_parents(tmp_path: Path) -> None:
    store = excerpt_project(tmp_path)
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Excerpt Creator",
                                          "Code: Support\\Peer Help Applied",
                                          "Code: Barriers\\Time Applied"],
                     [["interview_01", "Trust took a year.", "ana", "1", "1"]])
    before = snapshot(store)
    with pytest.raises(ProjectError) as err:
        import_excerpts(store, path)
    assert "2 code(s)" in str(err.value) and "Support > Peer Help" in str(err.value)
    assert "--add-codes" in str(err.value) and snapshot(store) == before
    out = import_excerpts(store, path, add_codes=True)
    assert out.codes_added == ("peer_help", "barriers", "time")
    codes = {c.id: c for c in store.codebook().codes}
    assert codes["peer_help"].parent == "support" and codes["time"].parent == "barriers"
    assert codes["time"].name == "Time"
    assert {c.code for c in store.codings()} == {"peer_help", "time"}


def test_stage_codes_set_the_stage(excerpt_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Excerpt Creator",
                                          "Code: Stage\\Push-pull Applied", "Code: Trust Applied"],
                     [["interview_01", "Trust took a year. We met every week.", "ana", "1", "1"]])
    import_excerpts(excerpt_store, path)
    assert {(c.dimension, c.code) for c in excerpt_store.codings()} == {
        ("stage", "push_pull"), ("code", "trust")}
    seg = {s.start: s.id for s in excerpt_store.segments()}
    assert (seg[207], "ana", "stage", "push_pull") in {
        (a.segment_id, a.coder, a.dimension, a.label) for a in excerpt_store.annotations()}


def test_a_failure_midway_leaves_the_project_unchanged(tmp_path: Path, monkeypatch) -> None:
    store = excerpt_project(tmp_path, transcript=False)
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Excerpt Creator",
                                          "Code: New\\Code Applied"],
                     [["fresh", "A whole new document.", "ana", "1"]])
    before = snapshot(store)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "import_annotations", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        import_excerpts(store, path, add_codes=True, reconstruct_documents=True)
    assert snapshot(store) == before
    assert store.transcripts() == [] and store.codings() == []


def test_an_excerpt_not_in_the_text_stops_the_import(excerpt_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Excerpt Creator",
                                          "Code: Trust Applied"],
                     [["interview_01", "Trust took a year.", "ana", "1"],
                      ["interview_01", "Never said this.", "ana", "1"]])
    with pytest.raises(ProjectError, match=r"1 excerpt\(s\) were not found.*Never said this"):
        import_excerpts(excerpt_store, path)
    assert excerpt_store.codings() == []


def test_a_coding_added_before_survives_a_second_file(excerpt_store: Store, tmp_path: Path) -> None:
    """Annotations are derived from all the coder's spans, not only the new file's."""
    excerpt_store.add_codings([Coding("interview_01", 13, 40, "trust", "maria")])
    import_excerpts(excerpt_store, FIXTURE)
    seg = {s.start: s.id for s in excerpt_store.segments()}
    labels = {(a.segment_id, a.coder, a.label) for a in excerpt_store.annotations()}
    assert (seg[13], "maria", "trust") in labels


def test_cli_import_excerpts(excerpt_store: Store, tmp_path: Path) -> None:
    project = str(excerpt_store.path.parent)
    runner = CliRunner()
    result = runner.invoke(cli, ["--project", project, "import-excerpts", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "Imported 3 dedoose excerpts by joao, maria: 4 codings added" in result.output
    assert "Warning:" in result.output  # cp1252
    # each coder's coded region, as `import` prints it for a REFI-QDA project
    assert "coded region (to each coder's last coding" in result.output
    assert "    maria in 'interview_01': " in result.output
    bad = runner.invoke(cli, ["--project", project, "import-excerpts", str(TRANSCRIPT),
                              "--format", "dedoose"])
    assert bad.exit_code == 2 and "Error: " in bad.output and "'Media Title'" in bad.output


def test_punctuation_differences_are_matched_by_letters_with_a_warning(
        excerpt_store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["Media Title", "Excerpt Copy", "Excerpt Creator",
                                          "Code: Trust Applied"],
                     [["interview_01", "I would call that <<real support>> for our cafe...",
                       "ana", "1"],
                      ["interview_01", "a year", "ana", "1"]])  # short: exact only
    with pytest.raises(ProjectError, match="not found"):
        import_excerpts(excerpt_store, path)  # letters must still agree: "cafe" is not "café"
    path = write_csv(tmp_path / "y.csv", ["Media Title", "Excerpt Copy", "Excerpt Creator",
                                          "Code: Trust Applied"],
                     [["interview_01", "I would call that <<real support>> for our café team!",
                       "ana", "1"]])
    out = import_excerpts(excerpt_store, path)
    [c] = excerpt_store.codings()
    text = excerpt_store.transcript_texts()["interview_01"]
    assert text[c.start:c.end] == "I would call that “real support” for our café team"
    assert any("punctuation only" in w for w in out.warnings)
