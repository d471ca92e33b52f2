"""REFI-QDA project export (.qdpx): layout, XSD, offsets, GUIDs, provenance, suggestions."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook.check import stage_dimension
from isp_nlp.coded.spans import annotations_from_placement, place_codings
from isp_nlp.embed import text_key
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.interchange import refi_export
from isp_nlp.interchange.refi_codebook import (
    PROJECT_NS,
    code_guid,
    dimension_code_guids,
    read_refi_codebook,
)
from isp_nlp.interchange.refi_export import build_selections, lf_sources, write_qdpx
from isp_nlp.interchange.refi_ids import selection_guid, source_guid, user_guid
from isp_nlp.interchange.refi_xml import QdpxContent, Selection, project_qde
from isp_nlp.records import (
    Annotation,
    Code,
    Codebook,
    Coder,
    Coding,
    Segment,
    Suggestion,
    Transcript,
    Turn,
)
from isp_nlp.store.database import Store
from isp_nlp.store.folder import open_project
from tests.builders.export_project import ANA, build_export_project
from tests.builders.paths import SHARED
from tests.builders.refi_xml import qde_selections, read_qde

NS = {"q": PROJECT_NS}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_export_project(tmp_path_factory.mktemp("export"), train=True)


def _validate(path: Path) -> None:
    """Validate a .qdpx's project.qde against Project.xsd where ../shared is present."""
    xsd = SHARED / "refi-qda" / "Project.xsd"
    if xsd.is_file():
        xmlschema = pytest.importorskip("xmlschema")
        with zipfile.ZipFile(path) as archive:
            xmlschema.XMLSchema(str(xsd)).validate(archive.read("project.qde").decode("utf-8"))


def _guids(root: ET.Element) -> set[str]:
    return {e.get("guid") for e in root.iter() if e.get("guid")}


