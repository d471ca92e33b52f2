"""Each limit of the table in docs/limits.md at the limit (accepted) and one past it (refused).

The rows already tested at and one past their limit elsewhere are not repeated here (see
the list at the end of this docstring); this file holds the missing sides. Byte sizes are
met with sparse files where the reader checks the size before reading (no disk, no time);
where accepting a file at the real limit would read hundreds of MB, or a count is costly,
the limit constant is lowered with monkeypatch (said at each test) and the input is built
at exactly that size and one more, while "one past" is also tried at the real limit where
that costs nothing. A refusal is one line (an InputFileError, CodebookError or ModelError,
exit 2 at the CLI) naming the limit.

Elsewhere: MAX_CODE_DEPTH, MAX_ELEMENTS, MAX_DEPTH, MAX_MEMBERS, MAX_DIRECTORY_BYTES,
MAX_SOURCE_BYTES (= MAX_TRANSCRIPT_BYTES in a .qdpx), MAX_QDE_BYTES (bare .qde) and the
.qdc size in tests/interchange/test_refi_limits.py; MAX_SHEET_BYTES, MAX_ROWS and
MAX_CELL_CHARS (.xlsx), MAX_COLUMNS, MAX_CELLS, MAX_POSITION_DIGITS and MAX_CODE_DEPTH
(sheets, YAML) in tests/interchange/test_sheet_limits.py.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook import check
from isp_nlp.codebook import load as codebook_load
from isp_nlp.codebook.load import MAX_CODEBOOK_BYTES, MAX_TABLE_BYTES, load_codebook
from isp_nlp.coded import read as coded_read
from isp_nlp.coded.read import read_coded_csv
from isp_nlp.errors import CodebookError, InputFileError, ModelError
from isp_nlp.ingest import decode, safe_xml, safe_zip
from isp_nlp.ingest import docx as ingest_docx
from isp_nlp.ingest.decode import MAX_TRANSCRIPT_BYTES, load_text
from isp_nlp.ingest.docx import MAX_DOCX_MEMBERS, read_docx
from isp_nlp.interchange import (
    excerpt_import,
    pseudonym_key,
    pseudonyms,
    refi_codebook,
    sheet_rows,
    xlsx,
)
from isp_nlp.interchange.pseudonym_key import MAX_KEY_BYTES, read_key_lines
from isp_nlp.interchange.pseudonyms import MAX_NAMES, MAX_NAMES_BYTES, read_names
from isp_nlp.interchange.refi_codebook import MAX_CODES, MAX_QDE_BYTES, read_refi_codebook
from isp_nlp.interchange.sheet_rows import read_table
from isp_nlp.store.database import Store
from isp_nlp.suggest import bundle_io
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.bundle_io import MAX_ARRAY_BYTES, MAX_JSON_BYTES, read_arrays
from tests.builders.archives import lie_about_size
from tests.builders.refi_xml import (
    C_TOP,
    codebook_xml,
    project_xml,
    selection,
    text_source,
    write_qdpx,
)
from tests.builders.sheets import (
    DEDOOSE,
    data_row,
    dedoose_row,
    dedoose_sheet,
    snapshot,
    workbook,
    write_csv,
)


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes (``head``, then zeros) that takes no disk space."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def one_line(exc: pytest.ExceptionInfo[Exception], *needles: str) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    return message


def cli_refused(store: Store, *words: str) -> str:
    """The CLI refuses in one "Error: " line with exit 2, leaving the project as it was."""
    before = snapshot(store)
    result = CliRunner().invoke(cli, ["--project", str(store.path.parent), *words])
    lines = result.output.splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert snapshot(store) == before
    return lines[0]


# --------------------------------------------------------------------------- transcripts


def test_a_transcript_one_byte_past_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = sparse(tmp_path / "t.txt", MAX_TRANSCRIPT_BYTES + 1, b"P1: hello\n")
    with pytest.raises(InputFileError) as exc:
        load_text(path)
    one_line(exc, "t.txt", "over 50,000,000 bytes are refused")


def test_a_transcript_at_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 50,000,000 bytes; lowered to this file's size (read at call time).
    path = tmp_path / "t.txt"
    path.write_bytes(b"P1: I trust them.\n")
    monkeypatch.setattr(decode, "MAX_TRANSCRIPT_BYTES", path.stat().st_size)
    assert load_text(path).text == "P1: I trust them.\n"
    monkeypatch.setattr(decode, "MAX_TRANSCRIPT_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputFileError, match="are refused"):
        load_text(path)


# --------------------------------------------------------------------------- codebooks


def test_a_yaml_codebook_at_the_size_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path) -> None:
    # The real limit (a default argument, so it cannot be lowered): at it the 20 MB file
    # is read, and refused only for its NUL bytes.
    path = sparse(tmp_path / "cb.yaml", MAX_CODEBOOK_BYTES, b"codes:\n")
    with pytest.raises(InputFileError) as exc:
        load_codebook(path)
    assert "NUL byte" in str(exc.value) and "refused" not in str(exc.value)
    sparse(path, MAX_CODEBOOK_BYTES + 1, b"codes:\n")
    with pytest.raises(InputFileError) as exc:
        load_codebook(path)
    one_line(exc, "cb.yaml", "over 20,000,000 bytes is refused")


def _yaml_codes(count: int, *, alias_uses: int = 0) -> str:
    """``count`` codes; the first ``alias_uses`` after the first share its definition
    through an alias (each use adds one node once expanded)."""
    lines = ["codes:"]
    for i in range(count):
        definition = ("&d Shared text." if i == 0 else
                      "*d" if i <= alias_uses else f"Code {i}.")
        lines += [f"  - id: c{i}", f"    name: C{i}", f"    definition: {definition}"]
    return "\n".join(lines) + "\n"


def test_yaml_codes_at_a_lowered_count_limit_load_and_one_more_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 50,000 codes (6 s to load); lowered to 5.
    monkeypatch.setattr(check, "MAX_CODES", 5)
    path = tmp_path / "cb.yaml"
    path.write_text(_yaml_codes(5), encoding="utf-8")
    assert len(load_codebook(path).codes) == 5
    path.write_text(_yaml_codes(6), encoding="utf-8")
    with pytest.raises(CodebookError) as exc:
        load_codebook(path)
    one_line(exc, "holds 6 entries, beyond the 5 isp-nlp reads")


def test_qdc_codes_at_the_count_limit_are_read_and_one_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.qdc"
    for count in (MAX_CODES, MAX_CODES + 1):
        codes = "".join(f'<Code guid="00000000-0000-0000-0000-{i:012d}" name="c{i}" '
                        'isCodable="true"/>' for i in range(count))
        path.write_text(f'<?xml version="1.0" encoding="utf-8"?><CodeBook xmlns="urn:QDA-XML:'
                        f'codebook:1.0"><Codes>{codes}</Codes></CodeBook>', encoding="utf-8")
        if count == MAX_CODES:
            assert len(read_refi_codebook(path).codebook.codes) == MAX_CODES
        else:
            with pytest.raises(InputFileError) as exc:
                read_refi_codebook(path)
            one_line(exc, "big.qdc", "more than 50,000 codes")


def test_yaml_alias_growth_at_a_lowered_limit_loads_and_one_node_more_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 200,000 nodes added by aliases; lowered to 3 (read at call time).
    monkeypatch.setattr(codebook_load, "MAX_YAML_NODES", 3)
    path = tmp_path / "cb.yaml"
    path.write_text(_yaml_codes(6, alias_uses=3), encoding="utf-8")
    book = load_codebook(path)
    assert [c.definition for c in book.codes[:4]] == ["Shared text."] * 4
    path.write_text(_yaml_codes(6, alias_uses=4), encoding="utf-8")
    with pytest.raises(InputFileError) as exc:
        load_codebook(path)
    one_line(exc, "cb.yaml", "more than 3 YAML nodes through its aliases")


def test_nodes_written_out_never_count_against_the_alias_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A codebook of 50,000 named codes holds 250,000 nodes and no alias; it was refused as
    # an alias bomb. Here the limit is lowered far below this file's 103 nodes.
    monkeypatch.setattr(codebook_load, "MAX_YAML_NODES", 3)
    path = tmp_path / "cb.yaml"
    path.write_text(_yaml_codes(10), encoding="utf-8")
    assert len(load_codebook(path).codes) == 10


# --------------------------------------------------------------------------- CSV tables


def _coded_csv(path: Path) -> Path:
    path.write_text("document,segment,text,coder,code\nd1,0,Hello there.,ana,trust\n",
                    encoding="utf-8")
    return path


def test_a_coded_csv_one_byte_past_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = sparse(tmp_path / "c.csv", MAX_TABLE_BYTES + 1, b"document,segment,text\n")
    with pytest.raises(InputFileError) as exc:
        read_coded_csv(path)
    one_line(exc, "c.csv", "over 1,000,000,000 bytes is refused")


def test_a_coded_csv_at_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 1,000,000,000 bytes (reading that much costs seconds); lowered to
    # this file's size in the module that reads it (bound by name at import).
    path = _coded_csv(tmp_path / "c.csv")
    monkeypatch.setattr(coded_read, "MAX_TABLE_BYTES", path.stat().st_size)
    assert [r.code for r in read_coded_csv(path)] == ["trust"]
    monkeypatch.setattr(coded_read, "MAX_TABLE_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputFileError) as exc:
        read_coded_csv(path)
    one_line(exc, "c.csv", "is refused")


def test_a_consensus_csv_one_byte_past_the_limit_is_refused(excerpt_store: Store,
                                                            tmp_path: Path) -> None:
    path = sparse(tmp_path / "consensus.csv", MAX_TABLE_BYTES + 1, b"segment,codes\n")
    line = cli_refused(excerpt_store, "resolve", str(path))
    assert "consensus.csv" in line and "over 1,000,000,000 bytes is refused" in line


# --------------------------------------------------------------------------- REFI-QDA


def test_a_bare_qde_one_byte_past_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = sparse(tmp_path / "p.qde", MAX_QDE_BYTES + 1, b"<Project ")
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    one_line(exc, "p.qde", "beyond the limit of 268,435,456 bytes")


def _qdpx(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A small .qdpx whose project.qde is its largest member, and its members' sizes."""
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)]),
                      codebook=codebook_xml())
    path = write_qdpx(tmp_path / "s.qdpx", qde, {"sources/a.txt": b"P1: I trust them.\n"})
    with zipfile.ZipFile(path) as z:
        sizes = {i.filename: i.file_size for i in z.infolist()}
    assert max(sizes, key=sizes.__getitem__) == "project.qde"
    return path, sizes


