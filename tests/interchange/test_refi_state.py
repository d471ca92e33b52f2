"""isp-nlp's state beside the REFI-QDA part of our own .qdpx: used only with the
project.qde it was written with, checked before use, refused in one line when damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.errors import InputFileError
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.interchange.refi_export import write_qdpx
from isp_nlp.interchange.refi_import import import_refi, import_refi_new_project
from isp_nlp.interchange.refi_state import STATE_MEMBER
from isp_nlp.store.folder import open_project
from tests.builders.export_project import build_export_project
from tests.builders.refi_xml import rewrite_archive


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_export_project(tmp_path_factory.mktemp("state"), train=False)


def _edit_state(path: Path, out: Path, change) -> Path:
    """A copy of our export with its state JSON changed by ``change(body)``."""
    def edit(name: str, data: bytes) -> bytes:
        if name != STATE_MEMBER:
            return data
        body = json.loads(data)
        change(body)
        return json.dumps(body).encode("utf-8")
    return rewrite_archive(path, out, edit)


def test_a_changed_project_qde_is_read_without_the_state(built: Path, tmp_path: Path) -> None:
    with open_project(built) as store:
        write_qdpx(store, tmp_path / "ours.qdpx")
    edited = rewrite_archive(tmp_path / "ours.qdpx", tmp_path / "edited.qdpx",
                             lambda name, data: data + b"\n" if name == "project.qde" else data)
    outcome = import_refi_new_project(tmp_path / "b", edited, embedder="hashing-256")
    assert not outcome.from_state
    assert any("changed after isp-nlp wrote it" in w for w in outcome.warnings)


@pytest.mark.parametrize("state", [b"{", b"[]", b'{"format": "isp-nlp project state"}',
                                   b"\xff\xfe"])
def test_a_damaged_state_refuses_the_import_in_one_line(built: Path, tmp_path: Path,
                                                        state: bytes) -> None:
    with open_project(built) as store:
        write_qdpx(store, tmp_path / "ours.qdpx")
    bad = rewrite_archive(tmp_path / "ours.qdpx", tmp_path / "bad.qdpx",
                          lambda name, data: state if name == STATE_MEMBER else data)
    with pytest.raises(InputFileError, match=r"isp-nlp state \(isp-nlp/state.json\)"):
        import_refi_new_project(tmp_path / "b", bad, embedder="hashing-256")
    assert not (tmp_path / "b").exists()  # all or nothing
    result = CliRunner().invoke(cli, ["import", str(bad), "--init", str(tmp_path / "c")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_state_with_an_unknown_provenance_is_refused(built: Path, tmp_path: Path) -> None:
    with open_project(built) as store:
        write_qdpx(store, tmp_path / "ours.qdpx")
    bad = rewrite_archive(tmp_path / "ours.qdpx", tmp_path / "bad.qdpx", lambda name, data: (
        data.replace(b',"human","', b',"nobody","', 1) if name == STATE_MEMBER else data))
    with pytest.raises(InputFileError, match="unknown provenance 'nobody'"):
        import_refi_new_project(tmp_path / "b", bad, embedder="hashing-256")


@pytest.mark.parametrize("change, message", [
    (lambda b: b["codebook"]["codes"].append(dict(b["codebook"]["codes"][0])),
     "empty or repeated code id"),
    (lambda b: b["codebook"]["codes"][0].update(parent="nowhere"), "missing or a cycle"),
    (lambda b: b["codings"][0].__setitem__(4, "no_such_code"), "which its codebook lacks"),
    (lambda b: b["documents"][0]["segments"][0].__setitem__(1, 10**9), "outside its text"),
    (lambda b: b["log"].append({**b["log"][-1], "undoes": 10**6}), "does not come before"),
])
def test_a_state_that_does_not_hold_together_is_refused(built: Path, tmp_path: Path, change,
                                                        message: str) -> None:
    with open_project(built) as store:
        write_qdpx(store, tmp_path / "ours.qdpx")
    bad = _edit_state(tmp_path / "ours.qdpx", tmp_path / "bad.qdpx", change)
    with pytest.raises(InputFileError, match=message):
        import_refi_new_project(tmp_path / "b", bad, embedder="hashing-256")
    assert not (tmp_path / "b").exists()


def test_a_document_segmented_otherwise_here_is_placed_as_for_any_tool(built: Path,
                                                                       tmp_path: Path) -> None:
    with open_project(built) as store:
        write_qdpx(store, tmp_path / "ours.qdpx")
        record = store.transcript_record("site0")
    assert record is not None
    transcript, _ = record
    other = tmp_path / "c"
    import_refi_new_project(other, tmp_path / "ours.qdpx", embedder="hashing-256")
    with open_project(other) as store:  # site0 cut into pieces of at most 30 characters
        with store.transaction() as conn:
            conn.execute("DELETE FROM annotations")
            conn.execute("DELETE FROM codings")
        pieces = segment_transcript(transcript, unit="sentence", max_chars=30)
        store.add_transcripts([(transcript, pieces, "sentence")], replace=True)
        outcome = import_refi(store, tmp_path / "ours.qdpx")
        assert outcome.from_state
        assert any("'site0' is segmented differently" in w for w in outcome.warnings)
        assert {c.document for c in store.codings()} >= {"site0", "site1", "site2"}
