"""Positions in the reading tool's units (UTF-16 for NVivo, code points for the others),
and no dimension exported that the project does not have."""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.interchange.offsets import to_units, tool_of
from isp_nlp.interchange.refi_codebook import codes_element
from isp_nlp.interchange.refi_export import write_qdpx
from isp_nlp.interchange.refi_import import import_refi_new_project
from isp_nlp.interchange.refi_state import STATE_MEMBER
from isp_nlp.records import Code, Codebook
from isp_nlp.store.folder import open_project
from tests.builders.export_project import build_export_project
from tests.builders.paths import require_shared
from tests.builders.refi_xml import qde_selections, read_qde, rewrite_archive


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_export_project(tmp_path_factory.mktemp("positions"), train=False)


def _texts(path: Path) -> dict[str, str]:
    """document -> the exported source text, read from the archive."""
    root = read_qde(path)
    with zipfile.ZipFile(path) as archive:
        return {s.get("name"): archive.read(
                    "sources/" + s.get("plainTextPath").removeprefix("internal://")
                ).decode("utf-8")
                for s in root.iter() if s.tag.endswith("TextSource")}


def _utf16(text: str, start: int, end: int) -> str:
    return text.encode("utf-16-le")[2 * start:2 * end].decode("utf-16-le")


def test_units_by_tool_and_conversion() -> None:
    assert to_units("a😀b𝄞c", [0, 1, 2, 3, 4, 5], "utf16") == [0, 1, 3, 4, 6, 7]
    assert to_units("a😀b", [2], "codepoints") == [2]
    assert tool_of("NVivo for Mac 12.7.0") == "nvivo"
    assert tool_of("ATLAS.ti 8.4.0 573 , macOS") == "atlas.ti"
    assert tool_of("qc 1.3.2") == "qc" and tool_of("isp-nlp 0.1.0") == "isp-nlp"
    assert tool_of("Some Tool 1.0") is None


def test_for_nvivo_selections_read_as_utf16_land_on_the_same_words(built: Path,
                                                                    tmp_path: Path) -> None:
    with open_project(built) as store:
        points = write_qdpx(store, tmp_path / "points.qdpx")
        nvivo = write_qdpx(store, tmp_path / "nvivo.qdpx", tool="nvivo")
    assert (points.positions, nvivo.positions) == ("codepoints", "utf16")
    texts = _texts(tmp_path / "nvivo.qdpx")
    by_guid = {s["guid"]: s for s in qde_selections(read_qde(tmp_path / "points.qdpx"))}
    moved = 0
    for sel in qde_selections(read_qde(tmp_path / "nvivo.qdpx")):
        text = texts[sel["document"]]
        twin = by_guid[sel["guid"]]
        assert _utf16(text, sel["start"], sel["end"]) == text[twin["start"]:twin["end"]]
        moved += sel["start"] != twin["start"]
    assert moved >= 1  # the selection after the emoji moved by two UTF-16 units


def test_a_utf16_export_without_our_state_reads_back_on_the_same_text(built: Path,
                                                                      tmp_path: Path) -> None:
    with open_project(built) as store:
        write_qdpx(store, tmp_path / "nvivo.qdpx", positions="utf16")
        before = Counter((c.document, c.code, c.coder,
                          store.transcript_text(c.document)[c.start:c.end])
                         for c in store.codings())
    bare = rewrite_archive(tmp_path / "nvivo.qdpx", tmp_path / "bare.qdpx",
                           lambda name, data: None if name == STATE_MEMBER else data)
    outcome = import_refi_new_project(tmp_path / "b", bare, embedder="hashing-256")
    assert not outcome.from_state
    assert any("UTF-16" in r.reading for r in outcome.readings)
    with open_project(tmp_path / "b") as store:
        after = Counter((c.document, c.code, c.coder,
                         store.transcript_text(c.document)[c.start:c.end])
                        for c in store.codings())
    assert not before - after  # every span lands on its words (B adds the segment labels)


def test_a_codebook_without_stages_gets_no_stage_tree() -> None:
    book = Codebook("flat", (Code("a", "A"), Code("b", "B", parent="a")), ())
    assert [c.get("name") for c in codes_element(book).iter("Code")] == ["A", "B"]


def test_cli_export_says_its_units(built: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "x.qdpx"
    result = runner.invoke(cli, ["--project", str(built), "export", "--out", str(out),
                                 "--for", "nvivo"])
    assert result.exit_code == 0, result.output
    assert "positions in UTF-16 code units: for nvivo" in result.output
    result = runner.invoke(cli, ["--project", str(built), "export", "--out", str(out),
                                 "--for", "nvivo", "--positions", "codepoints"])
    assert "positions in code points: --positions" in result.output
    with zipfile.ZipFile(out) as archive:
        assert STATE_MEMBER in archive.namelist()
        assert io.BytesIO(archive.read(STATE_MEMBER)).read(1) == b"{"


@pytest.mark.shared_data
def test_nvivo_import_exports_utf16_and_no_stage_tree(tmp_path: Path) -> None:
    source = require_shared("refi-qda", "nvivo-mac-12.7-export.qdpx")
    import_refi_new_project(tmp_path / "a", source, embedder="hashing-256")
    with open_project(tmp_path / "a") as store:
        summary = write_qdpx(store, tmp_path / "a.qdpx")
        held = {c.guid: store.transcript_text(c.document)[c.start:c.end]
                for c in store.codings()}
    assert (summary.positions, summary.dimensions) == ("utf16", ())
    assert "came from nvivo" in summary.positions_why
    root = read_qde(tmp_path / "a.qdpx")
    assert not [c for c in root.iter() if c.tag.endswith("Code") and c.get("name") == "Stage"]
    texts = _texts(tmp_path / "a.qdpx")
    checked = 0
    for sel in qde_selections(root):
        if sel["guid"] in held:
            assert _utf16(texts[sel["document"]], sel["start"], sel["end"]) == held[sel["guid"]]
            checked += 1
    assert checked >= 180
