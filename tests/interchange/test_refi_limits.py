"""Hostile REFI-QDA files: no reading of the importer's disk, limits checked before memory
is spent, and positions, controls and nesting that break nothing later.

Limits are tested at and one past the limit; where the real limit is large, the "at the
limit" case lowers the limit constant with monkeypatch (said at each test), while the
"past the limit" case uses the real limit with a sparse file or a forged header.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.errors import InputFileError
from isp_nlp.ingest.docx import read_docx
from isp_nlp.ingest.safe_xml import MAX_DEPTH, MAX_ELEMENTS
from isp_nlp.ingest.safe_zip import MAX_MEMBERS, check_zip_directory
from isp_nlp.interchange.refi_codebook import MAX_CODE_DEPTH, MAX_QDE_BYTES, codebook_to_qdc
from isp_nlp.interchange.refi_import import import_refi, import_refi_new_project
from isp_nlp.interchange.refi_project import read_refi_project
from isp_nlp.interchange.refi_sources import MAX_SOURCE_BYTES
from isp_nlp.store.folder import open_project
from tests.builders.archives import import_refused, lie_about_size
from tests.builders.refi_xml import (
    C_TOP,
    item_guid,
    project_xml,
    selection,
    text_source,
    write_qdpx,
)
from tests.builders.tables import tables

SECRET = "MY-PRIVATE-DIARY-4711"
TEXT = b"P1: I trust them.\n"


def _import(project: Path, path: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project), "import", str(path), *extra])


def _holds(project: Path, needle: str) -> bool:
    return needle in repr(tables(project))


def _diary(tmp_path: Path) -> Path:
    outside = tmp_path / "home" / "me"
    outside.mkdir(parents=True)
    diary = outside / "diary.txt"
    diary.write_text(f"{SECRET} my thoughts\n", encoding="utf-8")
    return diary


# --------------------------------------------------------------------------- reading the disk


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_a_qdpx_cannot_read_a_file_outside_the_archive(project: Path, tmp_path: Path,
                                                       kind: str) -> None:
    diary = _diary(tmp_path)
    work = tmp_path / "downloads" / "a" / "b"
    work.mkdir(parents=True)
    written = (f"absolute://{diary}" if kind == "absolute"
               else "relative://" + "../" * 12 + str(diary).lstrip("/"))
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)],
                                  name="ok")
                      + text_source(2, written, [selection(2, 0, 5, C_TOP)], name="diary"))
    path = write_qdpx(work / "study.qdpx", qde, {"sources/a.txt": TEXT})
    result = _import(project, path)
    assert result.exit_code == 0, result.output
    assert "sources: 1 added, 0 unchanged, 0 missing, 1 left out" in result.output
    said = " ".join(result.output.split())  # lines wrap at 80 columns
    assert said.count("left out 1 source:") == 1
    assert (f"left out 1 source: 'diary' ({kind}:// path outside the archive; pass "
            "--sources-dir DIR to read such files)") in said
    assert not _holds(project, SECRET)
    assert _holds(project, "I trust them")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_bare_qde_symlink_to_proc_environ_or_outside_is_left_out(project: Path,
                                                                   tmp_path: Path) -> None:
    diary = _diary(tmp_path)
    folder = tmp_path / "export"
    (folder / "sources").mkdir(parents=True)
    (folder / "sources" / "a.txt").symlink_to("/proc/self/environ")
    (folder / "sources" / "b.txt").symlink_to(diary)
    (folder / "sources" / "c.txt").write_bytes(TEXT)
    qde = folder / "study.qde"
    qde.write_text(project_xml(
        text_source(1, "internal://a.txt", name="env")
        + text_source(2, "internal://b.txt", name="diary")
        + text_source(3, "internal://c.txt", [selection(1, 4, 11, C_TOP)], name="fine")),
        encoding="utf-8")
    result = _import(project, qde)
    assert result.exit_code == 0, result.output
    assert "1 added, 0 unchanged, 0 missing, 2 left out" in result.output
    assert ("left out 2 sources: 'env' (a.txt leads outside the sources/ folder beside the "
            ".qde (a symbolic link or '..'); refused); 'diary' (b.txt leads") in " ".join(
                result.output.split())
    assert not _holds(project, SECRET) and not _holds(project, "PATH=")
    assert _holds(project, "I trust them")


def test_sources_dir_reads_files_inside_it_and_refuses_links_out(project: Path,
                                                                 tmp_path: Path) -> None:
    diary = _diary(tmp_path)
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    (media / "sub" / "inside.txt").write_bytes(TEXT)
    (media / "escape.txt").symlink_to(diary)
    qde = project_xml(
        text_source(1, f"absolute://{media}/sub/inside.txt", [selection(1, 4, 11, C_TOP)],
                    name="abs")
        + text_source(2, "relative://sub/inside.txt", name="rel")
        + text_source(3, "relative://escape.txt", name="link")
        + text_source(4, f"absolute://{diary}", name="diary"))
    path = write_qdpx(tmp_path / "study.qdpx", qde, {})
    result = _import(project, path, "--sources-dir", str(media))
    assert result.exit_code == 0, result.output
    assert "sources: 2 added, 0 unchanged, 0 missing, 2 left out" in result.output
    said = " ".join(result.output.split())  # lines wrap at 80 columns
    assert "left out 2 sources: 'link' (escape.txt leads outside --sources-dir" in said
    assert f"'diary' ({diary} leads outside --sources-dir" in said
    assert not _holds(project, SECRET)
    with open_project(project) as store:
        assert store.transcript_text("abs") == TEXT.decode()


def test_sources_dir_must_be_a_folder(project: Path, tmp_path: Path) -> None:
    path = write_qdpx(tmp_path / "s.qdpx", project_xml(""), {})
    with pytest.raises(InputFileError, match="--sources-dir"):
        read_refi_project(path, tmp_path / "nope")


@pytest.mark.parametrize(("mode", "kind"), [(stat.S_IFIFO, "named pipe"),
                                            (stat.S_IFCHR, "character device"),
                                            (stat.S_IFBLK, "block device"),
                                            (stat.S_IFSOCK, "socket")])
def test_device_fifo_and_socket_members_are_refused(project: Path, tmp_path: Path,
                                                    mode: int, kind: str) -> None:
    info = zipfile.ZipInfo("sources/a.txt")
    info.create_system = 3
    info.external_attr = (mode | 0o644) << 16
    path = tmp_path / "dev.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.qde", project_xml(text_source(1, "internal://a.txt")))
        z.writestr(info, TEXT)
    import_refused(project, path, "dev.qdpx", "sources/a.txt", kind)


# --------------------------------------------------------------------------- sizes


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.write(b"<")
        handle.truncate(size)
    return path


def test_a_huge_qdc_or_qde_is_refused_before_reading(project: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    import_refused(project, _sparse(tmp_path / "huge.qdc", 20_000_001), "huge.qdc", "20,000,000")
    import_refused(project, _sparse(tmp_path / "huge.qde", 1_100_000_000), "huge.qde",
                   f"{MAX_QDE_BYTES:,}")
    assert time.monotonic() - started < 5


def test_a_codebook_at_the_size_limit_is_read(project: Path, tmp_path: Path) -> None:
    # A sparse file of exactly 20,000,000 bytes passes the size check (then is bad XML).
    result = _import(project, _sparse(tmp_path / "edge.qdc", 20_000_000))
    assert result.exit_code == 2 and "not well-formed XML" in result.output


def test_a_qde_at_and_past_a_lowered_size_limit(project: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 256 MB; lowered here to the size of a small file.
    qde = tmp_path / "s.qde"
    qde.write_text(project_xml(text_source(1, "", name="x", inline="P1: hello")),
                   encoding="utf-8")
    monkeypatch.setattr("isp_nlp.interchange.refi_codebook.MAX_QDE_BYTES", qde.stat().st_size)
    assert _import(project, qde).exit_code == 0
    monkeypatch.setattr("isp_nlp.interchange.refi_codebook.MAX_QDE_BYTES",
                        qde.stat().st_size - 1)
    import_refused(project, qde, "s.qde", "beyond the limit")


def _forged_eocd(entries: int, *, zip64: bool) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("project.qde", "<Project/>")
    data = buffer.getvalue()
    at = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack("<LL", data[at + 12:at + 20])
    eocd = bytearray(data[at:])
    if not zip64:
        struct.pack_into("<HH", eocd, 8, entries & 0xFFFF, min(entries, 0xFFFF))
        return data[:at] + bytes(eocd)
    record = b"PK\x06\x06" + struct.pack("<QHHLLQQQQ", 44, 45, 45, 0, 0, entries, entries,
                                         size, offset)
    locator = b"PK\x06\x07" + struct.pack("<LQL", 0, at, 1)
    struct.pack_into("<HH", eocd, 8, 0xFFFF, 0xFFFF)
    return data[:at] + record + locator + bytes(eocd)


@pytest.mark.parametrize("zip64", [False, True])
def test_a_forged_directory_of_millions_of_entries_is_refused_at_once(
        project: Path, tmp_path: Path, zip64: bool) -> None:
    path = tmp_path / "million.qdpx"
    path.write_bytes(_forged_eocd(4_500_000, zip64=zip64))
    started = time.monotonic()
    import_refused(project, path, "million.qdpx", "members", "zip bomb")
    assert time.monotonic() - started < 2


def test_the_directory_is_counted_not_just_its_claim(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(MAX_MEMBERS + 1):
            z.writestr(f"sources/{i}.txt", b"")
    data = bytearray(buffer.getvalue())
    at = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, at + 8, 5, 5)  # claims 5 entries, holds 10,001
    with pytest.raises(InputFileError, match="10,001 members"):
        check_zip_directory(io.BytesIO(bytes(data)), "liar.qdpx")
    del data[-300:]  # no end record at all: zipfile will say it is not a zip
    assert check_zip_directory(io.BytesIO(bytes(data)), "cut.qdpx") is None


def test_members_at_and_past_the_member_count(tmp_path: Path) -> None:
    for count, ok in ((MAX_MEMBERS, True), (MAX_MEMBERS + 1, False)):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for i in range(count):
                z.writestr(f"{i}", b"")
        if ok:
            assert check_zip_directory(buffer, "x.qdpx") is not None
        else:
            with pytest.raises(InputFileError, match="zip bomb"):
                check_zip_directory(buffer, "x.qdpx")


def test_a_directory_past_its_byte_cap_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("a", b"")
    size = 46 + 1
    monkeypatch.setattr("isp_nlp.ingest.safe_zip.MAX_DIRECTORY_BYTES", size)
    assert check_zip_directory(buffer, "x.qdpx") is not None
    monkeypatch.setattr("isp_nlp.ingest.safe_zip.MAX_DIRECTORY_BYTES", size - 1)
    with pytest.raises(InputFileError, match="lists 1 members in a zip directory of 47 bytes"):
        check_zip_directory(buffer, "x.qdpx")


def test_a_source_member_declaring_more_than_a_transcript_is_refused(project: Path,
                                                                    tmp_path: Path) -> None:
    qde = project_xml(text_source(1, "internal://a.txt"))
    path = write_qdpx(tmp_path / "big.qdpx", qde, {"sources/a.txt": TEXT})
    lie_about_size(path, "sources/a.txt", MAX_SOURCE_BYTES + 1)
    import_refused(project, path, "big.qdpx", "sources/a.txt", f"{MAX_SOURCE_BYTES:,} bytes")


def test_a_source_member_at_a_lowered_limit_is_read(project: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 50 MB (as a transcript at ingest); lowered to the member's size.
    qde = project_xml(text_source(1, "internal://a.txt"))
    path = write_qdpx(tmp_path / "edge.qdpx", qde, {"sources/a.txt": TEXT})
    monkeypatch.setattr("isp_nlp.interchange.refi_sources.MAX_SOURCE_BYTES", len(TEXT))
    assert _import(project, path).exit_code == 0
    monkeypatch.setattr("isp_nlp.interchange.refi_sources.MAX_SOURCE_BYTES", len(TEXT) - 1)
    import_refused(project, path, "edge.qdpx", "sources/a.txt", "beyond the limit")


# --------------------------------------------------------------------------- XML caps


def test_xml_past_the_element_cap_is_refused(project: Path, tmp_path: Path) -> None:
    qde = project_xml("").replace("</Project>", "<x/>" * MAX_ELEMENTS + "</Project>")
    path = write_qdpx(tmp_path / "many.qdpx", qde, {})
    import_refused(project, path, "many.qdpx", f"{MAX_ELEMENTS:,} XML elements")


def test_xml_at_a_lowered_element_cap_is_read(project: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The real cap is 1,000,000 elements; lowered to this file's count.
    qde = project_xml(text_source(1, "", name="x", inline="P1: hello"))
    count = qde.count("<") - qde.count("</") - 1  # less the XML declaration
    path = write_qdpx(tmp_path / "edge.qdpx", qde, {})
    monkeypatch.setattr("isp_nlp.ingest.safe_xml.MAX_ELEMENTS", count)
    assert _import(project, path).exit_code == 0
    monkeypatch.setattr("isp_nlp.ingest.safe_xml.MAX_ELEMENTS", count - 1)
    import_refused(project, path, "edge.qdpx", "XML elements")


@pytest.mark.parametrize(("depth", "ok"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False)])
def test_xml_at_and_past_the_depth_cap(project: Path, tmp_path: Path, depth: int,
                                       ok: bool) -> None:
    inner = depth - 1  # the <Project> root is the first level
    deep = "<x>" * inner + "</x>" * inner
    qde = project_xml(text_source(1, "", name="d", inline="P1: hello")).replace(
        "</Project>", deep + "</Project>")
    path = write_qdpx(tmp_path / "deep.qdpx", qde, {})
    if ok:
        assert _import(project, path).exit_code == 0
    else:
        import_refused(project, path, "deep.qdpx", f"more than {MAX_DEPTH} levels")


def _nested_codes(depth: int) -> str:
    opening = "".join(f'<Code guid="{item_guid(5000 + i)}" name="c{i}" isCodable="true">'
                      for i in range(depth))
    return f"<CodeBook><Codes>{opening}{'</Code>' * depth}</Codes></CodeBook>"


def test_codes_nested_past_what_export_can_write_are_refused(project: Path,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "deep.qdpx"
    write_qdpx(path, project_xml("", codebook=_nested_codes(MAX_CODE_DEPTH + 1)), {})
    import_refused(project, path, "deep.qdpx", f"more than {MAX_CODE_DEPTH} levels deep")
    write_qdpx(path, project_xml("", codebook=_nested_codes(MAX_CODE_DEPTH)), {})
    assert _import(project, path).exit_code == 0
    with open_project(project) as store:
        book = store.codebook()
        assert book is not None and len(book.codes) == MAX_CODE_DEPTH
        assert b"c99" in codebook_to_qdc(book)  # export writes it back


# --------------------------------------------------------------------------- positions, NUL


def test_positions_of_thousands_of_digits_are_skipped_with_a_warning(project: Path,
                                                                     tmp_path: Path) -> None:
    huge = "9" * 5000
    sel = selection(1, 4, 11, C_TOP).replace('startPosition="4"', f'startPosition="{huge}"')
    qde = project_xml(text_source(1, "internal://a.txt", [sel, selection(2, 4, 11, C_TOP),
                                                          selection(3, 0, 10**12 - 1, C_TOP)])
                      + text_source(2, "internal://a.txt", [selection(4, 0, 10**12, C_TOP)],
                                    name="Other"))
    path = write_qdpx(tmp_path / "digits.qdpx", qde, {"sources/a.txt": TEXT})
    result = _import(project, path)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.output.count("at most 12 digits") == 2  # 5,000 and 13 digits
    assert "codings: 2 imported" in result.output  # 4-11 and the 12-digit one


def test_nul_and_controls_in_a_source_keep_the_offsets(project: Path, tmp_path: Path) -> None:
    raw = "P1: a\x00b\x1b[31m I trust them.\n"
    start = raw.index("trust")
    qde = project_xml(text_source(1, "internal://a.txt",
                                  [selection(1, start, start + 5, C_TOP)]))
    path = write_qdpx(tmp_path / "nul.qdpx", qde, {"sources/a.txt": raw.encode()})
    result = _import(project, path)
    assert result.exit_code == 0, result.output
    assert "2 control character(s) (first U+0000)" in result.output
    assert "outside" not in result.output
    with open_project(project) as store:
        text = store.transcript_text("Doc")
        [coding] = store.codings()
    assert text == "P1: a b [31m I trust them.\n"
    assert text[coding.start:coding.end] == "trust"


def test_refusals_leave_a_new_project_folder_unmade(tmp_path: Path) -> None:
    path = tmp_path / "million.qdpx"
    path.write_bytes(_forged_eocd(4_500_000, zip64=False))
    out = tmp_path / "new"
    with pytest.raises(InputFileError):
        import_refi_new_project(out, path, embedder="hashing-256")
    assert not out.exists()
    assert not os.path.exists(out / "project.sqlite")


def test_the_library_call_takes_sources_dir(project: Path, tmp_path: Path) -> None:
    media = tmp_path / "m"
    media.mkdir()
    (media / "x.txt").write_bytes(TEXT)
    qde = tmp_path / "p.qde"
    qde.write_text(project_xml(text_source(1, "relative://x.txt", name="x")), encoding="utf-8")
    with open_project(project) as store:
        assert import_refi(store, qde).left_out[0][0] == "x"
        assert import_refi(store, qde, sources_dir=media).added == ("x",)


def test_a_docx_with_a_forged_directory_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "interview.docx"
    path.write_bytes(_forged_eocd(4_500_000, zip64=True))
    with pytest.raises(InputFileError, match="interview.docx lists 4,500,000 members"):
        read_docx(path)
