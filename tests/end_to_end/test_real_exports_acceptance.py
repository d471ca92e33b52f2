"""Issue 20 item 7: a real QDA export through the whole flow, and back out exactly.

For the NVivo for Mac 12.7 and qc 1.3.2 exports in ../shared: ``import --init A`` →
``train`` (no codebook edit in between) → ``suggest`` → a scripted review by one coder →
``export`` → ``import`` into a fresh B. The import, then the rest, run once per file
(module fixtures); each test checks one promise, so a failure names the promise it
breaks, and the import's own check still runs where ``train`` fails.
"""

from __future__ import annotations

import sqlite3
import zipfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from isp_nlp.interchange.refi_codebook import PROJECT_NS
from isp_nlp.review.run import project_review
from isp_nlp.store.folder import open_project
from tests.builders.paths import SHARED, require_shared
from tests.builders.tables import SET_ANEW, cli_ok, diff_tables, project_tables

pytestmark = pytest.mark.shared_data

#: file → (its documents, the fewest codable segments past every coder's last coding
#: in them: in the NVivo file the coder stopped at character 77,873 of 585,218, and 438
#: of the document's 520 segments start after that).
EXPORTS = {
    "nvivo-mac-12.7-export.qdpx": (("videos_10_selected", "videos_selection"), 438),
    "qc-1.3.2-demo.qdpx": (("admin-1", "board_2017"), 0),
}
REVIEWER = "dora"


@dataclass(frozen=True)
class Flow:
    """One file's run: the projects, the archive exported from each, and what the
    commands printed."""

    name: str
    a: Path
    b: Path
    a_qdpx: Path
    b_qdpx: Path
    trained: str
    suggested: str
    decisions: tuple[str, ...]


def _snapshot(project: Path, to: Path) -> Path:
    """A copy of ``project``'s database as it is now (through SQLite, so WAL included)."""
    with closing(sqlite3.connect(project / "project.sqlite")) as src, \
            closing(sqlite3.connect(to)) as dst:
        src.backup(dst)
    return to


def _review(project: Path) -> tuple[str, ...]:
    """accept, reject, relabel (two codes of the codebook, and a stage when it has any),
    accept."""
    with open_project(project) as store:
        session = project_review(store, REVIEWER, order="document")
        assert session.dimensions == ()  # neither file has a "Stage" tree: no stage offered
        codes = [c.id for c in session.codebook.codes[:2]]
        made = [session.accept(), session.reject(), session.relabel(codes, None),
                session.accept()]
    return tuple(d.action for d in made)


@pytest.fixture(scope="module", params=sorted(EXPORTS))
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[str, Path, Path]:
    """(file name, project A just imported, a copy of its database at that point)."""
    name: str = request.param
    source = require_shared("refi-qda", name)
    root = tmp_path_factory.mktemp(name.split(".qdpx")[0])
    cli_ok("import", source, "--init", root / "A", "--embedder", "hashing-256")
    return name, root / "A", _snapshot(root / "A", root / "after-import.sqlite")


@pytest.fixture(scope="module")
def flow(imported: tuple[str, Path, Path]) -> Flow:
    """The imported project trained, suggested on, reviewed, exported and imported as B."""
    name, a, _ = imported
    root = a.parent
    trained = cli_ok("--project", a, "train", "--folds", "2")
    suggested = cli_ok("--project", a, "suggest")
    _snapshot(a, root / "after-suggest.sqlite")  # before the review adds its labels
    decisions = _review(a)
    b, a_qdpx, b_qdpx = root / "B", root / "A.qdpx", root / "B.qdpx"
    cli_ok("--project", a, "export", "--out", a_qdpx)
    cli_ok("import", a_qdpx, "--init", b, "--embedder", "hashing-256")
    cli_ok("--project", b, "export", "--out", b_qdpx)
    return Flow(name, a, b, a_qdpx, b_qdpx, trained, suggested, decisions)


def _last_codings(held: dict[str, list[tuple]]) -> dict[tuple[str, str], int]:
    """(coder, document) → the end of that coder's last coding in that document."""
    until: dict[tuple[str, str], int] = {}
    for document, _, end, _, _, coder, *_ in held["codings"]:
        until[(coder, document)] = max(until.get((coder, document), 0), end)
    return until


def test_segments_past_a_coders_last_coding_are_not_taught_as_no_code(
        imported: tuple[str, Path, Path]) -> None:
    name, _, db = imported
    held = project_tables(db)
    until = _last_codings(held)
    no_code = {(r[0], r[1]) for r in held["annotations"] if r[2] == "code" and r[3] is None}
    wrong = [(coder, document, idx)
             for seg_id, document, idx, *_, start, _, _, codable in held["segments"]
             for (coder, d), end in until.items()
             if codable and d == document and start >= end and (seg_id, coder) in no_code]
    wrong.sort()
    assert not wrong, (f"{name}: {len(wrong)} segments past the coder's last coding in "
                       f"their document are labelled 'no code', e.g. {wrong[:3]}")