def test_project_qde_at_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 256 MB; lowered to this project.qde's size (read at call time).
    path, sizes = _qdpx(tmp_path)
    monkeypatch.setattr(refi_codebook, "MAX_QDE_BYTES", sizes["project.qde"])
    assert read_refi_codebook(path).codebook.codes
    monkeypatch.setattr(refi_codebook, "MAX_QDE_BYTES", sizes["project.qde"] - 1)
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    one_line(exc, "s.qdpx", "'project.qde'", f"beyond the limit of {sizes['project.qde'] - 1:,}")


def test_one_member_at_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 512 MB; lowered to the largest member's size (read at call time).
    path, sizes = _qdpx(tmp_path)
    monkeypatch.setattr(safe_zip, "MAX_MEMBER_BYTES", sizes["project.qde"])
    assert read_refi_codebook(path).codebook.codes
    monkeypatch.setattr(safe_zip, "MAX_MEMBER_BYTES", sizes["project.qde"] - 1)
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    one_line(exc, "'project.qde'", f"beyond the limit of {sizes['project.qde'] - 1:,}")


def test_all_members_at_a_lowered_limit_are_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 2 GB in all; lowered to this archive's declared total.
    path, sizes = _qdpx(tmp_path)
    total = sum(sizes.values())
    monkeypatch.setattr(safe_zip, "MAX_TOTAL_BYTES", total)
    assert read_refi_codebook(path).codebook.codes
    monkeypatch.setattr(safe_zip, "MAX_TOTAL_BYTES", total - 1)
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    one_line(exc, "s.qdpx", f"{total} bytes uncompressed, beyond the limits", "zip bomb")


