"""Pseudonymisation: names.csv, the plan, offset maps, the one-transaction project rewrite,
the key file and the `pseudonymise` command."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.embed import text_key
from isp_nlp.errors import InputFileError, IspNlpError, ModelError, ProjectError
from isp_nlp.interchange.name_detect import detect_person_names, load_pipeline
from isp_nlp.interchange.pseudonym_key import key_path_allowed, write_key
from isp_nlp.interchange.pseudonymise import pseudonymise_project, pseudonymised_documents
from isp_nlp.interchange.pseudonyms import (
    NameEntry,
    apply_plan,
    is_generic_speaker,
    map_span,
    plan_pseudonyms,
    read_names,
    replace_names,
)
from isp_nlp.project import ingest_files
from isp_nlp.records import Annotation, Coding, Decision, Evidence, Note, Suggestion, segment_id
from isp_nlp.review.items import ItemDetails, build_review_items
from isp_nlp.review.queue import pending
from isp_nlp.review.session import snapshot
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import init_project, open_project
from isp_nlp.store.rewrite import SEGMENT_ID_COLUMNS

REAL = ("Jane Doe", "Jane", "Zoë", "Šárka", "José", "Acme", "Tom Baker", "Baker")


def _names(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "names.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _plan(*names: str, speakers: tuple[str, ...] = ()):
    return plan_pseudonyms([NameEntry(n, kind="participant", line=i + 2)
                            for i, n in enumerate(names)], speakers)


# -- names.csv and the plan ------------------------------------------------------------
def test_names_csv_is_read_with_optional_columns(tmp_path: Path) -> None:
    path = _names(tmp_path, "\ufeffName,Pseudonym,Kind\nJane  Doe,,participant\n"
                            "Acme,,organisation\n,,\nTom,'=X,\n")
    entries = read_names(path)
    assert [(e.name, e.pseudonym, e.kind, e.line) for e in entries] == [
        ("Jane Doe", "", "participant", 2), ("Acme", "", "organisation", 3), ("Tom", "=X", "", 5)]


@pytest.mark.parametrize(("text", "message"), [
    ("name\nJane\njane\n", "line 3 repeats the name on line 2"),
    ("name,pseudonym\nJane,P01\n ,P02\n", "line 3 has an empty name"),
    ("name,pseudonym\nJane,P01\nTom,p01\n", "line 3 gives the pseudonym 'p01' of another"),
    ("name,kind\nJane,friend\n", "line 2 has kind 'friend'"),
    ("who,pseudonym\nJane,P1\n", "line 1 has no 'name' column"),
])
def test_names_csv_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputFileError) as err:
        plan_pseudonyms(read_names(_names(tmp_path, text)))
    assert message in str(err.value)
    assert "\n" not in str(err.value) and "Tom" not in str(err.value)


def test_aliases_of_one_person_share_a_pseudonym(tmp_path: Path) -> None:
    plan = plan_pseudonyms(read_names(_names(
        tmp_path, "name,pseudonym,person\nJane Doe,P07,\nJane,P07,\nDr Smith,,s\nBob,,s\n")))
    assert {r.name: r.pseudonym for r in plan.replacements} == {
        "Jane Doe": "P07", "Jane": "P07", "Dr Smith": "[Person 1]", "Bob": "[Person 1]"}


def test_pseudonyms_are_generated_by_role_and_first_appearance() -> None:
    entries = [NameEntry("Acme", kind="organisation"), NameEntry("Tom Baker", kind="colleague"),
               NameEntry("Paris", kind="place"), NameEntry("Ann", pseudonym="P01"),
               NameEntry("Kim"), NameEntry("Lee", kind="participant")]
    plan = plan_pseudonyms(entries, ["Interviewer", "Zoë", "Speaker 2", "Ann", "Jo", "Zoë"])
    got = {r.name: r.pseudonym for r in plan.replacements}
    assert got == {"Zoë": "P02", "Ann": "P01", "Jo": "P03", "Acme": "[Organisation 1]",
                   "Tom Baker": "[Colleague 1]", "Paris": "[Place 1]", "Kim": "[Person 1]",
                   "Lee": "P04"}


@pytest.mark.parametrize("label", ["Interviewer", "interviewer 2", "Speaker 3", "I", "R", "Q",
                                   "A", "P07", "Moderator", "Facilitator", "[Colleague 1]"])
def test_generic_speaker_roles_are_kept(label: str) -> None:
    assert is_generic_speaker(label)
    assert not is_generic_speaker("Jane Doe")


def test_a_previous_key_keeps_pseudonyms_and_names() -> None:
    previous = [{"name": "Jane Doe", "pseudonym": "P01", "kind": "participant", "count": "4"},
                {"name": "Acme", "pseudonym": "[Organisation 1]", "kind": "organisation"}]
    plan = plan_pseudonyms([NameEntry("Bob", kind="organisation")], ["Sam", "P01"],
                           previous=previous)
    assert {r.name: r.pseudonym for r in plan.replacements} == {
        "Jane Doe": "P01", "Acme": "[Organisation 1]", "Sam": "P02", "Bob": "[Organisation 2]"}
    with pytest.raises(InputFileError, match="the key gives to another person"):
        plan_pseudonyms([NameEntry("Bob", pseudonym="P01", line=2)], previous=previous)


# -- matching -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("Jane Doe met Jane.", "P01 met P02."),
    ("JANE DOE and jane", "P01 and P02"),
    ("Jane's and Jane’s idea", "P02's and P02’s idea"),
    ("Jane\nDoe said", "P01 said"),
    ("Anna, Annabel, Joanna and Anna-Lena", "P03, Annabel, Joanna and P03-Lena"),
    ("Zoë, ZOË, Šárka, šárka and José.", "P04, P04, P05, P05 and P06."),
    ("Zoe\u0308 in NFD, Zoey and Zoe", "P04 in NFD, Zoey and P04"),  # Zoë = Zoe
    ("Josély is not José", "Josély is not P06"),
])
def test_whole_words_longest_first_unicode(text: str, expected: str) -> None:
    plan = plan_pseudonyms([NameEntry(n, pseudonym=p) for n, p in [
        ("Jane Doe", "P01"), ("Jane", "P02"), ("Anna", "P03"), ("Zoë", "P04"),
        ("Šárka", "P05"), ("José", "P06")]])
    assert replace_names(plan, text) == expected


def test_offsets_map_through_the_edits() -> None:
    plan = _plan("Jane Doe", "Bob")
    old = "Hi Jane Doe, said Bob to Jane Doe's friend."
    new, edits = apply_plan(plan, old)
    assert new == "Hi P01, said P02 to P01's friend."
    assert [(e.old_start, e.old_end, e.new_start, e.new_end) for e in edits] == [
        (3, 11, 3, 6), (18, 21, 13, 16), (25, 33, 20, 23)]
    for start, end in [(0, 2), (3, 11), (0, len(old)), (13, 21), (25, 35), (34, 42)]:
        a, b = map_span(edits, start, end)
        assert new[a:b] == replace_names(plan, old[start:end]), (start, end)
    assert map_span(edits, 5, 9) == (3, 6)  # a span cutting a name covers its pseudonym
    assert map_span(edits, 3, 3) == (3, 3)


# -- the key file -------------------------------------------------------------------------
def test_key_is_written_atomically_0600_and_only_outside_the_project(tmp_path: Path) -> None:
    key = tmp_path / "safe" / "key.csv"
    write_key(key, [{"name": "=Jane", "pseudonym": "P01", "kind": "", "count": "2"}])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text(encoding="utf-8") == "name,pseudonym,kind,count\n'=Jane,P01,,2\n"
    assert [p.name for p in key.parent.iterdir()] == ["key.csv"]
    project = tmp_path / "proj"
    assert not key_path_allowed(project / "key.csv", project)
    assert not key_path_allowed(project / "sub" / ".." / "models" / "k.csv", project)
    assert key_path_allowed(tmp_path / "proj-keys" / "k.csv", project)


# -- the project rewrite ------------------------------------------------------------------
TRANSCRIPT = """Jane Doe: Hello, I'm Jane. I work with Tom Baker and Annabel at Acme.
Interviewer: Thanks Jane. Did Zoë help?
Jane Doe: Yes, Zoë and Šárka did. José's team too.
Interviewer: And Baker?
Jane Doe: Baker said Jane's plan was fine.
Interviewer: Thank you.
"""
NAMES = ("name,pseudonym,kind\nTom Baker,[Colleague 1],colleague\nBaker,[Colleague 1],\n"
         "Acme,,organisation\nZoë,,\nŠárka,,\nJosé,,\nJane,P01,\n")


def _words(text: str) -> set[str]:
    return {w.casefold() for w in re.findall(r"\w+", text)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "proj"
    init_project(directory, embedder="hashing-256")
    (tmp_path / "interview_07.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (tmp_path / "other.txt").write_text("Interviewer: Nothing here.\nSpeaker 2: Fine.\n",
                                        encoding="utf-8")
    with open_project(directory) as store:
        ingest_files(store, [tmp_path / "interview_07.txt", tmp_path / "other.txt"])
        _code(store)
    return directory


def _code(store: Store) -> None:
    """Codings, annotations of two coders, notes, suggestions, a decision and embeddings."""
    text = store.transcript_texts()["interview_07"]
    segs = store.segments(document="interview_07")
    spans = [(m.start(), m.end()) for m in re.finditer(r"Tom Baker and Annabel|Zoë and Šárka"
                                                        r" did|Baker said Jane's plan|Hello", text)]
    spans += [(segs[0].start, segs[0].end), (0, len(text))]
    store.add_codings([Coding("interview_07", a, b, "c1", "alice", guid=f"g{i}")
                       for i, (a, b) in enumerate(spans)]
                      + [Coding("interview_07", a, b, "c2", "bob") for a, b in spans[:2]])
    store.import_annotations(
        [Annotation(s.id, coder, "code", "c1") for s in segs for coder in ("alice", "bob")],
        source="test")
    store.add_notes([Note("About Jane", "Jane Doe was tired", guid="n1", coder="alice",
                          document="interview_07", start=spans[2][0], end=spans[2][1]),
                     Note("General", "no names", guid="n2")])
    store.register_model("m1", "models/m1", {"code_threshold": 0.5})
    evidence = (Evidence(segs[2].id, 0.9, segs[2].text, ("c1",)),)
    store.replace_suggestions("m1", [
        Suggestion(s.id, "m1", "code", "c1", 0.7, True, evidence) for s in segs])
    items = ItemDetails(store).fill(build_review_items(store, "carol"))  # evidence as shown
    for item in (items[4], items[5]):  # a segment with names, one without (it moves)
        DecisionLog(store).record(Decision(
            coder="carol", item_key=item.key, segment_id=item.segment.id, action="accept",
            codes=("c1",), model_id="m1", suggestion=snapshot(item)))
    cache = store.embedding_cache()
    cache.put_many("hashing-256", {text_key(s.text): np.ones(4, dtype=np.float32)
                                   for s in store.segments()})


def _dump(directory: Path) -> str:
    conn = sqlite3.connect(directory / "project.sqlite")
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_schema_segment_id_columns_are_all_handled(tmp_path: Path) -> None:
    with Store.create(tmp_path / "p.sqlite") as store:
        tables = [r[0] for r in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {("segments", "id")}
        for table in tables:
            for col in store.conn.execute(f"PRAGMA table_info({table})"):
                if col[1].endswith("segment_id") or col[1] == "exemplar_id":
                    found.add((table, col[1]))
            for fk in store.conn.execute(f"PRAGMA foreign_key_list({table})"):
                if fk[2] == "segments":
                    found.add((table, fk[3]))
    assert found == set(SEGMENT_ID_COLUMNS)


def test_project_rewrite_keeps_every_reference(project: Path, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "key.csv"
    with open_project(project) as store:
        old_text = store.transcript_texts()["interview_07"]
        old_codings = {c.guid or (c.coder, c.start): c for c in store.codings()}
        old_segments = store.segments()
        old_annotations = store.annotations()
        old_note = store.notes()[0]
        report = pseudonymise_project(store, project, _names(tmp_path, NAMES), key)
        plan_text = store.transcript_texts()["interview_07"]
    assert plan_text.startswith("P02: Hello, I'm P01. I work with [Colleague 1] and Annabel at "
                                "[Organisation 1].\n\nInterviewer: Thanks P01. Did [Person 1]")
    assert "[Colleague 1] said P01's plan" in plan_text
    doc = report.documents[0]
    assert (doc.label, doc.replacements) == ("interview_07", 14)
    assert doc.by_pseudonym == {"P01": 3, "P02": 3, "[Colleague 1]": 3, "[Organisation 1]": 1,
                                "[Person 1]": 2, "[Person 2]": 1, "[Person 3]": 1}
    assert report.documents[1].replacements == 0
    rows = {r["name"]: r for r in report.key}
    with open_project(project) as store:
        def replace(s: str) -> str:
            for name in sorted(rows, key=len, reverse=True):
                s = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", rows[name]["pseudonym"], s,
                           flags=re.IGNORECASE)
            return s
        assert replace(old_text) == plan_text
        # every coding covers the same words
        new_codings = {c.guid or (c.coder, c.start): c for c in store.codings()}
        assert len(new_codings) == len(old_codings) == 8
        by_guid = {c.guid: c for c in store.codings() if c.guid}
        for guid, c in by_guid.items():
            o = old_codings[guid]
            assert plan_text[c.start:c.end] == replace(old_text[o.start:o.end]), guid
        # segments: offsets, text, speaker, ids
        new_segments = store.segments()
        assert len(new_segments) == len(old_segments)
        for old, new in zip(old_segments, new_segments, strict=True):
            assert new.text == store.transcript_texts()[new.document][new.start:new.end]
            assert new.text == replace(old.text)
            assert new.id == segment_id(new.document, new.start, new.end)
            assert new.speaker == (replace(old.speaker) if old.speaker else None)
        assert [s.speaker for s in new_segments[:2]] == ["P02", "Interviewer"]
        assert sum(o.id != n.id for o, n in zip(old_segments, new_segments, strict=True)) == 6
        ids = {o.id: n.id for o, n in zip(old_segments, new_segments, strict=True)}
        assert sorted((ids[a.segment_id], a.coder, a.label) for a in old_annotations) == sorted(
            (a.segment_id, a.coder, a.label) for a in store.annotations())
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        note = store.notes()[0]
        assert (note.title, note.text) == ("About P01", "P02 was tired")
        assert plan_text[note.start:note.end] == replace(old_text[old_note.start:old_note.end])
        sugg = store.suggestions("m1")
        assert {s.segment_id for s in sugg} == {s.id for s in new_segments
                                                 if s.document == "interview_07"}
        assert sugg[0].evidence[0].segment_id == new_segments[2].id
        assert sugg[0].evidence[0].text == new_segments[2].text
        # the decision follows its segment and its review item is still decided
        entries = DecisionLog(store).entries("carol")
        assert [e["segment_id"] for e in entries] == [new_segments[4].id, new_segments[5].id]
        assert new_segments[5].text == old_segments[5].text != old_segments[4].text
        entry = entries[0]
        assert entry["detail"]["suggestion"]["evidence"][0]["segment_id"] == new_segments[2].id
        decided = DecisionLog(store).decided("carol")
        items = build_review_items(store, "carol", decided)
        assert len(items) == 6
        left = pending(items, decided)
        assert {new_segments[4].id, new_segments[5].id}.isdisjoint(i.segment.id for i in left)
        assert len(left) == len(items) - 2
        # embeddings of texts that held names are gone, the others stay
        keys = {r[0] for r in store.conn.execute("SELECT text_sha256 FROM embeddings")}
        assert keys == {text_key(o.text) for o in old_segments if o.text == replace(o.text)}
        assert pseudonymised_documents(store) == ["interview_07", "other"]
        assert store.get_setting("pseudonymised_at")
    assert report.stale_models
    assert report.changed == {"documents": 1, "segments": 6, "codings": 8, "merged_codings": 0,
                              "notes": 1, "embeddings_deleted": 5, "log_rekeyed": 2}
    dump = _dump(project)
    for name in REAL:
        assert not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", dump, re.IGNORECASE), name
    assert "Annabel" in dump
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text(encoding="utf-8").splitlines()[:3] == [
        "name,pseudonym,kind,count", "Jane,P01,,3", "Jane Doe,P02,speaker,3"]


def test_second_run_changes_nothing_and_a_new_wave_keeps_pseudonyms(
        project: Path, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "key.csv"
    names = _names(tmp_path, NAMES)
    with open_project(project) as store:
        pseudonymise_project(store, project, names, key)
    dump, key_text = _dump(project), key.read_bytes()
    with open_project(project) as store:
        again = pseudonymise_project(store, project, names, key)
    assert sum(d.replacements for d in again.documents) == 0
    assert not any(again.changed.values())
    assert _dump(project) == dump and key.read_bytes() == key_text
    (tmp_path / "wave2.txt").write_text(
        "Sam: I met Jane Doe and Zoë.\nInterviewer: Sam, go on.\nSam: No.\n", encoding="utf-8")
    with open_project(project) as store:
        ingest_files(store, [tmp_path / "wave2.txt"])
        assert "wave2" not in pseudonymised_documents(store)
        third = pseudonymise_project(store, project, names, key)
        assert store.transcript_texts()["wave2"].startswith(
            "P03: I met P02 and [Person 1].\n\nInterviewer: P03, go on.")
        assert pseudonymised_documents(store) == ["interview_07", "other", "wave2"]
    assert third.documents[2].by_pseudonym == {"P02": 1, "P03": 3, "[Person 1]": 1}
    assert "Jane Doe,P02,speaker,4" in key.read_text(encoding="utf-8")


def test_the_key_alone_pseudonymises_a_new_wave_and_replaced_documents_drop_out(
        project: Path, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "key.csv"
    with open_project(project) as store:
        with pytest.raises(ProjectError, match="holds no key yet"):
            pseudonymise_project(store, project, None, key)
        pseudonymise_project(store, project, _names(tmp_path, NAMES), key)
    (tmp_path / "wave2.txt").write_text("Interviewer: Was Šárka there?\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("Interviewer: Changed.\n", encoding="utf-8")
    with open_project(project) as store:
        ingest_files(store, [tmp_path / "wave2.txt"])
        ingest_files(store, [tmp_path / "other.txt"], replace=True)
        assert pseudonymised_documents(store) == ["interview_07"]
        pseudonymise_project(store, project, None, key)
        assert store.transcript_texts()["wave2"] == "Interviewer: Was [Person 2] there?"
        assert pseudonymised_documents(store) == ["interview_07", "other", "wave2"]


def test_speaker_names_keep_their_case_and_pseudonyms_must_not_hold_names(
        tmp_path: Path) -> None:
    plan = plan_pseudonyms([NameEntry("Kim")], ["Mum", "Interviewer"])
    assert replace_names(plan, "Mum: my mum and KIM. Mum said") == "P01: my mum and [Person 1]. " \
        "P01 said"
    with pytest.raises(InputFileError, match="pseudonym of names file line 2 contains the name "
                       "of names file line 3") as err:  # lines, never the names
        plan_pseudonyms([NameEntry("Jane", "Anna", line=2), NameEntry("Anna", "Beth", line=3)])
    assert "Anna" not in str(err.value)
    with pytest.raises(InputFileError, match="contains the name of"):
        plan_pseudonyms([NameEntry("Person")])


def test_refusals_leave_the_project_as_it_was(project: Path, tmp_path: Path) -> None:
    names = _names(tmp_path, NAMES)
    dump = _dump(project)
    with open_project(project) as store:
        with pytest.raises(ProjectError, match="inside the project folder"):
            pseudonymise_project(store, project, names, project / "key.csv")
        blocked = tmp_path / "a-file"
        blocked.write_text("not a folder", encoding="utf-8")
        with pytest.raises(OSError):  # the key cannot be written: nothing is committed
            pseudonymise_project(store, project, names, blocked / "key.csv")
    assert _dump(project) == dump
    assert not (project / "key.csv").exists()


def test_emoji_and_codings_that_now_coincide(tmp_path: Path) -> None:
    directory = tmp_path / "proj"
    init_project(directory, embedder="hashing-256")
    (tmp_path / "e.txt").write_text(
        "Interviewer: 👋🏽 Hi Ruth Ann Lee!\nInterviewer: Bye 😀 Ruth.\n", encoding="utf-8")
    with open_project(directory) as store:
        ingest_files(store, [tmp_path / "e.txt"])
        text = store.transcript_texts()["e"]
        a = text.index("Ruth Ann Lee")
        store.add_codings([Coding("e", a, a + 12, "c", "x"), Coding("e", a, a + 8, "c", "x"),
                           Coding("e", text.index("Bye"), len(text), "c", "x")])
        report = pseudonymise_project(store, directory, _names(
            tmp_path, "name,pseudonym,person\nRuth Ann Lee,P09,r\nRuth,,r\n"), tmp_path / "k.csv")
        new = store.transcript_texts()["e"]
        assert new == "Interviewer: 👋🏽 Hi P09!\n\nInterviewer: Bye 😀 P09."
        assert [new[c.start:c.end] for c in store.codings()] == ["P09", "Bye 😀 P09."]
    assert report.changed["merged_codings"] == 1
    assert not report.stale_models


def test_embeddings_of_turns_used_as_context_go_too(tmp_path: Path) -> None:
    directory = tmp_path / "proj"
    init_project(directory, embedder="hashing-256")
    (tmp_path / "c.txt").write_text(
        "Interviewer: One.\n\nMore about Ruth.\nInterviewer: Two.\n\nThree.\n",
        encoding="utf-8")
    with open_project(directory) as store:
        ingest_files(store, [tmp_path / "c.txt"], unit="paragraph")
        assert [s.text for s in store.segments()] == ["One.", "More about Ruth.", "Two.",
                                                      "Three."]
        texts = ["One.", "More about Ruth.", "One. More about Ruth.", "Two. Three.", "Two."]
        store.embedding_cache().put_many("m", {text_key(t): np.ones(2, np.float32)
                                               for t in texts})
        report = pseudonymise_project(store, directory, _names(tmp_path, "name\nRuth\n"),
                                      tmp_path / "k.csv")
        kept = {r[0] for r in store.conn.execute("SELECT text_sha256 FROM embeddings")}
    assert kept == {text_key(t) for t in ("One.", "Two. Three.", "Two.")}
    assert report.changed["embeddings_deleted"] == 2


def test_document_names_holding_a_name_are_hidden(tmp_path: Path) -> None:
    directory = tmp_path / "proj"
    init_project(directory, embedder="hashing-256")
    (tmp_path / "jane_doe-2024.txt").write_text("Interviewer: Hi Jane.\n", encoding="utf-8")
    with open_project(directory) as store:
        ingest_files(store, [tmp_path / "jane_doe-2024.txt"])
        report = pseudonymise_project(store, directory, _names(tmp_path, "name\nJane\n"),
                                      tmp_path / "k.csv")
    assert report.named_documents == 1
    assert report.documents[0].label == "document 1 (its name holds a listed name)"


# -- detection ----------------------------------------------------------------------------
def test_detected_person_names_with_a_spacy_pipeline() -> None:
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": [{"LOWER": "ruth"}]},
                        {"label": "PERSON", "pattern": [{"LOWER": "tom"}, {"LOWER": "baker"}]},
                        {"label": "ORG", "pattern": "Acme"}])
    found = detect_person_names(["Ruth met Tom Baker at Acme.", "ruth again. Ruth."], nlp)
    assert found == [("Ruth", 3), ("Tom Baker", 1)]


def test_detect_names_without_the_pipeline_is_one_line() -> None:
    pytest.importorskip("spacy")
    with pytest.raises(ModelError) as err:
        load_pipeline("isp_nlp_no_such_pipeline")
    message = str(err.value)
    assert "isp_nlp_no_such_pipeline" in message and "spacy download" in message
    assert "github.com/explosion/spacy-models" in message and "\n" not in message
    assert isinstance(err.value, IspNlpError)


# -- the command ----------------------------------------------------------------------------
def test_cli_prints_no_real_names_unless_asked(project: Path, tmp_path: Path) -> None:
    names = _names(tmp_path, NAMES)
    key = tmp_path / "keys" / "key.csv"
    runner = CliRunner()
    args = ["--project", str(project), "pseudonymise", "--names", str(names), "--key", str(key)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "    14  interview_07: P01 3, P02 3, [Colleague 1] 3" in result.output
    assert "14 replacements of 7 people in 1 changed documents" in result.output
    assert not _words(result.output) & _words(" ".join(REAL))
    shown = runner.invoke(cli, [*args, "--show-key", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert {"name": "Jane Doe", "pseudonym": "P02", "kind": "speaker", "count": "3"} in \
        data["key_rows"]
    assert data["changed"]["documents"] == 0
    inside = runner.invoke(cli, [*args[:-1], str(project / "k.csv")])
    assert inside.exit_code == 2
    assert inside.output.count("\n") == 1 and "inside the project folder" in inside.output
    detect = runner.invoke(cli, [*args, "--detect-names"])
    assert detect.exit_code == 2 and "en_core_web_sm" in detect.output
