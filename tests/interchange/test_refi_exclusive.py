"""A code's ``exclusive`` flag through REFI-QDA: our own .qdpx keeps it (in the state
member), the XML carries no attribute for it and stays valid against the standard."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from isp_nlp.errors import InputFileError
from isp_nlp.interchange.refi_codebook import codebook_to_qdc
from isp_nlp.interchange.refi_export import write_qdpx
from isp_nlp.interchange.refi_import import import_refi_new_project
from isp_nlp.interchange.refi_state import STATE_MEMBER
from isp_nlp.records import Codebook
from isp_nlp.store.folder import open_project, require_codebook
from tests.builders.export_project import build_export_project
from tests.builders.paths import SHARED
from tests.builders.refi_xml import rewrite_archive


def _exclusive(book: Codebook) -> Codebook:
    return replace(book, codes=tuple(replace(c, exclusive=c.id == "strategies")
                                     for c in book.codes))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Codebook]:
    root = tmp_path_factory.mktemp("exclusive_refi")
    project = build_export_project(root, train=False)
    with open_project(project) as store:
        book = _exclusive(require_codebook(store))
        store.save_codebook(book, "exclusive.yaml")
        write_qdpx(store, root / "ours.qdpx")
    assert book.exclusive_groups == (("training", "coaching"),)
    return root / "ours.qdpx", book


def test_our_qdpx_round_trip_keeps_exclusive(exported, tmp_path: Path) -> None:
    path, book = exported
    outcome = import_refi_new_project(tmp_path / "back", path, embedder="hashing-256")
    assert outcome.from_state
    with open_project(tmp_path / "back") as store:
        again = require_codebook(store)
    assert again.codes == book.codes
    assert again.exclusive_groups == (("training", "coaching"),)


def test_the_xml_has_no_exclusive_attribute_and_validates(exported) -> None:
    path, book = exported
    with zipfile.ZipFile(path) as archive:
        qde = archive.read("project.qde").decode("utf-8")
        state = json.loads(archive.read(STATE_MEMBER))
    assert "exclusive" not in qde.casefold()
    assert "exclusive" not in codebook_to_qdc(book).decode("utf-8").casefold()
    flags = {c["id"]: c["exclusive"] for c in state["codebook"]["codes"]
             if c["dimension"] == "code"}
    assert flags == {"strategies": True, "training": False, "coaching": False,
                     "barriers": False}
    xsd = SHARED / "refi-qda" / "Project.xsd"
    if not xsd.is_file():
        pytest.skip(f"../shared not found ({xsd}): cannot validate against Project.xsd")
    xmlschema = pytest.importorskip("xmlschema")
    xmlschema.XMLSchema(str(xsd)).validate(qde)
    xmlschema.XMLSchema(str(SHARED / "refi-qda" / "Codebook.xsd")).validate(
        codebook_to_qdc(book).decode("utf-8"))


def _edit(path: Path, out: Path, change) -> Path:
    def edit(name: str, data: bytes) -> bytes:
        if name != STATE_MEMBER:
            return data
        body = json.loads(data)
        change(body)
        return json.dumps(body).encode("utf-8")
    return rewrite_archive(path, out, edit)


def test_a_state_without_the_flag_reads_as_not_exclusive(exported, tmp_path: Path) -> None:
    path, _ = exported
    older = _edit(path, tmp_path / "older.qdpx",
                  lambda b: [c.pop("exclusive") for c in b["codebook"]["codes"]])
    import_refi_new_project(tmp_path / "back", older, embedder="hashing-256")
    with open_project(tmp_path / "back") as store:
        assert require_codebook(store).exclusive_groups == ()


@pytest.mark.parametrize("change, message", [
    (lambda b: b["codebook"]["codes"][0].update(exclusive="yes"),
     "exclusive flag of code 1 is not true or false"),
    (lambda b: next(c for c in b["codebook"]["codes"] if c["dimension"] == "stage"
                    ).update(exclusive=True), "marked exclusive"),
])
def test_a_bad_flag_refuses_the_import(exported, tmp_path: Path, change, message) -> None:
    path, _ = exported
    bad = _edit(path, tmp_path / "bad.qdpx", change)
    with pytest.raises(InputFileError, match=message):
        import_refi_new_project(tmp_path / "back", bad, embedder="hashing-256")