def test_one_member_declaring_one_byte_past_the_real_limit_is_refused(tmp_path: Path) -> None:
    path, _ = _qdpx(tmp_path)
    lie_about_size(path, "project.qde", safe_zip.MAX_MEMBER_BYTES + 1)
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    # project.qde's own limit (256 MB) is lower than any member's: it is the one named.
    one_line(exc, "'project.qde'", "536,870,913 bytes", "beyond the limit of 268,435,456")


def test_xml_attributes_at_a_lowered_cap_are_read_and_one_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real cap is 8,000,000 attributes; lowered to this file's count (read at call time).
    path, _ = _qdpx(tmp_path)
    with zipfile.ZipFile(path) as z:
        root = ElementTree.fromstring(z.read("project.qde"))
    attributes = sum(len(e.attrib) for e in root.iter())
    monkeypatch.setattr(safe_xml, "MAX_ATTRIBUTES", attributes)
    assert read_refi_codebook(path).codebook.codes
    monkeypatch.setattr(safe_xml, "MAX_ATTRIBUTES", attributes - 1)
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    one_line(exc, "s.qdpx", f"{attributes - 1:,} attributes")


def test_an_xml_tag_at_a_lowered_byte_limit_is_read_and_one_byte_more_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 16 MB; lowered to 100 bytes (read at call time). Fed a byte at a
    # time, the open tag is measured exactly: '<' and the 99 bytes after it, then '>'.
    monkeypatch.setattr(safe_xml, "MAX_TAG_BYTES", 100)

    def tag(size: int) -> list[bytes]:
        head = b'<Project a="'
        data = head + b"x" * (size - len(head) - 2) + b"\"/>"
        return [data[i:i + 1] for i in range(len(data))]

    assert safe_xml.parse_capped(tag(100), "t.qde").tag == "Project"
    with pytest.raises(InputFileError) as exc:
        safe_xml.parse_capped(tag(101), "t.qde")
    one_line(exc, "t.qde", "100 bytes", "closing '>'")