@pytest.fixture(scope="module")
def exported(built: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out") / "study.qdpx"
    with open_project(built) as store:
        summary = write_qdpx(store, out)
        texts = store.transcript_texts()
        codings = store.codings()
        annotations = store.annotations()
        segments = {s.id: s for s in store.segments()}
        codebook = store.codebook()
    return out, summary, texts, codings, annotations, segments, codebook


def test_archive_layout_and_text_sources(exported) -> None:
    out, summary, texts, *_ = exported
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        members = {n: archive.read(n) for n in names}
    assert names == ["project.qde"] + [f"sources/{source_guid(d)}.txt" for d in sorted(texts)] + [
        "isp-nlp/state.json"]
    for document, text in texts.items():
        raw = members[f"sources/{source_guid(document)}.txt"]
        assert raw == text.encode("utf-8")
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
    root = ET.fromstring(members["project.qde"])
    assert root.tag == f"{{{PROJECT_NS}}}Project"
    assert root.get("origin").startswith("isp-nlp ")
    sources = root.findall("q:Sources/q:TextSource", NS)
    assert [(s.get("name"), s.get("plainTextPath")) for s in sources] == [
        (d, f"internal://{source_guid(d)}.txt") for d in sorted(texts)]
    assert summary.sources == 3 and summary.path == out and summary.size == out.stat().st_size


def test_the_project_validates_against_project_xsd(exported) -> None:
    out = exported[0]
    xsd = SHARED / "refi-qda" / "Project.xsd"
    with zipfile.ZipFile(out) as archive:
        data = archive.read("project.qde")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Project ')
    if not xsd.is_file():
        pytest.skip(f"../shared not found ({xsd}): cannot validate against Project.xsd")
    xmlschema = pytest.importorskip("xmlschema")
    xmlschema.XMLSchema(str(xsd)).validate(data.decode("utf-8"))


def test_users_and_codebook(exported) -> None:
    out, summary, _, _, _, _, codebook = exported
    root = read_qde(out)
    users = [(u.get("name"), u.get("guid"), u.get("id"))
             for u in root.iterfind("q:Users/q:User", NS)]
    assert users == [("ana", ANA.guid, "AN"), ("ben", user_guid("ben"), None),
                     ("cy", user_guid("cy"), None), ("dee", user_guid("dee"), None)]
    assert summary.users == 4
    top = root.findall("q:CodeBook/q:Codes/q:Code", NS)
    assert [c.get("name") for c in top] == ["Strategies", "Barriers", "Stage"]
    assert top[0].get("color") == "#46AA00"
    assert [c.get("name") for c in top[0].findall("q:Code", NS)] == ["Training", "Coaching"]
    assert [c.get("name") for c in top[2].findall("q:Code", NS)] == [
        s.name for s in codebook.dimensions[0].values]
    assert top[2].get("isCodable") == "false"
    assert (summary.codes, summary.dimensions) == (4, (("Stage", 4),))


def test_every_stored_coding_is_exported_exactly(exported) -> None:
    out, _, texts, codings, _, _, codebook = exported
    by_id = dimension_code_guids(codebook)
    sels = qde_selections(read_qde(out))
    exported_texts = {}
    with zipfile.ZipFile(out) as archive:
        for d in texts:
            exported_texts[d] = archive.read(f"sources/{source_guid(d)}.txt").decode("utf-8")
    assert len(codings) == 4
    for c in codings:
        match = [s for s in sels if (s["document"], s["start"], s["end"], s["user"]) ==
                 (c.document, c.start, c.end, c.coder)
                 and s["description"] == f"isp-nlp: provenance={c.source}"]
        assert len(match) == 1, c
        assert by_id[(c.dimension, c.code)] in match[0]["codes"]
        assert exported_texts[c.document][c.start:c.end] == texts[c.document][c.start:c.end]
    stored_guid = next(s for s in sels if s["guid"] == "a1b2c3d4-0000-4000-8000-000000000001")
    assert stored_guid["document"] == "site0" and stored_guid["user"] == "ana"


def test_offsets_are_code_points_past_emoji_and_other_scripts(exported) -> None:
    out, _, texts, *_ = exported
    sels = [s for s in qde_selections(read_qde(out))
            if s["document"] == "site2" and s["user"] == "ana"
            and s["end"] - s["start"] == len("coach feedback")]
    assert len(sels) == 1 and len(sels[0]["codes"]) == 2  # one selection, code + stage
    with zipfile.ZipFile(out) as archive:
        text = archive.read(f"sources/{source_guid('site2')}.txt").decode("utf-8")
    assert text[sels[0]["start"]:sels[0]["end"]] == "coach feedback"
    assert "🙂🙂" in text[:sels[0]["start"]]
    # in UTF-16 units (NVivo for Windows) the start would be 2 later: we write code points
    assert len(text[:sels[0]["start"]].encode("utf-16-le")) // 2 == sels[0]["start"] + 2


def test_annotations_become_selections_over_their_segments(exported) -> None:
    out, summary, _, _, annotations, segments, codebook = exported
    by_id = dimension_code_guids(codebook)
    sels = qde_selections(read_qde(out))
    index = {(s["document"], s["start"], s["end"], s["user"], s["description"]): s
             for s in sels}
    labelled = [a for a in annotations if a.label is not None]
    seen_cy = [a for a in labelled if a.coder == "cy"]
    assert {(a.dimension, a.source) for a in seen_cy} == {("code", "assisted"),
                                                          ("stage", "assisted")}
    missing = []
    for a in labelled:
        seg = segments[a.segment_id]
        sel = index.get((seg.document, seg.start, seg.end, a.coder,
                         f"isp-nlp: provenance={a.source}"))
        if sel is None or by_id[(a.dimension, a.label)] not in sel["codes"]:
            missing.append(a)
    # only ana's annotation of site0 #0 is missing: her stored coding covers it
    first = next(s for s in segments.values() if s.document == "site0" and s.index == 0)
    assert [(m.segment_id, m.coder, m.label) for m in missing] == [(first.id, "ana",
                                                                    "training")]
    assert summary.covered == 1
    covering = [s for s in sels if s["document"] == "site0" and s["user"] == "ana"
                and s["codes"] and by_id[("code", "training")] in s["codes"]
                and s["start"] < first.end and s["end"] > first.start]
    assert len(covering) == 1  # written once, as the stored coding (with its GUID)
    assert covering[0]["guid"] == "a1b2c3d4-0000-4000-8000-000000000001"


def test_counts_match_the_file(exported) -> None:
    out, summary, _, _, annotations, *_ = exported
    sels = qde_selections(read_qde(out))
    assert summary.selections == len(sels)
    by_source: dict[str, int] = {}
    for s in sels:
        source = s["description"].removeprefix("isp-nlp: provenance=")
        by_source[source] = by_source.get(source, 0) + len(s["codes"])
        assert s["coding_users"] == {s["user"]}
    assert summary.codings == by_source
    labelled = sum(1 for a in annotations if a.label is not None)
    assert sum(by_source.values()) == labelled - summary.covered + 4  # + the stored codings
    assert set(by_source) == {"human", "assisted", "consensus"}  # no model without the flag
    assert by_source["assisted"] == 2 and by_source["consensus"] == 1


def test_exporting_twice_gives_the_same_bytes(built: Path, exported, tmp_path: Path) -> None:
    again = tmp_path / "again.qdpx"
    with open_project(built) as store:
        write_qdpx(store, again)
    assert again.read_bytes() == exported[0].read_bytes()


def test_guids_are_the_same_for_two_projects_built_alike(exported, tmp_path: Path) -> None:
    other = build_export_project(tmp_path / "other", train=False)
    out = tmp_path / "other.qdpx"
    with open_project(other) as store:
        write_qdpx(store, out)
    first, second = read_qde(exported[0]), read_qde(out)
    assert _guids(first) == _guids(second)
    assert len(_guids(first)) > 100
    assert ET.tostring(first.find("q:Sources", NS)) == ET.tostring(second.find("q:Sources", NS))


def test_suggestions_only_with_the_flag_and_under_the_model_user(built: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "wave.qdpx"
    with open_project(built) as store:
        summary = write_qdpx(store, out, include_suggestions=True)
        model_id = store.latest_model()["id"]
        suggested = [s for s in store.suggestions(model_id) if s.suggested]
        abstained = [s for s in store.suggestions(model_id) if not s.suggested]
        segments = {s.id: s for s in store.segments()}
    assert suggested and abstained
    root = read_qde(out)
    model_name = f"isp-nlp model {model_id}"
    users = [u.get("name") for u in root.iterfind("q:Users/q:User", NS)]
    assert users[-1] == model_name and users.count(model_name) == 1
    sels = qde_selections(root)
    model_sels = [s for s in sels if s["description"] == "isp-nlp: provenance=model"]
    assert {s["user"] for s in model_sels} == {model_name}
    assert all(s["user"] != model_name for s in sels if s not in model_sels)
    assert summary.codings["model"] == len(suggested) == sum(len(s["codes"]) for s in model_sels)
    spans = {(s["document"], s["start"], s["end"]) for s in model_sels}
    assert spans == {(segments[s.segment_id].document, segments[s.segment_id].start,
                      segments[s.segment_id].end) for s in suggested}
    assert summary.users == 5
    _validate(out)


def test_only_some_documents(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.qdpx"
    with open_project(built) as store:
        summary = write_qdpx(store, out, documents=["site2.txt"])
        with pytest.raises(ProjectError, match="document 'nope' is not in the project"):
            write_qdpx(store, tmp_path / "x.qdpx", documents=["nope"])
    root = read_qde(out)
    assert [s.get("name") for s in root.iterfind("q:Sources/q:TextSource", NS)] == ["site2"]
    assert summary.sources == 1 and {s["document"] for s in qde_selections(root)} == {"site2"}
    with zipfile.ZipFile(out) as archive:
        assert len(archive.namelist()) == 3  # project.qde, one source, isp-nlp's state
        state = json.loads(archive.read("isp-nlp/state.json"))
    assert [d["document"] for d in state["documents"]] == ["site2"]
    assert {row[0] for row in state["annotations"]} == {"site2"}
    assert not (tmp_path / "x.qdpx").exists()


# --------------------------------------------------------------------------- pure parts


def _tiny() -> tuple[Codebook, dict[str, list[Segment]], dict[str, str]]:
    text = "Hello there.\nSecond line here."
    segs = [Segment("s0", "d", 0, 0, "turn", "A", 0, 12, text[:12]),
            Segment("s1", "d", 1, 1, "turn", "B", 13, len(text), text[13:])]
    book = Codebook("b", (Code("x", "X"), Code("y", "Y")),
                    (stage_dimension((Code("push", "Push", dimension="stage"),)),))
    return book, {"d": segs}, {"d": text}


def test_build_selections_merges_codes_and_keeps_stored_guids_once() -> None:
    book, segs, texts = _tiny()
    g = "a1b2c3d4-0000-4000-8000-00000000000a"
    codings = [Coding("d", 0, 5, "x", "ana", guid=g), Coding("d", 0, 5, "y", "ana", guid=g),
               Coding("d", 0, 5, "x", "bo", guid=g),  # same tool selection, other coder
               Coding("d", 0, 5, "gone", "bo"), Coding("d", 0, 5, "x", "ana", source="odd")]
    sels, covered, skipped = build_selections(book, segs, texts, codings)
    assert [(s.coder, s.provenance, s.guid, len(s.codings)) for s in sels] == [
        ("ana", "human", g, 2), ("bo", "human", selection_guid("d", 0, 5, "bo", "human"), 1)]
    assert sels[0].codings == ((code_guid(book.codes[0]), ""), (code_guid(book.codes[1]), ""))
    assert covered == 0
    assert skipped == ("1 coding(s) of code 'gone' (not in the codebook) were not exported",)


def test_build_selections_annotations_suggestions_and_cover() -> None:
    book, segs, texts = _tiny()
    codings = [Coding("d", 0, 12, "x", "ana")]
    annotations = [Annotation("s0", "ana", "code", "x"), Annotation("s0", "ana", "code", "y"),
                   Annotation("s0", "bo", "code", "x", "blind"),
                   Annotation("s1", "ana", "code", None),
                   Annotation("s1", "ana", "stage", "push", "consensus")]
    suggestions = [Suggestion("s1", "m1", "code", "y", 0.9, True),
                   Suggestion("s1", "m1", "code", "x", 0.1, False),
                   Suggestion("s1", "m1", "stage", "push", 0.3, False)]
    sels, covered, _ = build_selections(book, segs, texts, codings, annotations, suggestions,
                                        "isp-nlp model m1")
    got = [(s.start, s.end, s.coder, s.provenance, len(s.codings)) for s in sels]
    assert got == [(0, 12, "ana", "human", 2),  # stored x + annotation y, merged
                   (0, 12, "bo", "blind", 1),
                   (13, 30, "ana", "consensus", 1),
                   (13, 30, "isp-nlp model m1", "model", 1)]
    assert covered == 1
    none_model, _, _ = build_selections(book, segs, texts, codings, annotations, suggestions)
    assert all(s.provenance != "model" for s in none_model)


def test_crlf_and_bom_texts_are_written_lf_with_positions_moved() -> None:
    text = "\ufeffA: one\r\nB: 🙂 two\rC: three\r\n"
    start = text.index("two")
    sel = Selection("g", "d", start, start + 3, "ana", "human", ())
    texts, (moved,) = lf_sources({"d": text}, [sel])
    assert texts["d"] == "A: one\nB: 🙂 two\nC: three\n"
    assert texts["d"][moved.start:moved.end] == "two" and moved.start == start - 2
    same, (kept,) = lf_sources({"d": "a\nb"}, [sel])
    assert same == {"d": "a\nb"} and kept == sel


def test_a_text_stored_with_crlf_and_bom_exports_lf_through_the_store(tmp_path: Path) -> None:
    text = "\ufeffP1: hello 🙂\r\nP2: the world\r\n"
    a, b = text.index("hello"), text.index("the world")
    transcript = Transcript("win", "win.txt", "b" * 64, text,
                            (Turn(0, "P1", a, a + 7), Turn(1, "P2", b, b + 9)), "text")
    segs = [Segment("w0", "win", 0, 0, "turn", "P1", a, a + 7, text[a:a + 7]),
            Segment("w1", "win", 1, 1, "turn", "P2", b, b + 9, text[b:b + 9])]
    book = Codebook("b", (Code("x", "X"),),
                    (stage_dimension((Code("push", "Push", dimension="stage"),)),))
    with Store.create(tmp_path / "project.sqlite") as store:
        store.add_transcripts([(transcript, segs, "turn")])
        store.save_codebook(book, "test")
        store.add_codings([Coding("win", b + 4, b + 9, "x", "ana")])
        store.import_annotations([Annotation("w0", "ana", "code", "x")], source="test")
        write_qdpx(store, tmp_path / "win.qdpx")
    with zipfile.ZipFile(tmp_path / "win.qdpx") as archive:
        exported = archive.read(f"sources/{source_guid('win')}.txt").decode("utf-8")
    assert exported == "P1: hello 🙂\nP2: the world\n"
    spans = sorted(exported[s["start"]:s["end"]]
                   for s in qde_selections(read_qde(tmp_path / "win.qdpx")))
    assert spans == ["hello 🙂", "world"]


def test_codings_read_from_a_qda_tool_are_not_written_twice(built: Path, tmp_path: Path) -> None:
    """An importer stores the spans and the annotations placed from them: the export
    writes each span once and none of those annotations again."""
    with open_project(built) as store:
        segs = [s for s in store.segments() if s.document == "site1" and s.codable][:6]
    spans = [Coding("site1", s.start + 2, s.end, "coaching", "eve", source="blind",
                    guid=f"a1b2c3d4-0000-4000-8000-0000000001{i:02d}")
             for i, s in enumerate(segs[:4])]
    spans.append(Coding("site1", segs[4].start, segs[5].end, "push", "eve", dimension="stage",
                        source="blind"))
    out = tmp_path / "eve.qdpx"
    project = tmp_path / "copy"
    shutil.copytree(built, project)
    with open_project(project) as store:
        store.add_codings(spans)
        by_doc = {"site1": [s for s in store.segments() if s.document == "site1"]}
        placement = place_codings(spans, by_doc, store.transcript_texts())
        derived = annotations_from_placement(placement, by_doc)
        store.import_annotations(derived, source="eve.qdpx")
        summary = write_qdpx(store, out)
    eve = [s for s in qde_selections(read_qde(out)) if s["user"] == "eve"]
    assert sorted((s["start"], s["end"]) for s in eve) == sorted((c.start, c.end) for c in spans)
    labelled = [a for a in derived if a.label is not None]
    assert len(labelled) == 6 and summary.covered == 1 + len(labelled)  # + ana's, as before
    assert summary.codings["blind"] == 5
    _validate(out)


def test_characters_xml_cannot_hold_are_dropped_from_names() -> None:
    book = Codebook("b", (Code("x", "Bad\x0bname", definition="nul\x00 here \ufffe"),),
                    (stage_dimension((Code("push", "Push", dimension="stage"),)),))
    content = QdpxContent(name="p\x01", origin="isp-nlp", codebook=book,
                          users=(Coder("a\x1bna", "a1b2c3d4-0000-4000-8000-000000000001"),),
                          texts={"doc\x0c1": "text"}, selections=())
    root = ET.fromstring(project_qde(content))
    assert root.get("name") == "p"
    code = root.find("q:CodeBook/q:Codes/q:Code", NS)
    assert code.get("name") == "Badname"
    assert code.findtext("q:Description", namespaces=NS) == "nul here "
    assert root.find("q:Users/q:User", NS).get("name") == "ana"
    assert root.find("q:Sources/q:TextSource", NS).get("name") == "doc1"


# --------------------------------------------------------------------------- writing


def test_a_failed_write_leaves_no_file_and_no_temporary(built: Path, tmp_path: Path,
                                                        monkeypatch) -> None:
    out = tmp_path / "fail.qdpx"

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    with open_project(built) as store:
        monkeypatch.setattr("isp_nlp.store.files.os.replace", broken)
        with pytest.raises(OSError, match="disk full"):
            write_qdpx(store, out)
        assert list(tmp_path.iterdir()) == []
        monkeypatch.undo()
        out.write_bytes(b"old")
        monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
        with pytest.raises(OSError, match="disk full"):
            write_qdpx(store, out)
    assert [p.name for p in tmp_path.iterdir()] == ["fail.qdpx"]
    assert out.read_bytes() == b"old"


def test_bad_output_paths_are_refused(built: Path, tmp_path: Path) -> None:
    with open_project(built) as store:
        with pytest.raises(InputFileError, match="does not exist"):
            write_qdpx(store, tmp_path / "missing" / "x.qdpx")
        with pytest.raises(InputFileError, match="ending in .qdpx"):
            write_qdpx(store, tmp_path / "x.zip")


def test_pseudonymised_only_needs_every_document_listed(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.qdpx"
    with open_project(built) as store:
        texts = store.transcript_texts()  # what `pseudonymise` records for each document
        store.set_setting("pseudonymised_documents", json.dumps(["site0", "site1"]))
        store.set_setting("pseudonymised_text_sha256", json.dumps(
            {d: text_key(texts[d]) for d in ("site0", "site1")}))
        try:
            with pytest.raises(ProjectError, match="1 of 3 documents are not pseudonymised "
                               r"\(first: 'site2'\); run `isp-nlp pseudonymise"):
                write_qdpx(store, out, pseudonymised_only=True)
            assert not out.exists()
            assert write_qdpx(store, out, documents=["site0"], pseudonymised_only=True).sources == 1
            store.set_setting("pseudonymised_text_sha256", json.dumps(
                {"site0": "changed since", "site1": text_key(texts["site1"])}))
            with pytest.raises(ProjectError, match="2 of 3 documents are not pseudonymised"):
                write_qdpx(store, out, pseudonymised_only=True)  # site0 changed afterwards
        finally:
            store.set_setting("pseudonymised_documents", "[]")


# --------------------------------------------------------------------------- CLI


def test_cli_export_qdpx_and_errors(built: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli.qdpx"
    r = runner.invoke(cli, ["--project", str(built), "export", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"Wrote {out} (")
    assert "3 transcripts, 4 users, 4 codes + Stage (4 values)" in r.output
    assert "1 segment labels are written once, as the same coder's coded spans" in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80 + len(str(out))
    assert zipfile.is_zipfile(out)
    r = runner.invoke(cli, ["--project", str(built), "export", "--format", "qdpx", "--out",
                            str(tmp_path / "s.qdpx"), "--include-suggestions"])
    assert r.exit_code == 0 and "model " in r.output
    cases = [
        (["--format", "rtf", "--out", str(tmp_path / "a.rtf")], "unknown export format 'rtf'"),
        (["--out", str(tmp_path / "nope" / "a.qdpx")], "does not exist"),
        (["--out", str(tmp_path / "p.qdpx"), "--pseudonymised-only"],
         "run `isp-nlp pseudonymise --names names.csv` first"),
        (["--format", "qdc", "--out", str(tmp_path / "a.qdc"), "--include-suggestions"],
         "applies to --format qdpx only"),
    ]
    for args, message in cases:
        r = runner.invoke(cli, ["--project", str(built), "export", *args])
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "p.qdpx").exists() and not (tmp_path / "a.qdc").exists()


def test_cli_export_without_codebook_is_one_line(project: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["--project", str(project), "export", "--out",
                                 str(tmp_path / "x.qdpx")])
    assert r.exit_code == 2 and "has no codebook yet" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "x.qdpx").exists()


def test_cli_export_qdc_is_the_codebook_export(built: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out, ref = tmp_path / "book.qdc", tmp_path / "ref.qdc"
    r = runner.invoke(cli, ["--project", str(built), "export", "--format", "qdc", "--out",
                            str(out)])
    assert r.exit_code == 0, r.output
    assert "4 codes; dimensions: Stage (push < push_pull < exchange; none)" in r.output
    assert runner.invoke(cli, ["--project", str(built), "codebook", "export", "--out",
                               str(ref)]).exit_code == 0
    assert out.read_bytes() == ref.read_bytes()
    xsd = SHARED / "refi-qda" / "Codebook.xsd"
    if not xsd.is_file():
        pytest.skip(f"../shared not found ({xsd}): cannot validate against Codebook.xsd")
    xmlschema = pytest.importorskip("xmlschema")
    xmlschema.XMLSchema(str(xsd)).validate(out.read_text(encoding="utf-8"))


def test_the_codebook_reads_back_from_the_qdpx_even_with_renamed_stages(tmp_path: Path) -> None:
    book = Codebook("b", (Code("x", "X", definition="Ex."),), (stage_dimension((
        Code("push", "Push", dimension="stage", definition="P."),
        Code("push_pull", "Push/pull", dimension="stage"),
        Code("exchange", "Exchange", dimension="stage"),
        Code("none", "No stage evident", dimension="stage", definition="N."))),))
    out = tmp_path / "b.qdpx"
    content = QdpxContent(name="p", origin="isp-nlp", codebook=book, users=(), texts={},
                          selections=())
    refi_export.write_qdpx_file(out, project_qde(content), {})
    back = read_refi_codebook(out)
    assert back.warnings == ()
    assert [(c.id, c.name, c.definition) for c in back.codebook.codes] == [("x", "X", "Ex.")]
    (stage,) = back.codebook.dimensions
    assert [(s.id, s.name) for s in stage.values] == [
        ("push", "Push"), ("push_pull", "Push/pull"), ("exchange", "Exchange"),
        ("none", "No stage evident")]
    assert stage.values[3].definition == "N."
