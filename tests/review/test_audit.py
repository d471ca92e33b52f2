"""Audit samples (`isp-nlp audit draw|list`) and blind coding (`review --blind`)."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from isp_nlp.records import CODER_SOURCES
from isp_nlp.review.audit import allocate, draw_sample
from isp_nlp.store.database import Store, project_db
from tests.builders.paths import REPO
from tests.builders.terminal import run

DEMO = REPO / "corpora" / "isp-demo"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus with its seed codes, trained and suggested (hashing embedder)."""
    folder = tmp_path_factory.mktemp("audit") / "project"
    assert run("init", str(folder), "--embedder", "hashing-256").exit_code == 0
    steps = [
        ("codebook", "load", str(DEMO / "codebook.yaml")),
        ("ingest", *sorted(str(p) for p in (DEMO / "transcripts").iterdir())),
        ("import-codes", str(DEMO / "seed_codes.csv")),
        ("train",),
        ("suggest",),
    ]
    for step in steps:
        result = run(*step, project=folder)
        assert result.exit_code == 0, (step, result.output)
    return folder


def _copy(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(project, target)
    return target


def _drawn(folder: Path, audit_id: int) -> list[str]:
    with Store.open(project_db(folder)) as store:
        ids = store.audit_segment_ids(audit_id)
    assert ids is not None
    return ids


def _audit_id(output: str) -> int:
    m = re.search(r"Audit (\d+):", output)
    assert m, output
    return int(m.group(1))


def test_allocation_is_proportional_and_sums_to_n() -> None:
    assert allocate({"a": 50, "b": 30, "c": 20}, 10) == {"a": 5, "b": 3, "c": 2}
    shares = allocate({"a": 1, "b": 1, "c": 1}, 2)
    assert sum(shares.values()) == 2 and shares == {"a": 1, "b": 1, "c": 0}
    assert sum(allocate({"a": 7, "b": 3, "c": 13}, 11).values()) == 11


def test_a_seed_draws_the_same_sample() -> None:
    strata = {"a": [f"a{i}" for i in range(40)], "b": [f"b{i}" for i in range(20)]}
    assert draw_sample(strata, 12, seed=5) == draw_sample(strata, 12, seed=5)
    assert draw_sample(strata, 12, seed=5) != draw_sample(strata, 12, seed=6)


def test_draw_with_a_seed_twice_gives_the_same_segments(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    first = run("audit", "draw", "--n", "12", "--seed", "7", project=folder)
    second = run("audit", "draw", "--n", "12", "--seed", "7", project=folder)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    a, b = _drawn(folder, _audit_id(first.output)), _drawn(folder, _audit_id(second.output))
    assert a == b and len(a) == 12 and len(set(a)) == 12


def test_the_draw_is_stratified_by_document_over_uncoded_codable_segments(
        project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    result = run("audit", "draw", "--n", "40", "--seed", "1", project=folder)
    assert result.exit_code == 0, result.output
    ids = _drawn(folder, _audit_id(result.output))
    with Store.open(project_db(folder)) as store:
        segments = {s.id: s for s in store.segments()}
        coded = {a.segment_id for a in store.annotations() if a.source in CODER_SOURCES}
        available = Counter(s.document for s in segments.values()
                            if s.codable and s.id not in coded)
    assert coded, "the fixture has seed codes"
    assert all(segments[i].codable and i not in coded for i in ids)
    total = sum(available.values())
    got = Counter(segments[i].document for i in ids)
    for doc, size in available.items():
        assert abs(got[doc] - 40 * size / total) < 1, (doc, got[doc], size)


def test_draw_only_from_named_documents(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    with Store.open(project_db(folder)) as store:
        doc = store.transcripts()[0]["document"]
    result = run("audit", "draw", "--n", "3", "--document", doc, project=folder)
    assert result.exit_code == 0, result.output
    with Store.open(project_db(folder)) as store:
        docs = {s.id: s.document for s in store.segments()}
    assert {docs[i] for i in _drawn(folder, _audit_id(result.output))} == {doc}


def test_more_than_there_are_is_one_sentence_and_exit_2(project: Path) -> None:
    result = run("audit", "draw", "--n", "100000", project=project)
    assert result.exit_code == 2
    message = result.output.strip()
    assert "\n" not in message and "100000" in message and message.count(". ") == 0


def test_blind_review_stores_blind_codes_and_shows_no_suggestion(
        project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    drawn = run("audit", "draw", "--n", "5", "--seed", "2", project=folder)
    audit_id = _audit_id(drawn.output)
    ids = _drawn(folder, audit_id)
    with Store.open(project_db(folder)) as store:
        code_ids = set(store.codebook().code_ids)  # type: ignore[union-attr]
    result = run("review", "--blind", "--coder", "zoe", "--audit", str(audit_id), "--script",
                 "e:strategies+didactic_training|stage=push,s,e:capacity_building",
                 project=folder)
    assert result.exit_code == 0, result.output
    assert "2 coded blind, 1 skipped" in result.output
    assert "0." not in result.output  # no probability
    assert all(len(line) <= 80 for line in result.output.splitlines())
    # Outside the transcript lines (">> " the segment, "   " its neighbours) no code id.
    frame = [line for line in result.output.splitlines()
             if not line.startswith((">> ", "   ", "Blind review by"))]
    assert frame and not any(code in line for line in frame for code in code_ids)
    with Store.open(project_db(folder)) as store:
        mine = [a for a in store.annotations() if a.coder == "zoe"]
        log = [r for r in store.log_rows() if r[1] == "zoe"]
    assert {a.source for a in mine} == {"blind"}
    assert {(a.segment_id, a.dimension, a.label) for a in mine} == {
        (ids[0], "code", "strategies"), (ids[0], "code", "didactic_training"),
        (ids[0], "stage", "push"), (ids[2], "code", "capacity_building")}
    assert [(r[2], r[4]) for r in log] == [("blind", ids[0]), ("blind_skip", ids[1]),
                                           ("blind", ids[2])]
    again = run("review", "--blind", "--coder", "zoe", "--audit", str(audit_id), "--script",
                "s", project=folder)
    assert "3 left" in again.output  # coded segments are not shown again


def test_blind_review_rejects_a_bad_script_before_storing(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    result = run("review", "--blind", "--coder", "zoe", "--script", "e:strategies,a",
                 project=folder)
    assert result.exit_code == 2 and "not an action" in result.output
    with Store.open(project_db(folder)) as store:
        assert not [a for a in store.annotations() if a.coder == "zoe"]


def test_audit_list_shows_the_audit(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    run("audit", "draw", "--n", "4", "--seed", "99", project=folder)
    result = run("audit", "list", project=folder)
    assert result.exit_code == 0 and "seed 99" in result.output and "n 4" in result.output


def test_a_schema_7_project_upgrades_and_keeps_its_data(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    with Store.open(project_db(folder)) as store:
        before = (len(store.annotations()), len(store.segments()))
    conn = sqlite3.connect(project_db(folder))
    conn.executescript("DROP TABLE audit_segments; DROP TABLE audits;"
                       "UPDATE meta SET value = '7' WHERE key = 'schema_version';")
    conn.close()
    with Store.open(project_db(folder)) as store:
        assert store.schema_version() == 12
        assert (len(store.annotations()), len(store.segments())) == before
        assert store.audits() == []
    assert run("audit", "draw", "--n", "2", "--seed", "1", project=folder).exit_code == 0


def _zoe(folder: Path) -> tuple[list, list]:
    """zoe's active annotations and her log rows (id, action, segment, undoes)."""
    with Store.open(project_db(folder)) as store:
        mine = [a for a in store.annotations() if a.coder == "zoe"]
        log = [(r[0], r[2], r[4], r[7]) for r in store.log_rows() if r[1] == "zoe"]
    return mine, log


def test_blind_undo_retracts_the_coding_across_sessions(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    audit_id = _audit_id(run("audit", "draw", "--n", "4", "--seed", "5", project=folder).output)
    ids = _drawn(folder, audit_id)
    first = run("review", "--blind", "--coder", "zoe", "--audit", str(audit_id), "--script",
                "e:strategies,e:capacity_building|stage=push", project=folder)
    assert "2 coded blind, 0 skipped, 2 left." in first.output
    # a later session: u takes back the last coding (of the first session), shows it again
    second = run("review", "--blind", "--coder", "zoe", "--audit", str(audit_id), "--script",
                 "u,e:didactic_training,q", project=folder)
    assert second.exit_code == 0, second.output
    assert "Undid the blind coding" in second.output
    assert "1 coded blind, 0 skipped, 1 undone, 2 left." in second.output
    mine, log = _zoe(folder)
    assert {(a.segment_id, a.dimension, a.label) for a in mine} == {
        (ids[0], "code", "strategies"), (ids[1], "code", "didactic_training")}
    assert {a.source for a in mine} == {"blind"}
    actions = [(action, seg) for _, action, seg, _ in log]
    assert actions == [("blind", ids[0]), ("blind", ids[1]), ("undo", ids[1]),
                       ("blind", ids[1])]
    assert log[2][3] == log[1][0]  # the undo row points at the coding it reverts
    with Store.open(project_db(folder)) as store:  # the retracted codes stay, marked
        retracted = store.conn.execute(
            "SELECT label FROM annotations WHERE coder = 'zoe' AND retracted_by = ?",
            (log[2][0],)).fetchall()
    assert sorted(r[0] for r in retracted) == ["capacity_building", "push"]


def test_blind_skip_is_logged_and_undone(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    audit_id = _audit_id(run("audit", "draw", "--n", "3", "--seed", "8", project=folder).output)
    ids = _drawn(folder, audit_id)
    result = run("review", "--blind", "--coder", "zoe", "--audit", str(audit_id), "--script",
                 "s,u,e:strategies,u,u,u", project=folder)
    assert result.exit_code == 0, result.output
    assert "Undid the blind skip" in result.output and "Nothing to undo." in result.output
    assert "0 coded blind, 0 skipped, 2 undone, 3 left." in result.output
    mine, log = _zoe(folder)
    assert mine == []
    assert [(action, seg) for _, action, seg, _ in log] == [
        ("blind_skip", ids[0]), ("undo", ids[0]), ("blind", ids[0]), ("undo", ids[0])]
    assert all(len(line) <= 80 for line in result.output.splitlines())


def test_blind_undo_leaves_review_decisions_alone(project: Path, tmp_path: Path) -> None:
    folder = _copy(project, tmp_path)
    assert run("review", "--coder", "zoe", "--script", "r", project=folder).exit_code == 0
    result = run("review", "--blind", "--coder", "zoe", "--script", "u", project=folder)
    assert "Nothing to undo." in result.output
    _, log = _zoe(folder)
    assert [action for _, action, _, _ in log] == ["reject"]


def test_interactive_blind_undo_and_skip(project: Path, tmp_path: Path) -> None:
    from isp_nlp.review.blind import run_blind

    folder = _copy(project, tmp_path)
    audit_id = _audit_id(run("audit", "draw", "--n", "3", "--seed", "9", project=folder).output)
    ids = _drawn(folder, audit_id)
    answers = iter(["u", "strategies", "", "u", "", "q"])  # "" after codes: no stage
    shown: list[str] = []
    with Store.open(project_db(folder)) as store:
        summary = run_blind(store, "zoe", audit_id=audit_id, write=shown.append,
                            read_line=lambda _prompt: next(answers))
    assert (summary.coded, summary.skipped, summary.undone, summary.left) == (0, 1, 1, 3)
    text = "\n".join(shown)
    assert "Nothing to undo." in text and "Undid the blind coding of" in text
    mine, log = _zoe(folder)
    assert mine == []
    assert [(action, seg) for _, action, seg, _ in log] == [
        ("blind", ids[0]), ("undo", ids[0]), ("blind_skip", ids[0])]
