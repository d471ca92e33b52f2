"""A model's out-of-fold run is recorded in the registry, and older projects gain it."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.ingest.readers import read_transcript
from isp_nlp.ingest.segment import segment_transcript
from isp_nlp.records import Evidence, Segment, Suggestion
from isp_nlp.store.database import Store
from isp_nlp.store.migrations import SCHEMA_VERSION


def _store(path: Path) -> tuple[Store, list[Segment]]:
    text = path.parent / "d.txt"
    text.write_text("Interviewer: How did it start?\n\nP1: With trust.\n\n"
                    "Interviewer: And then?\n\nP1: Training.\n", encoding="utf-8")
    transcript = read_transcript(text)
    segs = segment_transcript(transcript)
    store = Store.create(path)
    store.add_transcripts([(transcript, segs, "turn")])
    store.register_model("m1", "models/m1", {"model_id": "m1"})
    return store, segs


def _oof(segs: list[Segment], model_id: str = "anything") -> list[Suggestion]:
    ev = (Evidence(segs[2].id, 0.9, "turn 2", ("trust",)),)
    return [Suggestion(s.id, model_id, "code", "trust", 0.7, True, ev) for s in segs[:2]]


def test_out_of_fold_runs_are_kept_apart_from_the_model_suggestions(db_path: Path) -> None:
    store, segs = _store(db_path)
    with store:
        store.replace_suggestions("m1", [Suggestion(segs[2].id, "m1", "code", "trust", 0.2,
                                                    False)])
        assert store.out_of_fold("m1") == []
        assert store.replace_out_of_fold("m1", _oof(segs)) == 2
        oof = store.out_of_fold("m1")
        assert {s.segment_id for s in oof} == {segs[0].id, segs[1].id}
        assert all(s.suggested and s.evidence[0].labels == ("trust",) for s in oof)
        assert [s.segment_id for s in store.suggestions("m1")] == [segs[2].id]
        store.replace_out_of_fold("m1", _oof(segs)[:1])  # replaced, not added
        assert len(store.out_of_fold("m1", with_evidence=False)) == 1
        assert store.out_of_fold("m2") == []


def test_version_5_database_registers_its_cv_runs(tmp_path: Path) -> None:
    path = tmp_path / "project.sqlite"
    store, segs = _store(path)
    with store:
        # as version 5 stored them: under the model id plus "/cv", with no registry entry
        store.replace_suggestions("m1/cv", _oof(segs, "m1/cv"))
        store.conn.executescript(
            "BEGIN; DROP TABLE out_of_fold_runs;"
            "UPDATE meta SET value = '5' WHERE key = 'schema_version'; COMMIT;")
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 12
        assert len(s.out_of_fold("m1")) == 2
        assert s.check() == []
    # the upgrade is idempotent: running it on a database that has the table changes nothing
    with Store.open(path) as s:
        s.conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
        s.conn.commit()
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION and len(s.out_of_fold("m1")) == 2
