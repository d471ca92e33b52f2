"""Codes marked ``exclusive: true``: parsing, checking and the warning for too few children."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from isp_nlp.codebook.check import check_codebook
from isp_nlp.codebook.load import (
    codebook_from_dict,
    codebook_to_dict,
    codebook_warnings,
    load_codebook,
)
from isp_nlp.errors import CodebookError
from isp_nlp.project import exclusive_text, read_codebook_file

QUESTIONS = """\
name: MI behaviours
dimensions: []
codes:
  - id: question
    name: Question
    exclusive: true
  - {id: open_question, name: Open question, parent: question}
  - {id: closed_question, name: Closed question, parent: question}
  - {id: reflection, name: Reflection}
  - {id: simple, name: Simple reflection, parent: reflection}
  - {id: complex, name: Complex reflection, parent: reflection}
"""


def test_exclusive_parent_makes_its_children_a_group(tmp_path: Path) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text(QUESTIONS, encoding="utf-8")
    cb = load_codebook(path)
    flags = {c.id: c.exclusive for c in cb.codes}
    assert flags == {"question": True, "open_question": False, "closed_question": False,
                     "reflection": False, "simple": False, "complex": False}
    assert cb.exclusive_groups == (("open_question", "closed_question"),)
    assert cb.conflicts(["closed_question", "simple", "open_question"]) == [
        ("closed_question", "open_question")]
    assert codebook_warnings(cb) == []
    assert exclusive_text(cb) == "exclusive: question (open_question | closed_question)"


def test_to_dict_round_trips_the_flag() -> None:
    cb = codebook_from_dict(yaml.safe_load(QUESTIONS))
    again = codebook_from_dict(codebook_to_dict(cb))
    assert again == cb
    assert codebook_to_dict(cb)["codes"][0]["exclusive"] is True
    assert "exclusive" not in codebook_to_dict(cb)["codes"][1]  # false stays implicit


def test_exclusive_must_be_true_or_false() -> None:
    data = yaml.safe_load(QUESTIONS.replace("exclusive: true", "exclusive: yes please"))
    problems = check_codebook(data)
    assert problems == ["code 'question' (codes[0]) has exclusive 'yes please'; write "
                        "exclusive: true or exclusive: false"]
    with pytest.raises(CodebookError, match="exclusive: true or exclusive: false"):
        codebook_from_dict(data)


def test_a_dimension_value_cannot_be_exclusive() -> None:
    data = {"dimensions": [{"id": "talk", "values": [
        {"id": "change", "exclusive": True}, {"id": "sustain"}]}]}
    problems = check_codebook(data)
    assert len(problems) == 1
    assert "value 'change' of dimension 'talk'" in problems[0]
    assert "already single-choice" in problems[0] and "remove it" in problems[0]


@pytest.mark.parametrize(("children", "has"), [
    ("", "no children"),
    ("  - {id: open_question, name: Open, parent: question}\n", "only one child"),
])
def test_too_few_children_is_a_warning_not_an_error(tmp_path: Path, children: str,
                                                    has: str) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text("codes:\n  - {id: question, name: Question, exclusive: true}\n"
                    + children, encoding="utf-8")
    loaded = read_codebook_file(path)  # loads: the mark constrains nothing yet
    assert loaded.codebook.exclusive_groups == ()
    assert len(loaded.warnings) == 1
    warning = loaded.warnings[0]
    assert warning.startswith("cb.yaml: code 'question' says `exclusive: true`")
    assert has in warning and "excludes nothing" in warning


def test_stage_entries_do_not_take_exclusive() -> None:
    data = {"codes": [{"id": "a", "name": "A"}],
            "stage": [{"id": s, "exclusive": True} if s == "push" else s
                      for s in ("push", "push_pull", "exchange", "none")]}
    assert any("unknown key 'exclusive'" in p for p in check_codebook(data))