# --------------------------------------------------------------------------- Word .docx


def _docx_bytes(extra_members: int = 0) -> bytes:
    """A real .docx (written by python-docx) with ``extra_members`` empty parts added."""
    import docx

    document = docx.Document()
    document.add_paragraph("P1: I trust them.")
    saved = io.BytesIO()
    document.save(saved)
    out = io.BytesIO()
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for i in range(extra_members):
            dst.writestr(f"customXml/extra{i}.xml", b"")
    return out.getvalue()


def _members(data: bytes) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.infolist()


def test_a_docx_of_as_many_parts_as_the_limit_is_read_and_one_more_refused(
        tmp_path: Path) -> None:
    base = len(_members(_docx_bytes()))
    path = tmp_path / "interview.docx"
    path.write_bytes(_docx_bytes(MAX_DOCX_MEMBERS - base))
    assert len(_members(path.read_bytes())) == MAX_DOCX_MEMBERS
    assert "I trust them" in read_docx(path).text
    path.write_bytes(_docx_bytes(MAX_DOCX_MEMBERS - base + 1))
    with pytest.raises(InputFileError) as exc:
        read_docx(path)
    one_line(exc, "interview.docx lists 5,001 members", "limits of 5,000 members")


def test_a_docx_unpacking_to_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 256 MB unpacked; lowered to this file's unpacked size.
    path = tmp_path / "interview.docx"
    path.write_bytes(_docx_bytes())
    total = sum(i.file_size for i in _members(path.read_bytes()))
    monkeypatch.setattr(ingest_docx, "MAX_DOCX_UNPACKED", total)
    assert "I trust them" in read_docx(path).text
    monkeypatch.setattr(ingest_docx, "MAX_DOCX_UNPACKED", total - 1)
    with pytest.raises(InputFileError) as exc:
        read_docx(path)
    one_line(exc, "interview.docx unpacks to", "beyond the limit of", "possibly a zip bomb")


# --------------------------------------------------------------------------- excerpt sheets


