"""REFI-QDA codebook exchange: read .qdc/.qde/.qdpx codebooks, write a .qdc."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook.check import stage_dimension
from isp_nlp.errors import InputFileError
from isp_nlp.interchange.refi_codebook import (
    CODEBOOK_NS,
    codebook_to_qdc,
    read_refi_codebook,
    slug,
    write_qdc,
)
from isp_nlp.records import STAGE_DIMENSION, STAGES, Code, Codebook
from tests.builders.paths import CORPUS, SHARED, require_shared

REFI = SHARED / "refi-qda"
REFI_FILES = sorted(p.name for p in REFI.glob("*.qd?*")) if REFI.is_dir() else []
NS = {"c": CODEBOOK_NS}


def _refi(name: str) -> Path:
    return require_shared("refi-qda", name)


def _xml_root(path: Path) -> ET.Element:
    """The XML root of a REFI file, read independently of the importer."""
    if path.suffix == ".qdpx":
        with zipfile.ZipFile(path) as z:
            return ET.fromstring(z.read("project.qde"))
    return ET.fromstring(path.read_bytes())


def _xml_code_tree(root: ET.Element) -> tuple[int, int]:
    """(number of codebook <Code> elements, deepest nesting) counted straight from the XML."""
    book = root if root.tag.endswith("}CodeBook") else next(
        e for e in root if e.tag.endswith("}CodeBook"))
    codes = next(e for e in book if e.tag.endswith("}Codes"))

    def walk(el: ET.Element, depth: int) -> tuple[int, int]:
        count, deepest = 0, depth - 1
        for child in el:
            if child.tag.endswith("}Code"):
                n, d = walk(child, depth + 1)
                count, deepest = count + 1 + n, max(deepest, depth, d)
        return count, deepest

    return walk(codes, 1)


def _depth(book: Codebook) -> int:
    depth: dict[str, int] = {}
    for code in book.codes:
        depth[code.id] = depth[code.parent] + 1 if code.parent else 1
    return max(depth.values(), default=0)


def _sample() -> Codebook:
    codes = (
        Code("strategies", "Implementation support strategies", definition="How they help.",
             color="#1F77B4"),
        Code("didactic_training", "Didactic training", parent="strategies"),
        Code("tools", "Tools & templates", parent="strategies", color="#abc"),
        Code("barriers", "Barriers", definition="What stands in the way."),
    )
    stages = tuple(Code(s, s.replace("_", "-").title(), definition=f"{s} stage",
                        dimension=STAGE_DIMENSION) for s in STAGES)
    return Codebook("sample", codes, (stage_dimension(stages),))


# --------------------------------------------------------------------------- real files


@pytest.mark.shared_data
@pytest.mark.parametrize("name", REFI_FILES or ["taguette-1.5.2.qdc"])
def test_every_shared_file_keeps_its_codes_and_hierarchy(name: str) -> None:
    path = _refi(name)
    count, depth = _xml_code_tree(_xml_root(path))
    book = read_refi_codebook(path).codebook
    assert len(book.codes) == count > 0
    assert _depth(book) == depth
    assert len(set(book.code_ids)) == len(book.codes)
    assert book.dimensions == ()  # no "Stage" tree: no stage dimension


@pytest.mark.shared_data
def test_nvivo_mac_12_7_nests_four_deep() -> None:
    read = read_refi_codebook(_refi("nvivo-mac-12.7-export.qdpx"))
    assert len(read.codebook.codes) == 152
    assert _depth(read.codebook) == 4
    first = read.codebook.codes[0]
    assert first.name == "1. Oltás típusa" and first.id == "1_oltas_tipusa"
    assert first.definition == "COVID vay nem COVID"


@pytest.mark.shared_data
def test_taguette_codebook_imports_with_a_warning_about_empty_sets() -> None:
    read = read_refi_codebook(_refi("taguette-1.5.2.qdc"))
    assert [c.name for c in read.codebook.codes] == ["interesting", "people",
                                                      "interesting\\places"]
    assert len(read.warnings) == 1 and "<Sets/>" in read.warnings[0]


@pytest.mark.shared_data
def test_atlasti_colour_and_description_are_read() -> None:
    read = read_refi_codebook(_refi("atlasti-win-23.4.0.qdc"))
    (code,) = read.codebook.codes
    assert (code.id, code.name, code.color, code.definition) == (
        "code1", "code1", "#46AA00", "description")


@pytest.mark.shared_data
@pytest.mark.parametrize("name", REFI_FILES or ["taguette-1.5.2.qdc"])
def test_export_of_every_shared_codebook_validates_and_round_trips(
        name: str, tmp_path: Path) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(_refi("Codebook.xsd")))
    book = read_refi_codebook(_refi(name)).codebook
    out = write_qdc(book, tmp_path / f"{Path(name).stem}.qdc")
    schema.validate(str(out))
    again = read_refi_codebook(out)
    assert again.codebook == book
    assert again.warnings == ()


@pytest.mark.shared_data
def test_sample_export_validates_against_the_xsd(tmp_path: Path) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(_refi("Codebook.xsd")))
    schema.validate(str(write_qdc(_sample(), tmp_path / "sample.qdc")))


# --------------------------------------------------------------------------- no shared data


def test_export_structure_nests_codes_and_puts_stages_under_stage(tmp_path: Path) -> None:
    root = ET.fromstring(codebook_to_qdc(_sample()))
    assert root.tag == f"{{{CODEBOOK_NS}}}CodeBook"
    assert [e.tag for e in root] == [f"{{{CODEBOOK_NS}}}Codes"]  # never an empty <Sets/>
    top = root.findall("c:Codes/c:Code", NS)
    assert [e.get("name") for e in top] == ["Implementation support strategies", "Barriers",
                                            "Stage"]
    assert [e.get("name") for e in top[0].findall("c:Code", NS)] == [
        "Didactic training", "Tools & templates"]
    assert top[0].get("color") == "#1F77B4" and top[0].find("c:Description", NS).text == (
        "How they help.")
    assert top[2].get("isCodable") == "false"
    assert [e.get("name") for e in top[2].findall("c:Code", NS)] == [
        "Push", "Push-Pull", "Exchange", "None"]
    for code in root.iter(f"{{{CODEBOOK_NS}}}Code"):
        assert code.get("isCodable") in ("true", "false") and code.get("name")


def test_guids_are_identical_across_exports_and_unique() -> None:
    first, second = codebook_to_qdc(_sample()), codebook_to_qdc(_sample())
    assert first == second
    guids = [e.get("guid") for e in ET.fromstring(first).iter(f"{{{CODEBOOK_NS}}}Code")]
    assert len(guids) == len(set(guids)) == 4 + 1 + 4


def test_import_export_import_gives_the_same_codebook(tmp_path: Path) -> None:
    (tmp_path / "again").mkdir()
    first = read_refi_codebook(write_qdc(_sample(), tmp_path / "book.qdc"))
    second = read_refi_codebook(write_qdc(first.codebook, tmp_path / "again" / "book.qdc"))
    assert second.codebook == first.codebook
    assert [c.id for c in first.codebook.codes] == [
        "implementation_support_strategies", "didactic_training", "tools_templates",
        "barriers"]
    assert first.codebook.codes[2].color == "#abc"
    assert [s.name for s in first.codebook.dimensions[0].values] == [
        "Push", "Push-Pull", "Exchange", "None"]


def test_stage_children_are_matched_case_insensitively_and_missing_ones_default(
        tmp_path: Path) -> None:
    path = tmp_path / "stages.qdc"
    path.write_text(
        f'<CodeBook xmlns="{CODEBOOK_NS}"><Codes>'
        '<Code guid="00000000-0000-0000-0000-000000000001" name="A" isCodable="true"/>'
        '<Code guid="00000000-0000-0000-0000-000000000002" name="A" isCodable="true"/>'
        '<Code guid="00000000-0000-0000-0000-000000000003" name="STAGE" isCodable="false">'
        '<Code guid="00000000-0000-0000-0000-000000000004" name="PUSH_PULL" isCodable="true">'
        '<Description>mine</Description></Code>'
        '<Code guid="00000000-0000-0000-0000-000000000005" name="push" isCodable="true"/>'
        "</Code></Codes></CodeBook>", encoding="utf-8")
    book = read_refi_codebook(path).codebook
    assert book.code_ids == ("a", "a_2")
    (stage,) = book.dimensions
    assert stage.value_ids == STAGES
    assert stage.values[1].definition == "mine" and stage.values[1].name == "PUSH_PULL"
    assert stage.values[2].name == "Exchange"
    # the tool's GUIDs are kept, so an export names the tree and its values as it did
    assert stage.guid == "00000000-0000-0000-0000-000000000003"
    assert stage.values[0].guid == "00000000-0000-0000-0000-000000000005"


def test_project_qde_codebook_in_a_qdpx_is_read_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "p.qdpx"
    qde = ('<Project xmlns="urn:QDA-XML:project:1.0" name="p"><CodeBook><Codes>'
           '<Code guid="00000000-0000-0000-0000-000000000001" name="Top" isCodable="true">'
           '<Code guid="00000000-0000-0000-0000-000000000002" name="Kid" isCodable="true"/>'
           "</Code></Codes></CodeBook></Project>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.qde", qde)
    book = read_refi_codebook(path).codebook
    assert [(c.id, c.parent) for c in book.codes] == [("top", None), ("kid", "top")]
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("../escape.txt", "never extracted")
    with pytest.raises(InputFileError, match="outside the archive"):
        read_refi_codebook(path)  # a zip-slip member refuses the whole archive
    assert not (tmp_path.parent / "escape.txt").exists()


# --------------------------------------------------------------------------- hostile, broken


def _one_line(exc: pytest.ExceptionInfo[InputFileError], *needles: str) -> None:
    text = str(exc.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, text


def test_dtd_and_entities_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "laughs.qdc"
    path.write_text('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                    '<!ENTITY lol2 "&lol;&lol;&lol;">]>'
                    f'<CodeBook xmlns="{CODEBOOK_NS}"><Codes>'
                    '<Code guid="00000000-0000-0000-0000-000000000001" name="&lol2;" '
                    'isCodable="true"/></Codes></CodeBook>', encoding="utf-8")
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    _one_line(exc, "laughs.qdc", "DTD")


def test_a_qdpx_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "saved-page.qdpx"
    path.write_text("<!DOCTYPE html><html><body>Not found</body></html>", encoding="utf-8")
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    _one_line(exc, "saved-page.qdpx", "not a zip")


def test_a_qdpx_with_absurd_member_count_is_refused(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("isp_nlp.ingest.safe_zip.MAX_MEMBERS", 3)
    path = tmp_path / "bomb.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(5):
            z.writestr(f"sources/{i}.txt", "x")
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    _one_line(exc, "bomb.qdpx", "zip bomb")


def test_a_qdpx_whose_project_qde_inflates_too_far_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("isp_nlp.ingest.safe_zip.MAX_MEMBER_BYTES", 1000)
    path = tmp_path / "big.qdpx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", "<Project>" + " " * 100_000 + "</Project>")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    _one_line(exc, "big.qdpx", "project.qde")


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("broken.qdc", "<CodeBook><Codes>", "not well-formed XML"),
    ("other.qde", "<Something/>", "no REFI-QDA <CodeBook>"),
])
def test_not_a_codebook_is_one_line(tmp_path: Path, name: str, content: str,
                                    needle: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFileError) as exc:
        read_refi_codebook(path)
    _one_line(exc, name, needle)


# --------------------------------------------------------------------------- CLI


def _run(*args: str, project: Path):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def test_cli_loads_a_qdc_and_exports_it_back(project: Path, tmp_path: Path) -> None:
    source = write_qdc(_sample(), tmp_path / "sample.qdc")
    loaded = _run("codebook", "load", str(source), project=project)
    assert loaded.exit_code == 0, loaded.output
    said = " ".join(loaded.output.split())  # wrapped at 80 columns
    assert "4 codes; dimensions: Stage (push < push_pull < exchange; none)" in said
    out = tmp_path / "back.qdc"
    exported = _run("codebook", "export", "--out", str(out), project=project)
    assert exported.exit_code == 0, exported.output
    assert read_refi_codebook(out).codebook.code_ids == read_refi_codebook(
        source).codebook.code_ids


def test_cli_prints_each_warning_on_one_line(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "tag.qdc"
    path.write_text(f'<CodeBook xmlns="{CODEBOOK_NS}"><Codes><Code guid='
                    '"00000000-0000-0000-0000-000000000001" name="x" isCodable="true"/>'
                    "</Codes><Sets/></CodeBook>", encoding="utf-8")
    result = _run("codebook", "load", str(path), project=project)
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.output.splitlines() if ln.startswith("Warning: ")]
    assert len(warnings) == 1 and "<Sets/>" in warnings[0]


def test_cli_yaml_codebook_still_loads_and_exports(project: Path, tmp_path: Path) -> None:
    assert _run("codebook", "load", str(CORPUS / "codebook.yaml"),
                project=project).exit_code == 0
    result = _run("codebook", "export", "--out", str(tmp_path / "demo.qdc"), project=project)
    assert result.exit_code == 0, result.output
    assert "Stage" in (tmp_path / "demo.qdc").read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [
    ("codebook", "load", "{tmp}/page.qdpx"),
    ("codebook", "export", "--out", "{tmp}/book.yaml"),
])
def test_cli_user_mistakes_exit_2_with_one_line(project: Path, tmp_path: Path,
                                                 args: tuple[str, ...]) -> None:
    (tmp_path / "page.qdpx").write_text("<html></html>", encoding="utf-8")
    _run("codebook", "load", str(CORPUS / "codebook.yaml"), project=project)
    result = _run(*(a.format(tmp=tmp_path) for a in args), project=project)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output


def test_slug_keeps_other_scripts_and_drops_accents() -> None:
    assert slug("1. Oltás típusa") == "1_oltas_tipusa"
    assert slug("Доверие и обмен") == "доверие_и_обмен"
    assert slug("信頼") == "信頼"
    assert slug("  ---  ") == "code"
