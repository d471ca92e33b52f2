"""Issue 21 item 1: a codebook's own single-choice dimensions through REFI-QDA and excerpts.

A project whose codebook declares ``phase`` (ordered, the pathway, with a value outside
the order) and ``valence`` instead of the stage: exported as a .qdpx it validates against
Project.xsd and each dimension is a non-codable parent code with its values; imported
into a fresh project it is the same project table by table (tests/builders/tables.py).
Without isp-nlp's state member the dimensions read as ordinary codes (REFI-QDA has no
single-choice dimensions), while a foreign "Stage" tree still becomes the stage dimension.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from isp_nlp.codebook.check import stage_dimension
from isp_nlp.errors import InputFileError
from isp_nlp.interchange.excerpt_codes import CodeResolver
from isp_nlp.interchange.refi_codebook import GUID_NAMESPACE, dimension_guid
from isp_nlp.interchange.refi_import import import_refi_new_project, merge_codebooks
from isp_nlp.interchange.refi_state import STATE_MEMBER
from isp_nlp.precode.wave import open_shares
from isp_nlp.records import Code, Codebook, Coder, Coding, Dimension, Segment, Suggestion
from isp_nlp.store.folder import open_project
from tests.builders.tables import cli_ok, project_tables, same_project_lines

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
NS = {"q": "urn:QDA-XML:project:1.0"}

CODEBOOK = """\
name: phases and valence
dimensions:
  - id: phase
    name: Phase of the work
    definition: Where in the work the talk sits.
    ordered: true
    pathway: true
    values:
      - {id: early, name: Early, definition: Getting started.}
      - {id: middle, name: Middle}
      - {id: late, name: Late, color: "#AA0000"}
      - {id: unclear, name: Unclear, unordered: true}
  - id: valence
    name: Valence
    values:
      - {id: positive, name: Positive}
      - {id: negative, name: Negative}
codes:
  - id: support
    name: Support
    definition: Any support for practice.
  - id: training
    name: Training
    parent: support
  - id: barriers
    name: Barriers
"""
LOADED = ("dimensions: Phase of the work (early < middle < late; unclear), "
          "Valence (positive, negative)")
TOPICS = (
    ("training", "early", "positive", "We ran a course with slides and a binder"),
    ("support", "middle", "positive", "The district backed us and support mattered"),
    ("barriers", "late", "negative", "Staff turnover and the caseload left no time"),
    ("", "unclear", "", "The weather was fine and the coffee was good"),
)


def _inputs(root: Path) -> tuple[Path, list[Path], Path]:
    """Codebook, two transcripts of eight turns and a coded CSV with a column per
    dimension: ana codes every turn, ben the first document (a value left empty here and
    there)."""
    book = root / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    rows = [["document", "segment", "text", "coder", "code", "phase", "valence"]]
    paths = []
    for d in range(2):
        lines = []
        for t in range(8):
            code, phase, valence, text = TOPICS[(t + d) % len(TOPICS)]
            text = f"{text} (turn {t} of {d})."
            lines.append(f"P01: {text}")
            rows.append([f"site{d}", "", text, "ana", code, phase, valence])
            if d == 0:
                rows.append([f"site{d}", "", text, "ben", code,
                             "" if t == 3 else phase, "positive" if t == 2 else valence])
        path = root / f"site{d}.txt"
        path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    coded = root / "coded.csv"
    coded.write_text(buf.getvalue(), encoding="utf-8")
    return book, paths, coded


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Project A (codebook, transcripts, coded CSV, drawn spans on both dimensions) and
    its export A.qdpx beside it."""
    root = tmp_path_factory.mktemp("dims")
    book, paths, coded = _inputs(root)
    a = root / "A"
    cli_ok("init", a, "--embedder", "hashing-256")
    assert LOADED in " ".join(cli_ok("--project", a, "codebook", "load", book).split())
    cli_ok("--project", a, "ingest", *paths)
    cli_ok("--project", a, "import-codes", coded)
    with open_project(a) as store:
        text = store.transcript_texts()["site1"]
        start = text.index("Staff turnover")
        store.add_coders([Coder("cy", initials="CY")])
        store.add_codings([
            Coding("site1", start, start + 14, "late", "cy", dimension="phase",
                   guid="7d0f7f4e-1c1b-4b43-9a55-2f0a3c5e9b12",
                   created_at="2024-05-03T09:00:00Z"),
            Coding("site1", start, start + 14, "negative", "cy", dimension="valence"),
            Coding("site1", start + 6, start + 14, "barriers", "cy")])
    out = cli_ok("--project", a, "export", "--out", root / "A.qdpx")
    assert "3 codes + Phase of the work (4 values) + Valence (2 values)" in " ".join(
        out.split())
    return a