def test_an_xlsx_unpacking_to_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 512 MB unpacked; lowered to this workbook's unpacked size.
    path = workbook(tmp_path / "w.xlsx", dedoose_sheet(data_row()))
    total = sum(i.file_size for i in _members(path.read_bytes()))
    monkeypatch.setattr(xlsx, "MAX_UNPACKED", total)
    assert len(read_table(path).rows) == 1
    monkeypatch.setattr(xlsx, "MAX_UNPACKED", total - 1)
    with pytest.raises(InputFileError) as exc:
        read_table(path)
    one_line(exc, "w.xlsx", "unpacking to more than we read")


def test_csv_rows_at_a_lowered_limit_are_read_and_one_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is Excel's 1,048,576 rows; lowered to 3 (the header and two rows) in
    # sheet_rows, which binds it by name (the .xlsx side is in interchange/test_sheet_limits.py).
    monkeypatch.setattr(sheet_rows, "MAX_ROWS", 3)
    path = write_csv(tmp_path / "ok.csv", DEDOOSE, [dedoose_row()] * 2)
    assert len(read_table(path).rows) == 2
    path = write_csv(tmp_path / "long.csv", DEDOOSE, [dedoose_row()] * 3)
    with pytest.raises(InputFileError) as exc:
        read_table(path)
    one_line(exc, "long.csv (line 4)", "(3 rows,")


def test_a_csv_cell_at_the_character_limit_is_read_and_one_more_refused(
        tmp_path: Path) -> None:
    # In a CSV the limit is the csv module's field limit, which must equal MAX_CELL_CHARS.
    assert csv.field_size_limit() == xlsx.MAX_CELL_CHARS
    path = write_csv(tmp_path / "ok.csv", DEDOOSE, [dedoose_row(text="a" * xlsx.MAX_CELL_CHARS)])
    assert len(read_table(path).rows[0][1][3]) == xlsx.MAX_CELL_CHARS
    path = write_csv(tmp_path / "big.csv", DEDOOSE,
                     [dedoose_row(text="a" * (xlsx.MAX_CELL_CHARS + 1))])
    with pytest.raises(InputFileError) as exc:
        read_table(path)
    one_line(exc, "big.csv line 2", "a cell of more than 131,072 characters")


def _code_columns(path: Path, count: int) -> Path:
    header = [*DEDOOSE[:4], *(f"Code: New{i} Applied" for i in range(count))]
    return write_csv(path, header, [[*dedoose_row()[:4], *["True"] * count]])