def test_train_and_suggest_succeed_and_the_review_is_recorded(flow: Flow) -> None:
    assert "Trained model" in flow.trained, flow.trained
    assert "Scored" in flow.suggested, flow.suggested
    assert flow.decisions == ("accept", "reject", "relabel", "accept")
    held = project_tables(flow.a)
    assert [(r[0], r[1]) for r in held["log_decisions"]] == [
        (REVIEWER, a) for a in flow.decisions]
    assert any(r[1] == REVIEWER and r[4] == "assisted" for r in held["annotations"])


def _suggested_segments(db: Path) -> set[str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {r[0] for r in conn.execute(
            "SELECT DISTINCT segment_id FROM suggestions WHERE model_id ="
            " (SELECT id FROM models ORDER BY created_at DESC, rowid DESC LIMIT 1)")}


def test_suggest_scores_both_documents_and_every_uncoded_segment(flow: Flow) -> None:
    db = flow.a.parent / "after-suggest.sqlite"
    held = project_tables(db)
    document = {r[0]: r[1] for r in held["segments"]}
    suggested = _suggested_segments(db)
    documents, fewest = EXPORTS[flow.name]
    scored = {d: sum(document[s] == d for s in suggested) for d in documents}
    assert all(scored.values()), f"segments scored per document: {scored}"
    labelled = {r[0] for r in held["annotations"]}
    uncoded = {r[0] for r in held["segments"] if r[9] and r[0] not in labelled}
    missed = sorted(uncoded - suggested, key=lambda s: (document[s], s))
    assert not missed, (f"{len(missed)} of {len(uncoded)} codable segments without any "
                        f"label were not scored, e.g. {missed[:3]}")
    # in particular those past every coder's last coding in a coded document
    last: dict[str, int] = {}
    for (_, d), end in _last_codings(held).items():
        last[d] = max(last.get(d, 0), end)
    past = [r[0] for r in held["segments"] if r[9] and r[1] in last and r[6] >= last[r[1]]]
    assert len(past) >= fewest, f"only {len(past)} segments past the last coding"
    unscored = [s for s in past if s not in suggested]
    assert not unscored, (f"{len(unscored)} of {len(past)} segments past every coder's "
                          "last coding were not suggested on")


def test_b_holds_exactly_what_a_holds(flow: Flow) -> None:
    a, b = project_tables(flow.a), project_tables(flow.b)
    lines = diff_tables(a, b, skip=SET_ANEW)
    assert not lines, f"{flow.name}: A and B differ\n" + "\n".join(lines)


def _code_guids(qdpx: Path) -> dict[str, tuple[str, str | None]]:
    """Code GUID → (name, parent GUID) of an archive's codebook."""
    with zipfile.ZipFile(qdpx) as archive:
        root = ET.fromstring(archive.read("project.qde"))
    tag = f"{{{PROJECT_NS}}}Code"
    out: dict[str, tuple[str, str | None]] = {}

    def walk(element: ET.Element, parent: str | None) -> None:
        for code in element.findall(tag):
            out[code.get("guid", "")] = (code.get("name", ""), parent)
            walk(code, code.get("guid"))

    codes = root.find(f"{{{PROJECT_NS}}}CodeBook/{{{PROJECT_NS}}}Codes")
    assert codes is not None, f"{qdpx.name} has no CodeBook/Codes"
    walk(codes, None)
    return out


def test_code_ids_and_code_guids_are_the_same_in_a_and_b(flow: Flow) -> None:
    ids_a = [(r[0], r[2]) for r in project_tables(flow.a)["codes"]]
    ids_b = [(r[0], r[2]) for r in project_tables(flow.b)["codes"]]
    assert ids_a == ids_b, (f"code ids: {len(ids_a)} in A, {len(ids_b)} in B; only in A "
                            f"{sorted(set(ids_a) - set(ids_b))[:5]}, only in B "
                            f"{sorted(set(ids_b) - set(ids_a))[:5]}")
    guids_a, guids_b = _code_guids(flow.a_qdpx), _code_guids(flow.b_qdpx)
    assert len(guids_a) >= len(ids_a), "A's export holds fewer codes than A"
    assert guids_a == guids_b, (
        f"code GUIDs: {len(guids_a)} exported from A, {len(guids_b)} from B; "
        f"{len(set(guids_a) - set(guids_b))} only in A's export")


def test_the_exported_project_validates_against_project_xsd(flow: Flow) -> None:
    schema = xmlschema.XMLSchema(str(SHARED / "refi-qda" / "Project.xsd"))
    for qdpx in (flow.a_qdpx, flow.b_qdpx):
        with zipfile.ZipFile(qdpx) as archive:
            schema.validate(archive.read("project.qde").decode("utf-8"))