def _qdpx(a: Path) -> Path:
    return a.parent / "A.qdpx"


def _without_state(source: Path, out: Path, qde: bytes | None = None) -> Path:
    """``source`` without isp-nlp's state member (and with ``qde`` as project.qde)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename == STATE_MEMBER:
                continue
            data = src.read(info)
            dst.writestr(info, qde if qde is not None and info.filename == "project.qde"
                         else data)
    return out


def _with_state(source: Path, out: Path, change) -> Path:
    """``source`` with its state member's JSON passed through ``change``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == STATE_MEMBER:
                body = json.loads(data)
                change(body)
                data = json.dumps(body).encode("utf-8")
            dst.writestr(info, data)
    return out


# --------------------------------------------------------------------------- export


def test_each_dimension_is_a_non_codable_parent_of_its_values(built: Path) -> None:
    with zipfile.ZipFile(_qdpx(built)) as archive:
        qde = archive.read("project.qde")
    xsd = SHARED / "refi-qda" / "Project.xsd"
    if xsd.is_file():
        xmlschema = pytest.importorskip("xmlschema")
        xmlschema.XMLSchema(str(xsd)).validate(qde.decode("utf-8"))
    top = ET.fromstring(qde).findall("q:CodeBook/q:Codes/q:Code", NS)
    assert [c.get("name") for c in top] == ["Support", "Barriers", "Phase of the work",
                                            "Valence"]  # no "Stage" tree
    phase, valence = top[2], top[3]
    assert phase.get("isCodable") == valence.get("isCodable") == "false"
    assert phase.findtext("q:Description", namespaces=NS) == "Where in the work the talk sits."
    assert valence.findtext("q:Description", namespaces=NS) == (
        "Single-choice valence dimension (one per segment).")
    kids = phase.findall("q:Code", NS)
    assert [(k.get("name"), k.get("isCodable")) for k in kids] == [
        ("Early", "true"), ("Middle", "true"), ("Late", "true"), ("Unclear", "true")]
    assert kids[2].get("color") == "#AA0000"
    with open_project(built) as store:
        dim = store.codebook().dimension("phase")
    assert phase.get("guid") == dimension_guid(dim)
    coded = {c.get("targetGUID") for c in ET.fromstring(qde).iter(f"{{{NS['q']}}}CodeRef")}
    assert {kids[0].get("guid"), kids[2].get("guid")} <= coded


def test_dimension_guids_are_stable_and_the_stage_keeps_its_own() -> None:
    import uuid

    stage = stage_dimension()
    assert dimension_guid(stage) == str(uuid.uuid5(GUID_NAMESPACE, "stage-parent"))
    phase = Dimension("phase", "Phase", (Code("a", "A", dimension="phase"),
                                         Code("b", "B", dimension="phase")))
    assert dimension_guid(phase) == dimension_guid(phase) != dimension_guid(stage)
    tool = "{0E8F2B1A-1111-4222-8333-944455556666}"
    assert dimension_guid(Dimension("phase", "Phase", phase.values, guid=tool)) == tool


# --------------------------------------------------------------------------- round trip


