"""Coded spans, coders and notes in the store (schema version 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from isp_nlp.errors import ProjectError
from isp_nlp.records import Coder, Coding, Note
from isp_nlp.store.database import Store
from isp_nlp.store.migrations import SCHEMA_VERSION
from tests.builders.paths import PACKAGE
from tests.builders.transcripts import CODEBOOK, make_transcript


@pytest.fixture
def store(db_path: Path):
    s = Store.create(db_path)
    t, segs = make_transcript()
    s.add_transcripts([(t, segs, "turn")])
    yield s
    s.close()


def test_codings_are_kept_exactly_and_once(store: Store) -> None:
    spans = [Coding("doc1", 13, 20, "training", "ana", guid="g1"),
             Coding("doc1", 0, 5, "push", "ana", dimension="stage", source="assisted")]
    assert store.add_codings(spans) == {"added": 2, "unchanged": 0}
    assert store.add_codings(spans[:1]) == {"added": 0, "unchanged": 1}
    got = store.codings()
    assert [(c.start, c.end, c.code, c.dimension, c.source, c.guid) for c in got] == [
        (0, 5, "push", "stage", "assisted", ""), (13, 20, "training", "code", "human", "g1")]
    assert all(c.created_at for c in got)
    assert store.codings(document="other") == []


@pytest.mark.parametrize(("coding", "message"), [
    (Coding("nope", 0, 3, "training", "ana"), "document 'nope', which is not in the project"),
    (Coding("doc1", 5, 5, "training", "ana"), "outside the text"),
    (Coding("doc1", 0, 10_000, "training", "ana"), "outside the text"),
])
def test_a_coding_off_the_text_is_refused(store: Store, coding: Coding, message: str) -> None:
    with pytest.raises(ProjectError, match=message):
        store.add_codings([Coding("doc1", 0, 3, "training", "ana"), coding])
    assert store.codings() == []


def test_coders_merge_what_is_known(store: Store) -> None:
    assert store.add_coders([Coder("ana"), Coder("bo", guid="b-guid", initials="B")]) == 2
    assert store.add_coders([Coder("ana", guid="a-guid", initials="A")]) == 0
    store.add_codings([Coding("doc1", 0, 3, "training", "cy")])
    assert store.coders() == [Coder("ana", "a-guid", "A"), Coder("bo", "b-guid", "B"),
                              Coder("cy")]


def test_notes_are_kept_once_per_guid(store: Store) -> None:
    note = Note(title="Memo", text="Trust grows slowly.", guid="n1", coder="ana",
                document="doc1", start=0, end=4)
    assert store.add_notes([note, Note(title="Loose", text="x")]) == 2
    assert store.add_notes([note]) == 0
    got = store.notes()
    assert [(n.title, n.document, n.start) for n in got] == [("Memo", "doc1", 0),
                                                              ("Loose", None, None)]


def test_calls_inside_one_transaction_are_all_or_nothing(store: Store) -> None:
    with pytest.raises(ProjectError), store.transaction():
        store.save_codebook(CODEBOOK, "cb.yaml")
        store.add_coders([Coder("ana")])
        store.add_codings([Coding("doc1", 0, 3, "training", "ana"),
                           Coding("missing", 0, 3, "training", "ana")])
    assert store.codebook() is None and store.codings() == []
    assert store.coders() == []


def test_replacing_a_document_with_codings_is_refused(store: Store) -> None:
    store.add_codings([Coding("doc1", 0, 3, "training", "ana")])
    t, segs = make_transcript(sha="b" * 64, n=2)
    with pytest.raises(ProjectError, match="would lose 1 coded spans"):
        store.add_transcripts([(t, segs, "turn")], replace=True)
    assert len(store.codings()) == 1


def test_version_3_database_gains_the_coding_tables(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    with Store.create(path) as s:
        s.conn.executescript(
            "BEGIN; DROP TABLE codings; DROP TABLE coders; DROP TABLE notes;"
            "UPDATE meta SET value = '3' WHERE key = 'schema_version'; COMMIT;")
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 12
        assert s.codings() == [] and s.notes() == [] and s.coders() == []


def test_version_4_database_gains_code_guids(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    with Store.create(path) as s:
        s.conn.executescript(
            "BEGIN; ALTER TABLE codes DROP COLUMN guid;"
            "UPDATE meta SET value = '4' WHERE key = 'schema_version'; COMMIT;")
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 12
        assert "guid" in {r[1] for r in s.conn.execute("PRAGMA table_info(codes)")}


def test_schema_comments_hold_no_semicolon() -> None:
    """Upgrades split schema.sql on ';', so a comment must not contain one."""
    text = (PACKAGE / "store" / "schema.sql").read_text()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("--")]
    assert [line for line in comments if ";" in line] == []


def test_version_10_database_gains_code_memos_and_attributes(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    with Store.create(path) as s:
        t, segs = make_transcript()
        s.add_transcripts([(t, segs, "turn")])
        s.add_notes([Note("Memo", "kept", guid="n1", document="doc1", start=0, end=3)])
        s.conn.executescript(  # schema version 10: notes on spans and sources only
            "BEGIN; ALTER TABLE notes DROP COLUMN dimension; ALTER TABLE notes DROP COLUMN code;"
            "DROP TABLE attributes;"
            "UPDATE meta SET value = '10' WHERE key = 'schema_version'; COMMIT;")
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 12
        assert [(n.guid, n.text, n.start, n.code) for n in s.notes()] == [("n1", "kept", 0,
                                                                          None)]
        assert s.add_notes([Note("On a code", "why", dimension="code", code="training")]) == 1
        assert s.notes()[-1].code == "training" and s.notes()[-1].dimension == "code"
        assert s.set_attributes([("doc1", "role", "coach")])["set"] == 1
        assert s.attributes() == {"doc1": {"role": "coach"}}


def test_attributes_are_set_changed_removed_and_listed_in_first_order(store: Store) -> None:
    assert store.set_attributes([("doc1", "site", "north"), ("doc1", "role", "coach")]) == {
        "set": 2, "unchanged": 0, "removed": 0}
    assert store.set_attributes([("doc1", "role", "manager"), ("doc1", "site", "north"),
                                 ("doc1", "wave", "")]) == {"set": 1, "unchanged": 1,
                                                            "removed": 0}
    assert store.attributes() == {"doc1": {"site": "north", "role": "manager"}}
    assert store.attribute_names() == ["site", "role"]
    assert store.set_attributes([("doc1", "site", None)])["removed"] == 1
    assert store.attributes() == {"doc1": {"role": "manager"}}
    store.remove_document("doc1")
    assert store.attributes() == {}
