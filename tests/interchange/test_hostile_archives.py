"""Hostile or broken REFI-QDA files: one clear line, exit status 2, nothing written."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.errors import InputFileError
from isp_nlp.ingest.safe_zip import describe_bytes
from isp_nlp.interchange.refi_project import read_refi_project
from tests.builders.archives import import_refused, lie_about_size
from tests.builders.refi_xml import C_TOP, project_xml, selection, text_source

TEXT = b"P1: I trust them.\n"
QDE = project_xml(text_source(1, "internal://a.txt", [selection(1, 4, 11, C_TOP)]))


def _zip(path: Path, members: dict[str, bytes], *,
         infos: tuple[zipfile.ZipInfo, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", QDE)
        for name, data in members.items():
            z.writestr(name, data)
        for info in infos:
            z.writestr(info, b"/etc/passwd")
    return path


def test_a_clean_archive_imports(project: Path, tmp_path: Path) -> None:
    path = _zip(tmp_path / "ok.qdpx", {"sources/a.txt": TEXT})
    result = CliRunner().invoke(cli, ["--project", str(project), "import", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("member", [
    "../evil.txt", "sources/../../evil.txt", "..\\..\\evil.txt",
])
def test_zip_slip_members_are_refused(project: Path, tmp_path: Path, member: str) -> None:
    path = _zip(tmp_path / "slip.qdpx", {"sources/a.txt": TEXT, member: b"x"})
    import_refused(project, path, "slip.qdpx", "outside the archive")
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize("member", ["/etc/passwd.txt", "C:/Windows/x.txt", "\\\\server\\x.txt"])
def test_absolute_member_paths_are_refused(project: Path, tmp_path: Path, member: str) -> None:
    path = _zip(tmp_path / "abs.qdpx", {"sources/a.txt": TEXT, member: b"x"})
    import_refused(project, path, "absolute path")


def test_symlink_members_are_refused(project: Path, tmp_path: Path) -> None:
    link = zipfile.ZipInfo("sources/a.txt")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = _zip(tmp_path / "link.qdpx", {}, infos=(link,))
    import_refused(project, path, "symbolic link")


def test_too_many_members_is_refused(project: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("isp_nlp.ingest.safe_zip.MAX_MEMBERS", 3)
    path = _zip(tmp_path / "many.qdpx", {f"sources/{i}.txt": b"x" for i in range(5)})
    import_refused(project, path, "members", "zip bomb")


def test_declared_total_size_over_the_limit_is_refused(project: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("isp_nlp.ingest.safe_zip.MAX_TOTAL_BYTES", 5000)
    path = _zip(tmp_path / "bomb.qdpx", {"sources/a.txt": b"0" * 100_000})
    import_refused(project, path, "zip bomb")


def test_a_member_over_the_member_limit_is_not_read(project: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("isp_nlp.ingest.safe_zip.MAX_MEMBER_BYTES", 50_000)
    path = _zip(tmp_path / "big.qdpx", {"sources/a.txt": b"0" * 100_000})
    import_refused(project, path, "sources/a.txt", "zip bomb")


def test_a_member_inflating_past_its_declared_size_stops_at_that_size(project: Path,
                                                                     tmp_path: Path) -> None:
    path = _zip(tmp_path / "liar.qdpx", {"sources/a.txt": b"P1: " + b"0" * 1_000_000})
    lie_about_size(path, "sources/a.txt", 100)
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("sources/a.txt").file_size == 100  # declares 100 bytes, holds 1 MB
    import_refused(project, path, "liar.qdpx", "sources/a.txt",
                   "does not match the size it declares")


def test_dtd_and_entities_in_project_qde_are_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "laughs.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.qde", '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]>'
                   '<Project xmlns="urn:QDA-XML:project:1.0" name="&a;"/>')
    import_refused(project, path, "DTD or entities")
    qde = tmp_path / "laughs.qde"
    qde.write_text('<?xml version="1.0"?><!DOCTYPE p SYSTEM "http://x/p.dtd"><Project/>')
    import_refused(project, qde, "DTD or entities")


def test_an_html_page_saved_as_qdpx_says_what_it_is(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "download.qdpx"
    path.write_text("<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>")
    import_refused(project, path, "download.qdpx", "not a zip", "HTML web page")


@pytest.mark.parametrize(("content", "needle"), [
    (b"<html><body>hello</body></html>", "not a REFI-QDA <Project>"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "is not XML"),
    (b"PK\x03\x04\x14\x00", "a zip archive (perhaps a .qdpx"),
    (b"<Project", "not well-formed XML"),
])
def test_a_qde_that_is_not_refi_xml_is_refused(project: Path, tmp_path: Path, content: bytes,
                                               needle: str) -> None:
    path = tmp_path / "odd.qde"
    path.write_bytes(content)
    import_refused(project, path, "odd.qde", needle)


def test_a_qdpx_without_project_qde_is_refused(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("sources/a.txt", TEXT)
    import_refused(project, path, "no project.qde")


def test_outside_files_are_read_only_when_they_are_text(tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    qde = tmp_path / "p.qde"
    qde.write_text(project_xml(text_source(1, f"absolute://{secret}", [])), encoding="utf-8")
    source = read_refi_project(qde).sources[0]
    assert source.raw is None and source.left_out and "--sources-dir" in source.missing
    source = read_refi_project(qde, sources_dir=tmp_path).sources[0]
    assert source.raw is None and "not a .txt file" in source.missing


def test_describe_bytes_names_common_lookalikes() -> None:
    assert "PDF" in describe_bytes(b"%PDF-1.7")
    assert "HTML" in describe_bytes(b"\xef\xbb\xbf  <html lang=en>")
    assert describe_bytes(b"") == "an empty file"
    with pytest.raises(InputFileError, match="does not exist"):
        read_refi_project(Path("/nonexistent/x.qdpx"))