def test_our_qdpx_imports_as_the_same_project_table_by_table(built: Path) -> None:
    b = built.parent / "B"
    cli_ok("import", _qdpx(built), "--init", b, "--embedder", "hashing-256")
    held = project_tables(built)
    assert [r[0] for r in held["dimensions"]] == ["phase", "valence"]
    assert {r[3] for r in held["codings"]} >= {"phase", "valence", "code"}
    assert {r[2] for r in held["annotations"]} == {"phase", "valence", "code"}
    lines = same_project_lines(built, b)
    assert not lines, "A and B differ\n" + "\n".join(lines)
    with open_project(built) as sa, open_project(b) as sb:
        book_a, book_b = sa.codebook(), sb.codebook()
    assert book_b == book_a
    phase = book_b.dimension("phase")
    assert (phase.ordered, phase.pathway, phase.unordered) == (True, True, ("unclear",))
    assert phase.scale == ("early", "middle", "late")
    assert book_b.pathway == phase and not book_b.dimension("valence").ordered


def test_without_the_state_the_dimensions_read_as_ordinary_codes(built: Path) -> None:
    bare = _without_state(_qdpx(built), built.parent / "bare.qdpx")
    outcome = import_refi_new_project(built.parent / "C", bare, embedder="hashing-256")
    assert not outcome.from_state
    assert any("isCodable=false are kept as ordinary codes" in w for w in outcome.warnings)
    with open_project(built.parent / "C") as store:
        book = store.codebook()
        codings = store.codings()
    assert book.dimensions == ()
    by_id = {c.id: c for c in book.codes}
    assert by_id["phase_of_the_work"].parent is None
    assert [c.id for c in book.codes if c.parent == "phase_of_the_work"] == [
        "early", "middle", "late", "unclear"]
    assert by_id["negative"].parent == "valence"
    assert {c.dimension for c in codings} == {"code"}
    assert {"late", "negative", "barriers"} <= {c.code for c in codings if c.coder == "cy"}


def test_a_foreign_stage_tree_still_becomes_the_stage_dimension(built: Path) -> None:
    with zipfile.ZipFile(_qdpx(built)) as archive:
        root = ET.fromstring(archive.read("project.qde"))
    q = f"{{{NS['q']}}}"
    codes = root.find("q:CodeBook/q:Codes", NS)
    tree = ET.SubElement(codes, q + "Code", {"guid": "11111111-2222-4333-8444-555555555555",
                                             "name": "STAGE", "isCodable": "false"})
    push_guid = "11111111-2222-4333-8444-555555555556"
    ET.SubElement(tree, q + "Code", {"guid": push_guid, "name": "Push", "isCodable": "true"})
    ET.SubElement(tree, q + "Code", {"guid": "11111111-2222-4333-8444-555555555557",
                                     "name": "exchange", "isCodable": "true"})
    selection = next(root.iter(q + "PlainTextSelection"))
    coding = ET.SubElement(selection, q + "Coding",
                           {"guid": "11111111-2222-4333-8444-555555555558"})
    ET.SubElement(coding, q + "CodeRef", {"targetGUID": push_guid})
    foreign = _without_state(_qdpx(built), built.parent / "foreign.qdpx",
                             ET.tostring(root, encoding="utf-8", xml_declaration=True))
    import_refi_new_project(built.parent / "D", foreign, embedder="hashing-256")
    with open_project(built.parent / "D") as store:
        book = store.codebook()
        codings = store.codings()
    (stage,) = book.dimensions
    assert (stage.id, stage.pathway, stage.value_ids) == (
        "stage", True, ("push", "push_pull", "exchange", "none"))
    assert stage.guid == "11111111-2222-4333-8444-555555555555"
    assert sum(c.dimension == "stage" and c.code == "push" for c in codings) == 1
    assert "phase_of_the_work" in book.code_ids  # the other trees stay codes


# --------------------------------------------------------------------------- the state


