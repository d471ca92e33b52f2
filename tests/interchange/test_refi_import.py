"""`isp-nlp import`: REFI-QDA projects from NVivo, ATLAS.ti, MAXQDA, QualCoder, qc."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook.check import stage_dimension
from isp_nlp.errors import ProjectError
from isp_nlp.ingest.verbatim import decode_verbatim, verbatim_transcript, verbatim_turns
from isp_nlp.interchange.offsets import splits_word
from isp_nlp.interchange.refi_codebook import code_guid
from isp_nlp.interchange.refi_import import import_refi, import_refi_new_project
from isp_nlp.records import Code, Codebook
from isp_nlp.store.folder import open_project
from tests.builders.paths import require_shared
from tests.builders.refi_xml import (
    C_KID,
    C_PUSH,
    C_TOP,
    U1,
    U2,
    codebook_xml,
    item_guid,
    project_xml,
    selection,
    text_source,
    write_qdpx,
)
from tests.builders.tables import tables


def _span(text: str, word: str, *, utf16: bool = False, crlf: bool = False,
          bom: bool = False) -> tuple[int, int]:
    """Offsets of ``word`` in stored ``text`` as a tool with these habits writes them."""
    def units(s: str) -> int:
        n = len(s.encode("utf-16-le")) // 2 if utf16 else len(s)
        return n + (s.count("\n") if crlf else 0) + (1 if bom else 0)
    i = text.index(word)
    return units(text[:i]), units(text[: i + len(word)])


# --------------------------------------------------------------------------- verbatim text


def test_verbatim_decoding_keeps_the_text_and_only_fixes_bom_and_line_ends() -> None:
    raw = "\ufeffA: szép\r\nB: 😀 világ\rC: e\u0301".encode("utf-16-le")
    decoded = decode_verbatim(b"\xff\xfe" + raw[2:], "x.txt")
    assert decoded.encoding == "utf-16"
    assert decoded.original.startswith("\ufeff") and "\r\n" in decoded.original
    assert decoded.text == "A: szép\nB: 😀 világ\nC: e\u0301"  # no NFC, no cleaning
    assert decode_verbatim("\ufeffhi\r\n".encode(), "x").text == "hi\n"
    cp = decode_verbatim("caf\xe9".encode("cp1252"), "x.txt")
    assert cp.text == "café" and cp.encoding == "cp1252" and cp.warnings


def test_verbatim_turns_point_at_utterances_without_labels() -> None:
    text = "Intro line\n\nInterviewer: How are you?\nStill asking.\n\n  Participant:   Fine 😀\n"
    turns = verbatim_turns(text)
    assert [(t.speaker, text[t.start:t.end]) for t in turns] == [
        (None, "Intro line"),
        ("Interviewer", "How are you?\nStill asking."),
        ("Participant", "Fine 😀"),
    ]
    assert turns[1].line == 3


def test_verbatim_turns_without_labels_are_paragraphs() -> None:
    text = "First para\ncontinues.\n\nSecond one.\n"
    t = verbatim_transcript(decode_verbatim(text.encode(), "x"), document="d", name="d")
    assert [text[a.start:a.end] for a in t.turns] == ["First para\ncontinues.", "Second one."]
    assert t.text == text


# --------------------------------------------------------------------------- synthetic files


WINDOWS_TEXT = ("Interviewer: Hogy van? 😀 szép világ\n"
                "Participant: 👍🏽 Árvíztűrő tükörfúrógép 🎉 yes, I trust them.\n\n"
                "Interviewer: 🤦🏼\u200d♀️ és utána?\n"
                "Participant: I doubt it.\n")


def _windows_bytes() -> bytes:
    return ("\ufeff" + WINDOWS_TEXT.replace("\n", "\r\n")).encode("utf-16-le")


def test_nvivo_windows_utf16_crlf_bom_selections_are_kept_exactly(project: Path,
                                                                  tmp_path: Path) -> None:
    words = ["szép világ", "Árvíztűrő tükörfúrógép", "I trust them", "és utána", "I doubt it"]
    spans = [_span(WINDOWS_TEXT, w, utf16=True, crlf=True, bom=True) for w in words]
    sels = [selection(i + 1, a, b, C_KID if "doubt" in w else C_TOP)
            for i, ((a, b), w) in enumerate(zip(spans, words, strict=True))]
    qde = project_xml(text_source(1, "internal://s1.txt", sels, name="Interview 1"))
    path = write_qdpx(tmp_path / "win.qdpx", qde, {"Sources/S1.TXT": _windows_bytes()})
    with open_project(project) as store:
        out = import_refi(store, path)
        codings = store.codings()
        text = store.transcript_text("Interview 1")
    assert out.added == ("Interview 1",)
    assert text == WINDOWS_TEXT
    assert [text[c.start:c.end] for c in codings] == words
    assert out.readings[0].reading == "UTF-16 code units, CRLF as 2, BOM counted"
    assert out.readings[0].inside_word == 0
    assert {c.code for c in codings} == {"trust", "doubt"}
    assert [c.guid for c in codings] == [item_guid(i + 1) for i in range(5)]
    assert {c.coder for c in codings} == {"Anna"}


def test_code_point_offsets_after_an_emoji_stay_code_points(project: Path,
                                                            tmp_path: Path) -> None:
    words = ["szép világ", "tükörfúrógép", "I doubt it"]
    sels = [selection(i + 1, *_span(WINDOWS_TEXT, w), C_TOP) for i, w in enumerate(words)]
    qde = project_xml(text_source(1, "doc.txt", sels, name=None))
    path = write_qdpx(tmp_path / "qc.qdpx", qde, {"sources/doc.txt": WINDOWS_TEXT.encode()})
    with open_project(project) as store:
        out = import_refi(store, path)
        text = store.transcript_text("doc")
        assert [text[c.start:c.end] for c in store.codings()] == words
    assert out.added == ("doc",)  # no name: the file's stem
    assert out.readings[0].reading == "code points"


def test_relative_paths_base_path_inline_text_docx_twin_and_pdf(project: Path,
                                                                tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "rel.txt").write_text("P1: relative text here\n", encoding="utf-8")
    (tmp_path / "beside.txt").write_text("beside the qde\n", encoding="utf-8")
    sources = (
        text_source(1, "relative:///rel.txt", [selection(1, 4, 12, C_TOP)], name="Rel.txt")
        + text_source(2, "relative://beside.txt", name="Beside")
        + text_source(3, "", [selection(2, 0, 6, C_TOP)], name="Inline", inline="inline words")
        + text_source(4, "", name="Twin", rich="relative://beside.docx")
        + text_source(5, "internal://gone.txt", [selection(3, 0, 3, C_TOP)], name="Gone")
        + text_source(6, "relative://beside.txt", name="Beside")
        + f'<PDFSource guid="{item_guid(7)}" name="x.pdf" path="internal://x.pdf"/>'
        + f'<PictureSource guid="{item_guid(8)}" name="p.jpg" path="internal://p.jpg"/>'
        + f'<PDFSource guid="{item_guid(9)}" name="y.pdf" path="internal://y.pdf"/>')
    qde = tmp_path / "study.qde"
    qde.write_text(project_xml(sources, base_path=str(media)), encoding="utf-8")
    with open_project(project) as store:  # files outside an archive: only from --sources-dir
        out = import_refi(store, qde, sources_dir=tmp_path)
        texts = {d: store.transcript_text(d) for d in out.added}
        codings = store.codings()
    assert out.added == ("Rel", "Beside", "Inline", "Twin", "Beside (2)")
    assert texts["Rel"] == "P1: relative text here\n"
    assert texts["Twin"] == texts["Beside"] == "beside the qde\n"
    assert texts["Inline"] == "inline words"
    assert [(c.document, texts[c.document][c.start:c.end]) for c in codings] == [
        ("Inline", "inline"), ("Rel", "relative")]
    assert out.skipped == {"pdf": 2, "picture": 1}
    assert [m[0] for m in out.missing] == ["Gone"]
    assert "gone.txt" in out.missing[0][1]
    assert out.codings_skipped == 1


def test_provenance_users_stage_codes_unknown_codes_and_notes(project: Path,
                                                              tmp_path: Path) -> None:
    text = "Interviewer: Why?\nParticipant: Because I trust the nurse.\n"
    note_guid = "dddddddd-0000-0000-0000-000000000001"
    sels = [
        selection(1, *_span(text, "I trust the nurse"), C_TOP, C_PUSH,
                  description="isp-nlp: provenance=consensus", noteref=note_guid),
        selection(2, *_span(text, "Because"), "ffffffff-0000-0000-0000-000000000000"),
        selection(3, *_span(text, "the nurse"), C_KID, user=U2,
                  description="Check this with the team"),
        selection(4, *_span(text, "Why"), C_KID,
                  coding_user="99999999-0000-0000-0000-000000000000"),
    ]
    notes = (f'<Notes><Note guid="{note_guid}" name="Memo" creatingUser="{U2}">'
             "<PlainTextContent>Trust in nurses recurs.</PlainTextContent></Note></Notes>")
    path = write_qdpx(tmp_path / "p.qdpx", project_xml(text_source(1, "internal://a.txt", sels),
                                                       notes=notes),
                      {"sources/a.txt": text.encode()})
    with open_project(project) as store:
        out = import_refi(store, path)
        codings = store.codings()
        notes_held = store.notes()
        coders = {c.name: c for c in store.coders()}
        annotations = store.annotations()
    by_code = {(c.code, c.dimension): c for c in codings}
    assert by_code[("trust", "code")].source == "consensus"
    assert by_code[("push", "stage")].source == "consensus"
    assert by_code[("doubt", "code")].coder == "BE"
    assert by_code[("doubt", "code")].source == "human"
    assert {c.coder for c in codings} == {"Anna", "BE", "user-99999999"}
    assert coders["Anna"].guid == U1 and coders["Anna"].initials == "AN"
    assert out.codings == 4 and out.codings_skipped == 1
    assert any("not in the codebook" in w for w in out.warnings)
    assert any(a.dimension == "stage" and a.label == "push" for a in annotations)
    memo = next(n for n in notes_held if n.guid == note_guid)
    assert (memo.document, memo.text, memo.coder) == ("Doc", "Trust in nurses recurs.", "BE")
    assert text[memo.start:memo.end] == "I trust the nurse"
    comment = next(n for n in notes_held if n.text == "Check this with the team")
    assert comment.document == "Doc" and text[comment.start:comment.end] == "the nurse"
    assert out.notes == 2


def _simple_qdpx(tmp_path: Path, text: str = "P1: I trust them.\n", name: str = "s.qdpx",
                 codebook: str | None = None) -> Path:
    sels = [selection(1, *_span(text, "trust"), C_TOP)]
    return write_qdpx(tmp_path / name, project_xml(text_source(1, "internal://a.txt", sels),
                                                   codebook=codebook),
                      {"sources/a.txt": text.encode()})


def test_reimport_is_a_no_op(project: Path, tmp_path: Path) -> None:
    path = _simple_qdpx(tmp_path)
    with open_project(project) as store:
        first = import_refi(store, path)
    before = tables(project)
    with open_project(project) as store:
        again = import_refi(store, path)
    assert first.added == ("Doc",) and first.codings_added == 1
    assert again.added == () and again.unchanged == ("Doc",)
    assert again.codings_added == 0 and again.annotations_changed == 0 and again.codes_added == 0
    assert tables(project) == before


def test_same_document_name_with_other_text_is_refused(project: Path, tmp_path: Path) -> None:
    with open_project(project) as store:
        import_refi(store, _simple_qdpx(tmp_path))
    before = tables(project)
    other = _simple_qdpx(tmp_path, "P1: I trust nobody.\n", "other.qdpx")
    with open_project(project) as store, pytest.raises(ProjectError, match="'Doc'"):
        import_refi(store, other)
    assert tables(project) == before


def test_codes_merge_into_an_existing_codebook_by_id_and_stable_guid(project: Path,
                                                                     tmp_path: Path) -> None:
    mine = Code(id="t1", name="Trust (mine)")
    with open_project(project) as store:
        store.save_codebook(Codebook("mine", (Code(id="doubt", name="Doubt"), mine),
                                     (stage_dimension(),)), source="t")
    # "Trust" carries our stable GUID for t1, so it is t1; "Doubt" matches by id; one is new
    extra = '<Code guid="cccccccc-0000-0000-0000-0000000000aa" name="New one" isCodable="true"/>'
    book = codebook_xml(extra).replace(C_TOP, code_guid(mine))
    sels = [selection(1, 4, 9, code_guid(mine))]
    path = write_qdpx(tmp_path / "m.qdpx",
                      project_xml(text_source(1, "internal://a.txt", sels), codebook=book),
                      {"sources/a.txt": b"P1: trust\n"})
    with open_project(project) as store:
        out = import_refi(store, path)
        held = store.codebook()
        assert held is not None
        assert [c.code for c in store.codings()] == ["t1"]
    assert out.codebook == "merged" and out.codes_added == 1
    assert [c.id for c in held.codes] == ["doubt", "t1", "new_one"]
    assert held.codes[1].name == "Trust (mine)"


def test_a_failure_midway_leaves_the_project_as_it_was(project: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with open_project(project) as store:
        import_refi(store, _simple_qdpx(tmp_path))
    before = tables(project)
    text = "P2: a second interview with trust.\n"
    sels = [selection(1, *_span(text, "trust"), C_KID)]
    second = write_qdpx(tmp_path / "b.qdpx", project_xml(
        text_source(2, "internal://b.txt", sels, name="Second"),
        codebook=codebook_xml('<Code guid="cccccccc-0000-0000-0000-0000000000bb" name="Extra"/>')),
        {"sources/b.txt": text.encode()})

    def boom(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr("isp_nlp.store.database.Store.add_notes", boom)
    with open_project(project) as store, pytest.raises(RuntimeError):
        import_refi(store, second)
    assert tables(project) == before


def test_cli_import_init_prints_counts_and_a_failed_init_leaves_nothing(tmp_path: Path) -> None:
    good = _simple_qdpx(tmp_path)
    target = tmp_path / "new"
    result = CliRunner().invoke(cli, ["import", str(good), "--init", str(target),
                                      "--embedder", "hashing-256"])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "codings: 1 imported" in result.output
    assert (target / "project.sqlite").is_file()
    bad = tmp_path / "bad.qdpx"
    bad.write_bytes(b"<!DOCTYPE html><html>Not found</html>")
    result = CliRunner().invoke(cli, ["import", str(bad), "--init", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert "HTML" in result.output
    assert not (tmp_path / "never").exists()


def test_a_failed_init_into_an_existing_folder_removes_only_the_project(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "existing"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    text = "P1: x\n"
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, 0, 2, C_TOP)]))
    path = write_qdpx(tmp_path / "a.qdpx", qde, {"sources/a.txt": text.encode()})
    def fail(*args: object, **kwargs: object) -> None:
        raise ProjectError("forced")

    monkeypatch.setattr("isp_nlp.interchange.refi_import.import_refi", fail)
    with pytest.raises(ProjectError):
        import_refi_new_project(folder, path, embedder="hashing-256")
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_cli_import_qdc_loads_the_codebook_only(project: Path, tmp_path: Path) -> None:
    qdc = tmp_path / "book.qdc"
    qdc.write_text(codebook_xml().replace("<CodeBook>",
                                          '<CodeBook xmlns="urn:QDA-XML:codebook:1.0">'),
                   encoding="utf-8")
    result = CliRunner().invoke(cli, ["--project", str(project), "import", str(qdc)])
    assert result.exit_code == 0, result.output
    assert "codebook: created, 2 codes in the file" in result.output
    with open_project(project) as store:
        held = store.codebook()
        assert held is not None and held.code_ids == ("trust", "doubt")
        assert store.transcripts() == []


# --------------------------------------------------------------------------- real exports


def _shared(name: str) -> Path:
    return require_shared("refi-qda", name)


@pytest.mark.shared_data
def test_nvivo_mac_12_imports_all_297_codings_at_word_boundaries(project: Path) -> None:
    with open_project(project) as store:
        out = import_refi(store, _shared("nvivo-mac-12.7-export.qdpx"))
        codings = store.codings()
        texts = {d: store.transcript_text(d) or "" for d in out.added}
        held = store.codebook()
    assert held is not None and len(held.codes) == 152 and out.codes == 152
    assert out.codings == 297 and len(codings) == 297
    assert out.coders == ("floriansipos", "Gergo")
    assert out.readings[0].reading == "UTF-16 code units"
    inside = []
    for c in codings:
        text = texts[c.document]
        for i in (c.start, c.end):
            if splits_word(text, i):  # inside a word, or an emoji and its modifiers
                inside.append(text[i - 4:i] + "|" + text[i:i + 4])
    # read as code points, 366 boundaries would fall inside words; as UTF-16 three remain,
    # and those three are where the coder's own selection starts or ends mid-word
    assert sorted(inside) == ["25\nJ|avit", "e, A|KI I", "iede|lem "]
    assert out.readings[0].inside_word == 3


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "codings", "documents"), [
    ("qc-1.2.0-demo.qdpx", 213, ("admin", "teacher", "board_member")),
    ("qc-1.3.2-demo.qdpx", 205, ("board_2017", "admin-1")),
])
def test_qc_exports_import_every_coding(project: Path, name: str, codings: int,
                                        documents: tuple[str, ...]) -> None:
    with open_project(project) as store:
        out = import_refi(store, _shared(name))
        assert len(store.codings()) == codings
        again = import_refi(store, _shared(name))
    assert out.codings == codings and out.added == documents
    assert all(r.reading == "code points" and r.inside_word == 0 for r in out.readings)
    assert again.codings_added == 0 and again.unchanged == documents


@pytest.mark.shared_data
def test_nvivo_15_imports_its_codebook_and_no_codings(project: Path) -> None:
    with open_project(project) as store:
        out = import_refi(store, _shared("nvivo-mac-15-export.qdpx"))
        assert store.codings() == []
    assert out.codebook == "created" and out.codes == 262 and out.codings == 0
    assert len(out.coders) == 2
    assert [why for _, why in out.missing] == ["its text is empty"] * 2


@pytest.mark.shared_data
def test_atlasti_project_without_its_sources_still_imports_codebook_users_notes(
        project: Path) -> None:
    with open_project(project) as store:
        out = import_refi(store, _shared("atlasti-8.4-standard-project.qde"))
        notes = store.notes()
        coders = [c.name for c in store.coders()]
    assert out.codes == 14 and out.codebook == "created"
    assert coders == ["ATLAS.ti", "Friedrich Markgraf", "Sebastian Petrausch"]
    assert {n.title for n in notes} >= {"Research Plan", "My favorite Coke ad"}
    assert len(out.missing) == 6 and "Mabel" in dict(out.missing)
    assert out.skipped == {"picture": 1, "pdf": 2, "audio": 1, "video": 2}
    assert out.codings == 0 and out.codings_skipped == 7


def test_guids_match_across_case_and_braces_and_reversed_positions_are_swapped(
        project: Path, tmp_path: Path) -> None:
    text = "P1: I trust them.\n"
    a, b = _span(text, "trust")
    sel = selection(1, b, a, "{" + C_TOP.upper() + "}", user="{" + U1.upper() + "}")
    path = write_qdpx(tmp_path / "mx.qdpx", project_xml(text_source(1, "internal://a.txt", [sel])),
                      {"sources/a.txt": text.encode()})
    with open_project(project) as store:
        out = import_refi(store, path)
        (coding,) = store.codings()
    assert out.codings_skipped == 0
    assert (text[coding.start:coding.end], coding.code, coding.coder) == ("trust", "trust", "Anna")


def test_an_export_wrapped_in_a_folder_is_found(project: Path, tmp_path: Path) -> None:
    text = "P1: I trust them.\n"
    qde = project_xml(text_source(1, "internal://a.txt", [selection(1, *_span(text, "trust"),
                                                                    C_TOP)]))
    path = tmp_path / "wrapped.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("My Study/project.qde", qde)
        z.writestr("My Study/Sources/A.txt", text)
    with open_project(project) as store:
        out = import_refi(store, path)
    assert out.added == ("Doc",) and out.codings == 1


def test_a_docx_without_its_txt_twin_is_listed_as_missing(project: Path, tmp_path: Path) -> None:
    sources = (text_source(1, "", name="Rich", rich="internal://r.docx")
               + text_source(2, "internal://a.txt", name="Plain"))
    path = write_qdpx(tmp_path / "r.qdpx", project_xml(sources),
                      {"sources/r.docx": b"PK\x03\x04 not really", "sources/a.txt": b"text\n"})
    with open_project(project) as store:
        out = import_refi(store, path)
    assert out.added == ("Plain",)
    assert out.missing[0][0] == "Rich" and "internal://r.txt is absent" in out.missing[0][1]
