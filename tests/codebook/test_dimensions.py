"""Single-choice dimensions a codebook declares: reading, checking, storing, upgrading."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from isp_nlp.codebook.check import (
    check_codebook,
    is_value,
    normalise_value,
    stage_dimension,
)
from isp_nlp.codebook.load import codebook_from_dict, codebook_to_dict, load_codebook
from isp_nlp.coded.match import match_coded_rows
from isp_nlp.coded.read import CodedRow, annotations_to_frame
from isp_nlp.errors import ImportCodesError
from isp_nlp.records import Annotation, Code, Codebook, Segment, Transcript, Turn
from isp_nlp.store.database import Store

PHASE_YAML = """\
name: Phase study
dimensions:
  - id: phase
    name: Phase of the work
    definition: Where in the collaboration the passage sits.
    ordered: true
    pathway: true
    values:
      - {id: early, name: Early, definition: Getting started., examples: [We had just met.]}
      - {id: middle, name: Middle}
      - {id: late, name: Late}
      - {id: unclear, name: Unclear, unordered: true}
  - id: valence
    values: [positive, negative]
codes:
  - {id: trust, name: Trust, definition: Talk about trust.}
  - {id: doubt, name: Doubt}
"""


def _phase_book(tmp_path: Path) -> Codebook:
    path = tmp_path / "phase.yaml"
    path.write_text(PHASE_YAML, encoding="utf-8")
    return load_codebook(path)


def test_a_codebook_declares_its_dimensions(tmp_path: Path) -> None:
    book = _phase_book(tmp_path)
    assert book.dimension_ids == ("phase", "valence")
    phase = book.dimension("phase")
    assert phase is not None and phase.name == "Phase of the work" and phase.ordered
    assert phase.value_ids == ("early", "middle", "late", "unclear")
    assert phase.scale == ("early", "middle", "late")  # 'unclear' stands outside the order
    assert phase.values[0].examples == ("We had just met.",)
    assert all(v.dimension == "phase" for v in phase.values)
    assert book.pathway is phase
    valence = book.dimension("valence")
    assert valence is not None and not valence.ordered and valence.scale == ()
    assert valence.name == "valence" and [v.name for v in valence.values] == ["positive",
                                                                               "negative"]
    assert book.dimension("stage") is None


def test_without_dimensions_the_codebook_keeps_the_stage() -> None:
    book = codebook_from_dict({"codes": [{"id": "a", "name": "A"}]})
    assert book.dimensions == (stage_dimension(),)
    stage = book.dimensions[0]
    assert stage.scale == ("push", "push_pull", "exchange") and stage.unordered == ("none",)
    assert book.pathway is stage


def test_an_empty_dimensions_list_declares_none() -> None:
    book = codebook_from_dict({"codes": [{"id": "a", "name": "A"}], "dimensions": []})
    assert book.dimensions == () and book.pathway is None


def test_dimensions_round_trip_through_dict_and_yaml(tmp_path: Path) -> None:
    book = _phase_book(tmp_path)
    assert codebook_from_dict(codebook_to_dict(book)) == book
    default = codebook_from_dict({"codes": [{"id": "a", "name": "A"}]})
    assert codebook_from_dict(codebook_to_dict(default)) == default


@pytest.mark.parametrize(("dimensions", "expected"), [
    ("phase", "`dimensions:` is a str; expected a list"),
    ([{"id": "phase", "values": ["a"]}], "dimension 'phase' (dimensions[0]) has 1 value; a "
     "single-choice dimension needs a `values:` list of at least two"),
    ([{"id": "phase"}], "has no `values:`"),
    ([{"id": "my phase", "values": ["a", "b"]}], "an id with spaces or punctuation"),
    ([{"id": "code", "values": ["a", "b"]}], "takes the name 'code', which the coded-segments"),
    ([{"id": "p", "values": ["a", "b"]}, {"id": "p", "values": ["a", "b"]}],
     "dimension id 'p' is used twice"),
    ([{"id": "p", "pathway": True, "values": ["a", "b"]}], "is the pathway dimension but not "
     "ordered"),
    ([{"id": "p", "ordered": True, "pathway": True, "values": ["a", "b"]},
      {"id": "q", "ordered": True, "pathway": True, "values": ["a", "b"]}],
     "both say `pathway: true`"),
    ([{"id": "p", "ordered": "yes", "values": ["a", "b"]}], "write ordered: true or ordered: "
     "false"),
    ([{"id": "p", "values": ["a", "a"]}], "lists value 'a' twice"),
    ([{"id": "p", "values": [{"id": "a", "unordered": True}, "b"]}], "says `unordered: true` "
     "but dimension 'p' (dimensions[0]) is not ordered"),
    ([{"id": "p", "ordered": True, "values": [{"id": "a", "unordered": True}, "b"]}],
     "fewer than two of its values are on the order"),
    ([{"id": "p", "scale": 3, "values": ["a", "b"]}], "has unknown key 'scale'"),
])
def test_dimension_problems_are_one_plain_sentence_each(dimensions: object,
                                                         expected: str) -> None:
    problems = check_codebook({"codes": [{"id": "x", "name": "X"}], "dimensions": dimensions})
    assert any(expected in p for p in problems), problems


def test_stage_and_dimensions_together_are_refused() -> None:
    problems = check_codebook({"codes": [{"id": "x", "name": "X"}], "stage": ["push"],
                               "dimensions": []})
    assert any("both `stage:` and `dimensions:`" in p for p in problems)


def test_values_are_read_by_id_or_name_in_any_spelling(tmp_path: Path) -> None:
    phase = _phase_book(tmp_path).dimension("phase")
    assert phase is not None
    assert normalise_value(phase, "Middle") == "middle"
    assert normalise_value(phase, " LATE ") == "late"
    assert normalise_value(phase, "") is None and normalise_value(phase, None) is None
    assert normalise_value(phase, "later") == "later" and not is_value(phase, "later")
    assert normalise_value(stage_dimension(), "Push/Pull") == "push_pull"


def test_the_store_keeps_the_dimensions(tmp_path: Path) -> None:
    book = _phase_book(tmp_path)
    with Store.create(tmp_path / "p.sqlite") as store:
        store.save_codebook(book, "phase.yaml")
        assert store.codebook() == book
        store.save_codebook(codebook_from_dict({"codes": [{"id": "a", "name": "A"}]}), "b")
        assert store.codebook().dimensions == (stage_dimension(),)


def test_a_codebook_dropping_a_used_value_is_refused(tmp_path: Path) -> None:
    book = _phase_book(tmp_path)
    with Store.create(tmp_path / "p.sqlite") as store:
        store.save_codebook(book, "phase.yaml")
        text = "P1: late in the work"
        transcript = Transcript("d", "d.txt", "a" * 64, text, (Turn(0, "P1", 4, len(text)),),
                                "text")
        segment = Segment("s1", "d", 0, 0, "turn", "P1", 4, len(text), text[4:])
        store.add_transcripts([(transcript, [segment], "turn")])
        store.import_annotations([Annotation("s1", "ana", "phase", "late")], source="t")
        smaller = codebook_from_dict({"codes": [{"id": "trust", "name": "Trust"}],
                                      "dimensions": []})
        with pytest.raises(Exception, match="drops codes still used by annotations.*late"):
            store.save_codebook(smaller, "smaller.yaml")
        assert store.codebook() == book  # all or nothing


def _version_6_database(path: Path, with_stage: bool) -> None:
    """A project database as schema version 6 wrote it (no dimensions table)."""
    with Store.create(path) as store:
        book = codebook_from_dict({"codes": [{"id": "a", "name": "A"}]})
        if not with_stage:
            book = Codebook(book.name, book.codes, ())
        store.save_codebook(book, "book.yaml")
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE dimensions")
    conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("with_stage", [True, False])
def test_a_version_6_project_upgrades_in_place(tmp_path: Path, with_stage: bool) -> None:
    path = tmp_path / "p.sqlite"
    _version_6_database(path, with_stage)
    with Store.open(path) as store:
        assert store.schema_version() == 12
        book = store.codebook()
        assert book is not None
        expected = (stage_dimension(book.dimensions[0].values),) if with_stage else ()
        assert book.dimensions == expected
        if with_stage:
            assert book.dimensions[0].value_ids == ("push", "push_pull", "exchange", "none")


def test_a_failed_upgrade_leaves_the_project_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    _version_6_database(path, True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE dimensions (id TEXT)")  # in the way of the upgrade
    conn.commit()
    conn.close()
    with pytest.raises(Exception, match="could not be upgraded from schema version 6"):
        Store.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        "6",)
    conn.close()


SEGMENTS = {"d": [Segment(f"s{i}", "d", i, i, "turn", "A", i * 10, i * 10 + 9, f"text {i}")
                  for i in range(3)]}


def test_csv_rows_become_one_annotation_per_dimension(tmp_path: Path) -> None:
    book = _phase_book(tmp_path)
    rows = [CodedRow(2, "d", "s0", "", "ana", "trust", values=(("phase", "Early"),
                                                               ("valence", "positive"))),
            CodedRow(3, "d", "s0", "", "ana", "doubt", values=(("phase", "early"),)),
            CodedRow(4, "d", "s1", "", "ana", "", values=(("stage", "push"),))]
    anns = match_coded_rows(rows, SEGMENTS, book, source="c.csv")
    assert set(anns) == {
        Annotation("s0", "ana", "code", "trust"), Annotation("s0", "ana", "code", "doubt"),
        Annotation("s0", "ana", "phase", "early"), Annotation("s0", "ana", "valence", "positive"),
        Annotation("s1", "ana", "code", None)}  # 'stage' is no column of this codebook
    frame = annotations_to_frame(anns, {s.id: s for s in SEGMENTS["d"]}, book.dimension_ids)
    assert list(frame.columns)[5:7] == ["phase", "valence"]
    assert frame[["code", "phase", "valence"]].values.tolist() == [
        ["trust", "early", "positive"], ["doubt", "early", "positive"], ["", "", ""]]


def test_a_bad_or_conflicting_value_names_the_line_and_the_dimension(tmp_path: Path) -> None:
    book = _phase_book(tmp_path)
    rows = [CodedRow(2, "d", "s0", "", "ana", "trust", values=(("phase", "later"),)),
            CodedRow(3, "d", "s1", "", "ana", "trust", values=(("phase", "early"),)),
            CodedRow(4, "d", "s1", "", "ana", "doubt", values=(("phase", "late"),))]
    with pytest.raises(ImportCodesError) as info:
        match_coded_rows(rows, SEGMENTS, book, source="c.csv")
    problems = info.value.problems
    assert problems[0] == ("line 2: invalid phase 'later'; use one of early, middle, late, "
                           "unclear or leave it empty")
    assert "line 4: coder 'ana' gives segment s1 conflicting phase values 'early' (line 3), " \
           "'late' (line 4)" in problems[1]


def test_the_demo_codebook_file_still_loads_with_its_stage() -> None:
    demo = Path(__file__).resolve().parents[2] / "corpora"
    books = sorted(demo.glob("*/codebook.yaml"))
    assert books, "the demo corpus ships a codebook"
    book = load_codebook(books[0])
    assert book.pathway is not None and book.pathway.id == "stage"
    assert json.dumps(codebook_to_dict(book))  # JSON-ready


def test_codes_and_values_may_share_an_id(tmp_path: Path) -> None:
    data = {"codes": [{"id": "early", "name": "Early as a code"}],
            "dimensions": [{"id": "phase", "values": ["early", "late"]}]}
    assert check_codebook(data) == []
    book = codebook_from_dict(data)
    with Store.create(tmp_path / "p.sqlite") as store:
        store.save_codebook(book, "b")
        assert store.codebook() == book
    assert book.codes[0] == Code("early", "Early as a code")


def test_a_scheme_of_dimensions_alone_needs_no_codes() -> None:
    data = {"dimensions": [{"id": "behaviour", "values": ["question", "reflection"]}]}
    assert check_codebook(data) == []
    book = codebook_from_dict(data)
    assert book.codes == () and book.dimension_ids == ("behaviour",)
    assert codebook_from_dict(codebook_to_dict(book)) == book
    assert check_codebook({"codes": []})[0].startswith("the `codes:` list is empty")
    assert check_codebook({"dimensions": []})[0].startswith("there is no `codes:` list")


def test_a_code_may_not_take_a_dimensions_id() -> None:
    problems = check_codebook({"codes": [{"id": "phase", "name": "Phase talk"}],
                               "dimensions": [{"id": "phase", "values": ["a", "b"]}]})
    assert problems == ["code 'phase' (codes[0]) has the id of a dimension; tables and CSV "
                        "columns name both, so rename one of them"]