def test_a_version_1_state_reads_its_stage_codes_as_the_stage_dimension(
        tmp_path: Path) -> None:
    """An export written before dimensions (state version 1: "stage" codes, no
    ``dimensions``) still imports exactly."""
    book = tmp_path / "stage.yaml"
    book.write_text("name: s\ncodes:\n  - {id: support, name: Support}\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("P01: We ran a course.\n\nP01: Staff left.\n", "utf-8")
    coded = tmp_path / "coded.csv"
    coded.write_text("document,segment,text,coder,code,stage\n"
                     "t,,We ran a course.,ana,support,push\n", encoding="utf-8")
    a = tmp_path / "A"
    cli_ok("init", a, "--embedder", "hashing-256")
    cli_ok("--project", a, "codebook", "load", book)
    cli_ok("--project", a, "ingest", tmp_path / "t.txt")
    cli_ok("--project", a, "import-codes", coded)
    cli_ok("--project", a, "export", "--out", tmp_path / "A.qdpx")

    def version_1(body: dict) -> None:
        body["version"] = 1
        del body["codebook"]["dimensions"]

    old = _with_state(tmp_path / "A.qdpx", tmp_path / "old.qdpx", version_1)
    outcome = import_refi_new_project(tmp_path / "B", old, embedder="hashing-256")
    assert outcome.from_state
    lines = same_project_lines(a, tmp_path / "B")
    assert not lines, "A and B differ\n" + "\n".join(lines)
    with open_project(tmp_path / "B") as store:
        assert store.codebook().dimensions == (stage_dimension(),)


def _drop_value(body: dict) -> None:
    body["codebook"]["dimensions"][0]["values"].pop()


def _second_pathway(body: dict) -> None:
    body["codebook"]["dimensions"][1]["pathway"] = True


def _undeclared(body: dict) -> None:
    body["codebook"]["dimensions"].pop()


def _reserved_id(body: dict) -> None:
    body["codebook"]["dimensions"][1]["id"] = "document"


def _flag_text(body: dict) -> None:
    body["codebook"]["dimensions"][0]["ordered"] = "yes"


def _coding_elsewhere(body: dict) -> None:
    body["codings"][0][3] = "mood"


@pytest.mark.parametrize("change", [_drop_value, _second_pathway, _undeclared, _reserved_id,
                                    _flag_text, _coding_elsewhere])
def test_a_state_whose_dimensions_do_not_hold_together_is_refused(
        built: Path, tmp_path: Path, change) -> None:
    bad = _with_state(_qdpx(built), tmp_path / "bad.qdpx", change)
    with pytest.raises(InputFileError) as err:
        import_refi_new_project(tmp_path / "E", bad, embedder="hashing-256")
    message = str(err.value)
    assert "\n" not in message and "state" in message and "is damaged" in message
    assert not (tmp_path / "E").exists()


def test_importing_into_a_project_adds_the_dimensions_it_lacks() -> None:
    a = Code("a", "A", dimension="phase")
    b = Code("b", "B", dimension="phase")
    c = Code("c", "C", dimension="phase")
    held = Codebook("h", (Code("x", "X"),), (
        stage_dimension(), Dimension("phase", "Phase", (a, b), ordered=True)))
    incoming = Codebook("i", (Code("x", "X"),), (
        Dimension("phase", "Phase", (a, b, c), ordered=True),
        Dimension("mood", "Mood", (Code("up", "Up", dimension="mood"),
                                   Code("down", "Down", dimension="mood")),
                  ordered=True, pathway=True)))
    merged, _, added = merge_codebooks(held, incoming, {})
    assert added == 3
    assert merged.dimension_ids == ("stage", "phase", "mood")
    phase = merged.dimension("phase")
    assert phase.value_ids == ("a", "b", "c") and phase.unordered == ("c",)  # off the order
    assert merged.pathway == merged.dimension("stage")  # one pathway dimension kept


# --------------------------------------------------------------------------- excerpts


def test_excerpt_paths_under_a_dimension_code_it(built: Path, tmp_path: Path) -> None:
    project = tmp_path / "F"
    cli_ok("init", project, "--embedder", "hashing-256")
    cli_ok("--project", project, "codebook", "load", built.parent / "codebook.yaml")
    cli_ok("--project", project, "ingest", built.parent / "site0.txt")
    rows = [["Media Title", "Excerpt Copy", "Excerpt Creator", "Code: Phase\\Late Applied",
             "Code: Phase of the work\\Middle Applied", "Code: valence\\negative Applied",
             "Code: Barriers Applied"],
            ["site0", "Staff turnover and the caseload left no time (turn 2 of 0).", "ana",
             "1", "0", "1", "1"],
            ["site0", "The district backed us and support mattered (turn 1 of 0).", "ana",
             "0", "1", "0", "0"]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path = tmp_path / "excerpts.csv"
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    cli_ok("--project", project, "import-excerpts", path)
    with open_project(project) as store:
        got = {(c.dimension, c.code) for c in store.codings()}
        labels = {(a.dimension, a.label) for a in store.annotations()}
        assert store.codebook().code_ids == ("support", "training", "barriers")  # none added
    assert got == {("phase", "late"), ("phase", "middle"), ("valence", "negative"),
                   ("code", "barriers")}
    assert {("phase", "late"), ("valence", "negative")} <= labels


def test_a_lone_value_name_codes_its_dimension_only_when_unambiguous() -> None:
    dims = (Dimension("phase", "Phase", (Code("early", "Early", dimension="phase"),
                                         Code("late", "Late", dimension="phase"))),
            Dimension("tempo", "Tempo", (Code("early", "Early", dimension="tempo"),
                                         Code("slow", "Slow", dimension="tempo"))))
    resolver = CodeResolver(Codebook("b", (Code("x", "Late"),), dims))
    assert resolver.resolve(("Slow",)) == ("tempo", "slow")
    assert resolver.resolve(("Early",)) is None  # two dimensions hold it
    assert resolver.resolve(("Late",)) == ("code", "x")  # a code has the name
    assert resolver.resolve(("phases", "EARLY")) == ("phase", "early")
    assert resolver.resolve(("Phase", "Middle")) is None  # not a value of phase


# --------------------------------------------------------------------------- commands


def test_codebook_commands_name_the_dimensions(built: Path, tmp_path: Path) -> None:
    def said(*args: object) -> str:  # the lines are wrapped at 80 columns
        out = cli_ok(*args)
        assert all(len(line) <= 80 for line in out.splitlines())
        return " ".join(out.split())

    book = built.parent / "codebook.yaml"
    assert f"3 codes; {LOADED}" in said("codebook", "check", book)
    shown = said("--project", built, "codebook", "show")
    assert ("dimension phase, pathway: Phase of the work (early < middle < late; unclear)"
            in shown)
    assert "dimension valence: Valence (positive, negative)" in shown
    none = tmp_path / "none.yaml"
    none.write_text("name: n\ndimensions: []\ncodes:\n  - {id: a, name: A}\n", "utf-8")
    assert "1 codes; no single-choice dimensions" in said("codebook", "check", none)
    out = said("--project", built, "codebook", "export", "--out", tmp_path / "b.qdc")
    assert LOADED in out


def test_precode_states_each_dimension_left_open() -> None:
    book = Codebook("b", (), (
        Dimension("phase", "Phase", (Code("a", "A", dimension="phase"),
                                     Code("b", "B", dimension="phase"))),
        Dimension("valence", "Valence", (Code("p", "P", dimension="valence"),
                                         Code("n", "N", dimension="valence")))))
    segs = [Segment(f"s{i}", "d", i, i, "turn", "P", 10 * i, 10 * i + 5, "x", i != 3)
            for i in range(4)]
    sug = [Suggestion("s0", "m", "phase", "a", 0.9, True),
           Suggestion("s1", "m", "phase", "b", 0.3, False),
           Suggestion("s3", "m", "phase", "a", 0.9, True),  # not codable
           Suggestion("s0", "m", "valence", "p", 0.9, True),
           Suggestion("s1", "m", "valence", "n", 0.9, True),
           Suggestion("s2", "m", "valence", "n", 0.9, True)]
    assert open_shares(book, segs, sug) == (("Phase", 2 / 3), ("Valence", 0.0))
    assert open_shares(book, segs[3:], sug) == (("Phase", None), ("Valence", None))
