"""Codebook loading, checking, hierarchy helpers and stage normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from isp_nlp.codebook.check import (
    DEFAULT_STAGES,
    check_codebook,
    is_value,
    normalise_value,
    stage_dimension,
)
from isp_nlp.codebook.load import (
    ancestors,
    children,
    codebook_from_dict,
    codebook_to_dict,
    leaf_codes,
    load_codebook,
    resolve_code,
    trainable_codes,
)
from isp_nlp.errors import CodebookError, InputFileError
from isp_nlp.records import STAGE_DIMENSION, STAGES, Code, Codebook

GOOD_YAML = """\
name: ISP demo codebook
codes:
  - id: strategies
    name: Implementation support strategies
    definition: Ways the hub supports implementation.
  - id: didactic_training
    name: Didactic training
    parent: strategies
    include: Workshops, webinars.
    examples: One-off webinar on the new guideline.
  - id: coaching
    name: Coaching
    parent: strategies
    examples: ["Monthly calls with a coach", "Practice facilitation"]
  - id: peer_calls
    name: Peer calls
    parent: coaching
  - id: barriers
    name: Barriers
"""


def write(tmp_path: Path, text: str, name: str = "codebook.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def codes(*entries: dict) -> dict:
    return {"codes": list(entries)}


@pytest.fixture
def book(tmp_path: Path) -> Codebook:
    return load_codebook(write(tmp_path, GOOD_YAML))


# --------------------------------------------------------------------------- loading


def test_load_good_codebook(book: Codebook) -> None:
    assert book.name == "ISP demo codebook"
    assert book.code_ids == (
        "strategies",
        "didactic_training",
        "coaching",
        "peer_calls",
        "barriers",
    )
    training = book.codes[1]
    assert training.parent == "strategies"
    assert training.include == "Workshops, webinars."
    assert training.examples == ("One-off webinar on the new guideline.",)  # single string
    assert book.codes[2].examples == ("Monthly calls with a coach", "Practice facilitation")
    stages = book.dimension(STAGE_DIMENSION).values
    assert stages == DEFAULT_STAGES
    assert tuple(s.id for s in stages) == STAGES
    assert all(s.dimension == STAGE_DIMENSION and s.definition for s in stages)


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "codes:\n  - {id: a, name: A}\n", "my_codes.yml")
    assert load_codebook(path).name == "my_codes"


def test_custom_stages_any_order_fill_defaults(tmp_path: Path) -> None:
    text = GOOD_YAML + (
        "stage:\n"
        "  - id: none\n"
        "  - {id: exchange, name: Two-way exchange, definition: Mutual learning.}\n"
        "  - push\n"
        "  - {id: push_pull, name: Push and pull}\n"
    )
    book = load_codebook(write(tmp_path, text))
    stages = book.dimension(STAGE_DIMENSION).values
    assert tuple(s.id for s in stages) == STAGES  # canonical order whatever the file order
    by_id = {s.id: s for s in stages}
    assert by_id["exchange"].name == "Two-way exchange"
    assert by_id["exchange"].definition == "Mutual learning."
    assert by_id["push_pull"].name == "Push and pull"
    assert by_id["push_pull"].definition == DEFAULT_STAGES[1].definition
    assert by_id["none"] == DEFAULT_STAGES[3]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"nope\.yaml' does not exist"):
        load_codebook(tmp_path / "nope.yaml")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="is a folder"):
        load_codebook(tmp_path)


@pytest.mark.parametrize("text", ["", "   \n\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputFileError, match=r"codebook\.yaml is empty"):
        load_codebook(write(tmp_path, text))


def test_comments_only_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="only comments"):
        load_codebook(write(tmp_path, "# nothing yet\n"))


def test_not_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "codebook.yaml"
    path.write_bytes("codes:\n  - id: a\n    name: Caf\u00e9\n".encode("cp1252"))
    with pytest.raises(InputFileError, match=r"codebook\.yaml line 3 is not valid UTF-8.*UTF-8"):
        load_codebook(path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "codebook.yaml"
    path.write_bytes("codes:\n  - {id: a, name: Café}\n".encode("utf-8-sig"))
    assert load_codebook(path).codes[0].name == "Café"


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    text = "codes:\n  - id: a\n    name: A\n   parent: b\n"
    with pytest.raises(InputFileError) as err:
        load_codebook(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith("codebook.yaml line 4 is not valid YAML")
    assert "\n" not in message


def test_tab_indentation_gets_hint(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"line 2 .*indent with spaces"):
        load_codebook(write(tmp_path, "codes:\n\t- id: a\n"))


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = "codes:\n  - id: a\n    name: A\n    name: B\n"
    with pytest.raises(InputFileError, match=r"line 4 .*'name' appears twice \(first on line 3\)"):
        load_codebook(write(tmp_path, text))


def test_structural_problems_raise_one_summarising_error(tmp_path: Path) -> None:
    text = (
        "codes:\n"
        "  - {id: a, name: A, parent: b}\n"
        "  - {id: b, name: B, parent: a}\n"
        "  - {id: x, name: X, parent: y}\n"
    )
    with pytest.raises(CodebookError) as err:
        load_codebook(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith("codebook.yaml has 2 problems: ")
    assert "code 'x' (codes[2] at line 4) has unknown parent 'y'" in message
    assert "cycle a → b → a" in message
    assert "\n" not in message


# --------------------------------------------------------------------------- checking


def test_valid_data_has_no_problems() -> None:
    assert check_codebook(yaml.safe_load(GOOD_YAML)) == []


def test_duplicate_ids_name_id_and_both_positions() -> None:
    problems = check_codebook(
        codes({"id": "a", "name": "A"}, {"id": "b", "name": "B"}, {"id": "a", "name": "Again"})
    )
    assert problems == [
        "code id 'a' is used twice (codes[0] and codes[2]); give each code a unique id"
    ]


def test_unknown_parent_with_hint() -> None:
    problems = check_codebook(
        codes(
            {"id": "coaching", "name": "C"}, {"id": "calls", "name": "Calls", "parent": "coachng"}
        )
    )
    assert len(problems) == 1
    assert "code 'calls' (codes[1]) has unknown parent 'coachng'" in problems[0]
    assert "did you mean 'coaching'?" in problems[0]


def test_cycle_is_named_in_order_from_earliest_code() -> None:
    data = codes(
        {"id": "top", "name": "Top"},
        {"id": "a", "name": "A", "parent": "b"},
        {"id": "b", "name": "B", "parent": "c"},
        {"id": "c", "name": "C", "parent": "a"},
        {"id": "d", "name": "D", "parent": "a"},  # hangs off the cycle, not part of it
    )
    problems = check_codebook(data)
    assert len(problems) == 1
    assert problems[0].startswith("codes form a cycle a → b → c → a;")


def test_self_parent() -> None:
    problems = check_codebook(codes({"id": "a", "name": "A", "parent": "a"}))
    assert problems == [
        "code 'a' (codes[0]) is its own parent; remove `parent:` or name another code"
    ]


def test_missing_id_and_name_name_position() -> None:
    problems = check_codebook(
        codes(
            {"id": "a", "name": "A"}, {"name": "No id"}, {"id": "c"}, {"id": "  ", "name": "Blank"}
        )
    )
    assert "codes[1] has no id; add `id:` with a non-empty value" in problems
    assert "code 'c' (codes[2]) has no name; add `name:` with a non-empty value" in problems
    assert "codes[3] has no id; add `id:` with a non-empty value" in problems


def test_code_that_is_not_a_mapping() -> None:
    problems = check_codebook(codes({"id": "a", "name": "A"}, "just a string"))
    assert problems == ["codes[1] is a str; expected a mapping with at least id and name"]


def test_unknown_key_lists_allowed_keys() -> None:
    problems = check_codebook(codes({"id": "a", "name": "A", "parnt": "b"}))
    assert len(problems) == 1
    assert "unknown key 'parnt' (did you mean 'parent'?)" in problems[0]
    assert (
        "allowed keys are id, name, parent, definition, include, exclude, examples" in problems[0]
    )


def test_unknown_top_level_key() -> None:
    problems = check_codebook({"codes": [{"id": "a", "name": "A"}], "stages": []})
    assert problems[0].startswith("the top level has unknown key 'stages' (did you mean 'stage'?)")


def test_wrong_types() -> None:
    data = codes(
        {"id": 12, "name": "Number id"},
        {"id": "b", "name": "B", "examples": {"x": 1}},
        {"id": "c", "name": "C", "examples": ["fine", 3]},
        {"id": "d", "name": "D", "definition": ["not", "text"]},
    )
    problems = check_codebook(data)
    assert (
        'codes[0] has id 12, which is a number; expected text (put it in quotes, e.g. id: "12")'
        in problems
    )
    assert any("code 'b'" in p and "examples that are a mapping" in p for p in problems)
    assert any("code 'c'" in p and "examples[1] 3, which is a number" in p for p in problems)
    assert any("code 'd'" in p and "definition" in p and "a list" in p for p in problems)
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "there is no `codes:` list"),
        ({"codes": "a, b"}, "`codes:` is a str; expected a list"),
        ({"codes": []}, "the `codes:` list is empty"),
        ([{"id": "a"}], "the top level of codebook is a list; expected a mapping"),
    ],
)
def test_missing_or_wrong_codes_list(data: object, expected: str) -> None:
    problems = check_codebook(data)
    assert problems and problems[0].startswith(expected)


def test_stage_problems() -> None:
    data = codes({"id": "a", "name": "A"})
    data["stage"] = ["push", "push-pull", "mixed", {"id": "push"}]
    problems = check_codebook(data)
    assert (
        "stage[1] has stage id 'push-pull', which is not a stage id; write 'push_pull'" in problems
    )
    assert any(p.startswith("stage[2] has stage id 'mixed'") for p in problems)
    assert "stage 'push' is listed twice (stage[0] and stage[3]); keep one" in problems
    assert any(p.startswith("`stage:` is missing exchange, none;") for p in problems)
    assert len(problems) == 4


def test_stage_not_a_list() -> None:
    data = codes({"id": "a", "name": "A"})
    data["stage"] = "push"
    assert check_codebook(data)[0].startswith("`stage:` is a str; expected a list")


def test_codebook_from_dict_raises_with_source_name() -> None:
    with pytest.raises(CodebookError, match=r"^project codebook has 1 problem: .*Fix it"):
        codebook_from_dict({"codes": []}, "project codebook")


# --------------------------------------------------------------------------- stages


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("push", "push"),
        ("Push", "push"),
        ("  PUSH ", "push"),
        ("push/pull", "push_pull"),
        ("push-pull", "push_pull"),
        ("push pull", "push_pull"),
        ("PUSH_PULL", "push_pull"),
        ("Push / Pull", "push_pull"),
        ("push and pull", "push_pull"),
        ("exchange", "exchange"),
        ("Exchange", "exchange"),
        ("none", "none"),
        ("None", "none"),
        ("", None),
        ("   ", None),
        (None, None),
        (" mixed ", "mixed"),
        ("pull", "pull"),
    ],
)
def test_normalise_stage(value: str | None, expected: str | None) -> None:
    assert normalise_value(stage_dimension(), value) == expected


def test_is_stage() -> None:
    stage = stage_dimension()
    assert is_value(stage, "Push/Pull") and is_value(stage, "none")
    assert not is_value(stage, "") and not is_value(stage, None) and not is_value(stage, "mixed")


# --------------------------------------------------------------------------- hierarchy


def test_children_ancestors_leaves(book: Codebook) -> None:
    assert [c.id for c in children(book, "strategies")] == ["didactic_training", "coaching"]
    assert children(book, "barriers") == ()
    assert ancestors(book, "peer_calls") == ("coaching", "strategies")
    assert ancestors(book, "strategies") == ()
    assert [c.id for c in leaf_codes(book)] == ["didactic_training", "peer_calls", "barriers"]
    # a parent coders applied themselves (as NVivo, ATLAS.ti and qc allow) is learnt too,
    # in codebook order; one nobody applied stays a grouping only
    assert [c.id for c in trainable_codes(book, {"coaching", "barriers"})] == [
        "didactic_training", "coaching", "peer_calls", "barriers"]


def test_unknown_code_in_helpers(book: Codebook) -> None:
    with pytest.raises(CodebookError, match="code 'coachng' is not in .*did you mean 'coaching'"):
        children(book, "coachng")
    with pytest.raises(CodebookError):
        ancestors(book, "zzz")


def test_resolve_code(book: Codebook) -> None:
    assert resolve_code(book, "coaching").id == "coaching"
    assert resolve_code(book, " didactic TRAINING ").id == "didactic_training"
    assert resolve_code(book, "Implementation  support strategies").id == "strategies"
    assert resolve_code(book, "unknown") is None
    assert resolve_code(book, "") is None


def test_resolve_code_ambiguous_name() -> None:
    book = codebook_from_dict(
        codes(
            {"id": "a", "name": "A"},
            {"id": "a_other", "name": "Other", "parent": "a"},
            {"id": "b_other", "name": "other"},
        )
    )
    assert resolve_code(book, "Other") is None
    assert resolve_code(book, "a_other").id == "a_other"


# --------------------------------------------------------------------------- round trip

_ids = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
# YAML folds line breaks (including NEL, U+2028/9) inside scalars, so the texts avoid them.
_chars = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
_text = st.text(_chars, min_size=1, max_size=25).map(str.strip).filter(bool)
_opt_text = st.one_of(st.just(""), _text)


@st.composite
def codebooks(draw: st.DrawFn) -> Codebook:
    """Valid codebooks: unique ids, parents always earlier codes (so no cycles)."""
    ids = draw(st.lists(_ids, min_size=1, max_size=8, unique=True))
    code_list = []
    for i, code_id in enumerate(ids):
        parent = draw(st.one_of(st.none(), st.sampled_from(ids[:i]))) if i else None
        code_list.append(
            Code(
                id=code_id,
                name=draw(_text),
                parent=parent,
                definition=draw(_opt_text),
                include=draw(_opt_text),
                exclude=draw(_opt_text),
                examples=tuple(draw(st.lists(_text, max_size=3))),
            )
        )
    stages = tuple(
        Code(
            sid,
            draw(_text),
            definition=draw(_text),
            include=draw(_opt_text),
            examples=tuple(draw(st.lists(_text, max_size=2))),
            dimension=STAGE_DIMENSION,
        )
        for sid in STAGES
    )
    return Codebook(name=draw(_text), codes=tuple(code_list),
                    dimensions=(stage_dimension(stages),))


@settings(max_examples=60, deadline=None)
@given(codebooks())
def test_dict_round_trip(book: Codebook) -> None:
    assert codebook_from_dict(codebook_to_dict(book)) == book


@settings(max_examples=30, deadline=None)
@given(codebooks())
def test_yaml_round_trip(book: Codebook) -> None:
    text = yaml.safe_dump(codebook_to_dict(book), allow_unicode=True, sort_keys=False)
    assert codebook_from_dict(yaml.safe_load(text)) == book