def test_codes_an_import_adds_at_a_lowered_limit_and_one_more(
        excerpt_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 10,000 codes; lowered to 3 (read at call time).
    monkeypatch.setattr(excerpt_import, "MAX_ADDED_CODES", 3)
    line = cli_refused(excerpt_store, "import-excerpts", str(_code_columns(tmp_path / "d.csv", 4)),
                       "--add-codes")
    assert "d.csv: its codes would add more than 3 codes" in line
    result = CliRunner().invoke(cli, ["--project", str(excerpt_store.path.parent),
                                      "import-excerpts", str(_code_columns(tmp_path / "d.csv", 3)),
                                      "--add-codes"])
    assert result.exit_code == 0, result.output
    assert "3 codes added" in result.output


# --------------------------------------------------------------------------- pseudonyms


def test_a_names_file_one_byte_past_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = sparse(tmp_path / "names.csv", MAX_NAMES_BYTES + 1, b"name\nJane\n")
    with pytest.raises(InputFileError) as exc:
        read_names(path)
    one_line(exc, "names.csv", "beyond the limit of 10,485,760 bytes")


def test_a_names_file_at_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 10 MB; lowered to this file's size (read at call time).
    path = tmp_path / "names.csv"
    path.write_text("name\nJane Doe\n", encoding="utf-8")
    monkeypatch.setattr(pseudonyms, "MAX_NAMES_BYTES", path.stat().st_size)
    assert [e.name for e in read_names(path)] == ["Jane Doe"]
    monkeypatch.setattr(pseudonyms, "MAX_NAMES_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputFileError) as exc:
        read_names(path)
    one_line(exc, "names.csv", f"beyond the limit of {path.stat().st_size - 1:,} bytes")


def _names(path: Path, rows: int) -> Path:
    path.write_text("name\n" + "".join(f"Person{i:05d}\n" for i in range(rows)),
                    encoding="utf-8")
    return path


def test_a_names_file_of_as_many_rows_as_the_limit_is_read_and_one_more_refused(
        tmp_path: Path) -> None:
    assert len(read_names(_names(tmp_path / "names.csv", MAX_NAMES))) == MAX_NAMES
    with pytest.raises(InputFileError) as exc:
        read_names(_names(tmp_path / "names.csv", MAX_NAMES + 1))
    one_line(exc, "lists 20,001 rows, beyond the 20,000")


def _key(path: Path, rows: int) -> Path:
    path.write_text("name,pseudonym\n" + "".join(f"Person{i:05d},P{i:05d}\n"
                                                  for i in range(rows)), encoding="utf-8")
    return path


def test_a_key_of_as_many_rows_as_the_limit_is_read_and_one_more_refused(
        tmp_path: Path) -> None:
    assert len(read_key_lines(_key(tmp_path / "k.csv", MAX_NAMES))) == MAX_NAMES
    with pytest.raises(InputFileError) as exc:
        read_key_lines(_key(tmp_path / "k.csv", MAX_NAMES + 1))
    one_line(exc, "k.csv holds more than 20,000 rows")


def test_a_key_one_byte_past_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = sparse(tmp_path / "k.csv", MAX_KEY_BYTES + 1, b"name,pseudonym\n")
    with pytest.raises(InputFileError) as exc:
        read_key_lines(path)
    one_line(exc, "k.csv", "beyond the limit of 52,428,800 bytes")


def test_a_key_at_a_lowered_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 50 MB; lowered to this key's size (read at call time).
    path = _key(tmp_path / "k.csv", 2)
    monkeypatch.setattr(pseudonym_key, "MAX_KEY_BYTES", path.stat().st_size)
    assert len(read_key_lines(path)) == 2
    monkeypatch.setattr(pseudonym_key, "MAX_KEY_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputFileError) as exc:
        read_key_lines(path)
    one_line(exc, "k.csv", "beyond the limit")


# --------------------------------------------------------------------------- model bundles


def test_a_model_json_file_at_the_limit_is_read_and_one_byte_more_refused(
        tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in bundle_io.FILES:
        (folder / name).write_bytes(b"")
    # At the limit the (sparse) 64 MB manifest is read, and refused only as not JSON.
    sparse(folder / "manifest.json", MAX_JSON_BYTES)
    with pytest.raises(ModelError) as exc:
        SuggesterModel.load(folder)
    assert "is not readable JSON" in str(exc.value)
    sparse(folder / "manifest.json", MAX_JSON_BYTES + 1)
    with pytest.raises(ModelError) as exc:
        SuggesterModel.load(folder)
    one_line(exc, "manifest.json is 64,000,001 bytes, beyond the limit of 64,000,000 bytes")


def test_model_arrays_at_a_lowered_limit_are_read_and_one_byte_more_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 512,000,000 bytes unpacked; lowered to this archive's size.
    path = tmp_path / "weights.npz"
    np.savez(path, exemplars=np.zeros(10))
    total = sum(i.file_size for i in _members(path.read_bytes()))
    monkeypatch.setattr(bundle_io, "MAX_ARRAY_BYTES", total)
    assert read_arrays(path, bundle_io.ARRAY_PARTS, "retrain")["exemplars"].shape == (10,)
    monkeypatch.setattr(bundle_io, "MAX_ARRAY_BYTES", total - 1)
    with pytest.raises(ModelError) as exc:
        read_arrays(path, bundle_io.ARRAY_PARTS, "retrain")
    one_line(exc, f"unpacks to {total:,} bytes, beyond the limit of {total - 1:,} bytes")


def test_model_arrays_declaring_one_byte_past_the_real_limit_are_refused(
        tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    np.savez(path, exemplars=np.zeros(10))
    lie_about_size(path, "exemplars.npy", MAX_ARRAY_BYTES + 1)
    with pytest.raises(ModelError) as exc:
        read_arrays(path, bundle_io.ARRAY_PARTS, "retrain")
    one_line(exc, "unpacks to 512,000,001 bytes, beyond the limit of 512,000,000 bytes")
