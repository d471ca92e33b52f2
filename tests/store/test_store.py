"""The project store: transactions, durability under kill -9, concurrent coders."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from isp_nlp.errors import ProjectError
from isp_nlp.records import (
    Annotation,
    Code,
    Codebook,
    Decision,
    Evidence,
    Suggestion,
)
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.migrations import SCHEMA_VERSION
from tests.builders.transcripts import CODEBOOK, make_transcript


@pytest.fixture
def store(db_path: Path) -> Store:
    s = Store.create(db_path)
    t, segs = make_transcript()
    s.add_transcripts([(t, segs, "turn")])
    s.save_codebook(CODEBOOK, "codebook.yaml")
    yield s
    s.close()


def test_open_missing_project_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="isp-nlp init"):
        Store.open(tmp_path / "nope" / "project.sqlite")


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "project.sqlite"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ProjectError, match=r"is damaged \(file is not a database\).*backup"):
        Store.open(bad)


def test_reingest_unchanged_is_noop_and_changed_is_refused(store: Store) -> None:
    t, segs = make_transcript()
    assert store.add_transcripts([(t, segs, "turn")]) == ["unchanged"]
    t2, segs2 = make_transcript(n=5, sha="b" * 64)
    with pytest.raises(ProjectError, match="--replace"):
        store.add_transcripts([(t2, segs2, "turn")])
    assert len(store.segments()) == 4
    assert store.add_transcripts([(t2, segs2, "turn")], replace=True) == ["replaced"]
    assert len(store.segments()) == 5


def test_batch_is_all_or_nothing(store: Store) -> None:
    good, good_segs = make_transcript("doc2")
    changed, changed_segs = make_transcript("doc1", n=6, sha="c" * 64)
    with pytest.raises(ProjectError):
        store.add_transcripts([(good, good_segs, "turn"), (changed, changed_segs, "turn")])
    assert {s.document for s in store.segments()} == {"doc1"}


def test_replace_refuses_to_orphan_annotations(store: Store) -> None:
    store.import_annotations([Annotation("doc1-3", "ana", "code", "training")], source="x")
    t2, segs2 = make_transcript(n=2, sha="d" * 64)
    with pytest.raises(ProjectError, match="orphan 1 annotations"):
        store.add_transcripts([(t2, segs2, "turn")], replace=True)
    assert len(store.segments()) == 4


def test_import_is_idempotent_and_updates(store: Store) -> None:
    ann = [Annotation("doc1-1", "ana", "code", "training"),
           Annotation("doc1-1", "ana", "stage", "push")]
    assert store.import_annotations(ann, source="a.csv")["changed"] == 2
    assert store.import_annotations(ann, source="a.csv")["changed"] == 0
    store.import_annotations([Annotation("doc1-1", "ana", "code", "trust")], source="b.csv")
    labels = {(a.dimension, a.label) for a in store.annotations()}
    assert labels == {("code", "trust"), ("stage", "push")}


def test_codebook_round_trip_and_guard(store: Store) -> None:
    assert store.codebook() == CODEBOOK
    store.import_annotations([Annotation("doc1-1", "ana", "code", "trust")], source="a")
    smaller = Codebook(name="t", codes=(Code(id="training", name="Training"),),
                       dimensions=CODEBOOK.dimensions)
    with pytest.raises(ProjectError, match="trust"):
        store.save_codebook(smaller, "small.yaml")


def test_embedding_cache_round_trip(store: Store) -> None:
    cache = store.embedding_cache()
    vec = np.arange(4, dtype=np.float32)
    cache.put_many("m", {"k1": vec})
    got = cache.get_many("m", ["k1", "k2"])
    assert list(got) == ["k1"] and np.array_equal(got["k1"], vec)
    assert cache.get_many("other", ["k1"]) == {}


def decision(coder: str, seg: str, action: str = "accept", codes=("training",), stage="push"):
    return Decision(coder=coder, item_key=f"{seg}-key", segment_id=seg, action=action,
                    codes=tuple(codes), values=(("stage", stage),) if stage else (), model_id="m1",
                    suggestion={"codes": list(codes)})


def test_decisions_become_assisted_annotations_and_undo_restores(store: Store) -> None:
    store.import_annotations([Annotation("doc1-1", "ben", "code", "trust")], source="seed")
    log = DecisionLog(store)
    log.record(decision("ben", "doc1-1", "relabel", codes=("training",), stage="exchange"))
    active = {(a.coder, a.dimension, a.label, a.source) for a in store.annotations()}
    assert active == {("ben", "code", "training", "assisted"),
                      ("ben", "stage", "exchange", "assisted")}
    undone = log.undo_last("ben")
    assert undone is not None and undone.action == "relabel" and undone.value("stage") == "exchange"
    active = {(a.coder, a.dimension, a.label, a.source) for a in store.annotations()}
    assert active == {("ben", "code", "trust", "human")}
    assert log.undo_last("ben") is None
    entries = log.entries()
    assert [e["action"] for e in entries] == ["import", "relabel", "undo"]
    assert entries[1]["undone"] and entries[2]["undoes"] == entries[1]["id"]


def test_decided_ignores_undone(store: Store) -> None:
    log = DecisionLog(store)
    log.record(decision("ana", "doc1-1"))
    log.record(decision("ana", "doc1-3", action="skip", codes=(), stage=None))
    assert log.decided("ana") == {"doc1-1-key": "accept", "doc1-3-key": "skip"}
    log.undo_last("ana")
    assert log.decided("ana") == {"doc1-1-key": "accept"}
    assert log.decided("ben") == {}


WORKER = textwrap.dedent(
    """
    import sys
    from isp_nlp.store.database import Store
    from isp_nlp.store.decisions import DecisionLog
    from isp_nlp.review.session import Decision
    store = Store.open(sys.argv[1])
    log = DecisionLog(store)
    coder, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        seg = "doc1-1" if i % 2 else "doc1-3"
        log_id = log.record(Decision(coder=coder, item_key=f"k{i}", segment_id=seg,
                                     action="accept", codes=("training",),
                                     values=(("stage", "push"),),
                                     model_id="m", suggestion={}))
        print(log_id, flush=True)
    """
)


def _worker(db: Path, coder: str, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(db), coder, str(n)],
                            stdout=subprocess.PIPE, text=True)


def test_decisions_survive_kill_9(store: Store) -> None:
    proc = _worker(store.path, "ana", 100_000)
    acknowledged = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(acknowledged) == 40
    with Store.open(store.path) as reopened:
        assert reopened.check() == []
        ids = {r[0] for r in reopened.conn.execute("SELECT id FROM log WHERE coder = 'ana'")}
    assert set(acknowledged) <= ids


def test_concurrent_coders_lose_nothing(store: Store) -> None:
    procs = [_worker(store.path, coder, 60) for coder in ("ana", "ben", "cai")]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        assert len(out.split()) == 60
    counts = dict(store.conn.execute("SELECT coder, COUNT(*) FROM log GROUP BY coder"))
    assert counts == {"ana": 60, "ben": 60, "cai": 60}
    active = [a for a in store.annotations() if a.source == "assisted"]
    assert {a.coder for a in active} == {"ana", "ben", "cai"}


# -- suggestions, their evidence, and the schema upgrade ------------------------------
def _suggestions(model_id: str = "m1") -> list[Suggestion]:
    code_ev = (Evidence("doc1-1", 0.9, "Utterance number 1 about training.", ("training",)),
               Evidence("doc1-3", 0.5, "Utterance number 3 about training.", ()))
    stage_ev = (Evidence("doc1-1", 0.9, "Utterance number 1 about training.", ("push",)),
                Evidence("doc1-3", 0.5, "Utterance number 3 about training.", ()))
    out = []
    for seg in ("doc1-0", "doc1-2"):
        out += [Suggestion(seg, model_id, "code", "training", 0.8, True, code_ev),
                Suggestion(seg, model_id, "code", "trust", 0.2, False, code_ev),
                Suggestion(seg, model_id, "stage", "push", 0.7, True, stage_ev)]
    return out


def test_evidence_is_stored_once_per_segment_and_dimension(store: Store) -> None:
    written = _suggestions()
    store.replace_suggestions("m1", written)
    n_rows = store.conn.execute("SELECT COUNT(*) FROM suggestion_evidence").fetchone()[0]
    assert n_rows == 2 * 2 * 2  # segments x dimensions x exemplars, not x codes
    assert sorted(store.suggestions("m1"), key=repr) == sorted(written, key=repr)
    store.replace_suggestions("m1", written[:3])
    assert store.conn.execute("SELECT COUNT(*) FROM suggestion_evidence").fetchone()[0] == 4


def test_differing_evidence_within_a_dimension_is_refused(store: Store) -> None:
    bad = _suggestions()
    bad[1] = Suggestion("doc1-0", "m1", "code", "trust", 0.2, False, ())
    with pytest.raises(ValueError, match="different evidence"):
        store.replace_suggestions("m1", bad)


def _downgrade_to_version_1(store: Store, suggestions: list[Suggestion],
                            evidence_json=None) -> None:
    """Rewrite the suggestions the way schema version 1 stored them (evidence per row)."""
    conn = store.conn
    conn.executescript(
        "BEGIN; DROP TABLE suggestion_evidence; DROP TABLE suggestions;"
        "DROP TABLE codings; DROP TABLE coders; DROP TABLE notes;"
        "CREATE TABLE suggestions (segment_id TEXT NOT NULL REFERENCES segments(id)"
        " ON DELETE CASCADE, model_id TEXT NOT NULL, dimension TEXT NOT NULL,"
        " label TEXT NOT NULL, probability REAL NOT NULL, suggested INTEGER NOT NULL,"
        " evidence TEXT NOT NULL, PRIMARY KEY (model_id, segment_id, dimension, label));"
        "ALTER TABLE codes DROP COLUMN color;"
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'; COMMIT;")
    conn.executemany("INSERT INTO suggestions VALUES (?,?,?,?,?,?,?)", [
        (s.segment_id, s.model_id, s.dimension, s.label, s.probability, int(s.suggested),
         evidence_json or json.dumps([asdict(e) for e in s.evidence])) for s in suggestions])


def test_version_1_database_upgrades_in_place_keeping_evidence(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    written = _suggestions()
    with Store.create(path) as s:
        t, segs = make_transcript()
        s.add_transcripts([(t, segs, "turn")])
        _downgrade_to_version_1(s, written)
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 12
        columns = [r[1] for r in s.conn.execute("PRAGMA table_info(suggestions)")]
        assert "evidence" not in columns
        assert sorted(s.suggestions("m1"), key=repr) == sorted(written, key=repr)
        assert s.conn.execute("SELECT COUNT(*) FROM suggestion_evidence").fetchone()[0] == 8
    with Store.create(path) as s:  # creating over an upgraded project is a no-op
        assert sorted(s.suggestions("m1"), key=repr) == sorted(written, key=repr)


def test_version_2_database_upgrades_in_place_keeping_its_codebook(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    with Store.create(path) as s:
        s.save_codebook(CODEBOOK, "codebook.yaml")
        s.conn.executescript(  # schema version 2: codes had no colour
            "BEGIN; ALTER TABLE codes DROP COLUMN color;"
            "DROP TABLE codings; DROP TABLE coders; DROP TABLE notes;"
            "UPDATE meta SET value = '2' WHERE key = 'schema_version'; COMMIT;")
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 12
        assert s.codebook() == CODEBOOK
        coloured = Codebook(CODEBOOK.name, (replace(CODEBOOK.codes[0], color="#46AA00"),
                                            *CODEBOOK.codes[1:]), CODEBOOK.dimensions)
        s.save_codebook(coloured, "codebook.qdc")
    with Store.open(path) as s:
        assert s.codebook() == coloured


def test_failed_upgrade_leaves_the_database_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    with Store.create(path) as s:
        t, segs = make_transcript()
        s.add_transcripts([(t, segs, "turn")])
        _downgrade_to_version_1(s, _suggestions(), evidence_json='[{"segment_id": "x"}]')
    with pytest.raises(ProjectError, match="could not be upgraded from schema version 1"):
        Store.open(path)
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        columns = [r[1] for r in conn.execute("PRAGMA table_info(suggestions)")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert version == ("1",)
        assert "evidence" in columns and "suggestion_evidence" not in tables
        code_columns = [r[1] for r in conn.execute("PRAGMA table_info(codes)")]
        assert "color" not in code_columns
        assert conn.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0] == 6
    finally:
        conn.close()
