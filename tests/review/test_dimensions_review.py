"""Review with the codebook's own single-choice dimensions: a codebook with `phase`
(ordered) and `valence` and no stage, one with no dimension at all, old log rows, and
item keys that stay what they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook.load import codebook_from_dict
from isp_nlp.errors import IspNlpError
from isp_nlp.records import Segment, Suggestion, Transcript, Turn, item_key
from isp_nlp.review.run import project_review
from isp_nlp.review.terminal import render_item, run_review
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import init_project, open_project
from isp_nlp.store.rewrite import _item_key

CODES = [{"id": "care", "name": "Care"}, {"id": "cost", "name": "Cost"}]
DIMENSIONS = [
    {"id": "phase", "name": "Phase", "ordered": True, "values": ["early", "middle", "late"]},
    {"id": "valence", "name": "Valence", "values": ["positive", "negative"]},
]
#: Per segment: code probabilities, then per dimension (value, probability, suggested).
SUGGESTED = [
    ({"care": 0.8, "cost": 0.3}, {"phase": ("middle", 0.72, True),
                                  "valence": ("positive", 0.81, True)}),
    ({"care": 0.2, "cost": 0.9}, {"phase": ("late", 0.64, True),
                                  "valence": ("negative", 0.52, False)}),
    ({"care": 0.6, "cost": 0.6}, {"phase": ("early", 0.58, True),
                                  "valence": ("positive", 0.66, True)}),
]


def _transcript(n: int = 3) -> tuple[Transcript, list[Segment]]:
    texts = [f"Participant remark number {i} about the clinic." for i in range(n)]
    turns, segments, pos, parts = [], [], 0, []
    for i, text in enumerate(texts):
        start = pos + len("P1: ")
        turns.append(Turn(index=i, speaker="P1", start=start, end=start + len(text)))
        parts.append("P1: " + text)
        pos += len(parts[-1]) + 2
    full = "\n\n".join(parts)
    for i, turn in enumerate(turns):
        segments.append(Segment(id=f"doc-{i}", document="doc", index=i, turn_index=i,
                                unit="turn", speaker="P1", start=turn.start, end=turn.end,
                                text=full[turn.start:turn.end]))
    return (Transcript(document="doc", name="doc.txt", sha256="e" * 64, text=full,
                       turns=tuple(turns), source_format="text"), segments)


def _suggestions(segments: list[Segment], dims: bool) -> list[Suggestion]:
    """What `suggest` stores: a row per code, per dimension the values (the top one
    suggested unless the model abstains)."""
    out = []
    for seg, (codes, values) in zip(segments, SUGGESTED, strict=False):
        out += [Suggestion(seg.id, "m1", "code", code, p, p >= 0.5)
                for code, p in codes.items()]
        for dim, (value, p, suggested) in values.items() if dims else ():
            others = [v for v in ("early", "middle", "late", "positive", "negative")
                      if v != value and (v in ("positive", "negative")) == (dim == "valence")]
            out.append(Suggestion(seg.id, "m1", dim, value, p, suggested))
            out += [Suggestion(seg.id, "m1", dim, v, (1 - p) / len(others), False)
                    for v in others]
    return out


def _make_project(root: Path, dimensions: list | None = DIMENSIONS) -> Path:
    init_project(root, embedder="hashing-256")
    data: dict = {"name": "clinic", "codes": CODES}
    if dimensions is not None:
        data["dimensions"] = dimensions
    with open_project(root) as store:
        transcript, segments = _transcript()
        store.add_transcripts([(transcript, segments, "turn")])
        store.save_codebook(codebook_from_dict(data), "codebook.yaml")
        store.register_model("m1", "models/m1", {"code_threshold": 0.5})
        store.replace_suggestions("m1", _suggestions(segments, bool(dimensions)))
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _make_project(tmp_path / "clinic")


def _assisted(store: Store, coder: str) -> set[tuple[str, str, str | None]]:
    return {(a.segment_id, a.dimension, a.label) for a in store.annotations()
            if a.coder == coder and a.source == "assisted"}


def _cli(project: Path, *args: str):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def _one_line_exit_2(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


# -- accept, the card, the key -------------------------------------------------
def test_accept_records_each_suggested_value_as_an_assisted_annotation(project: Path) -> None:
    with open_project(project) as store:
        session = project_review(store, "ana", order="document")
        first = session.current()
        assert first is not None and first.values == (("phase", ("middle", 0.72)),
                                                      ("valence", ("positive", 0.81)))
        assert first.key == item_key("doc-0", first.segment.text, "m1", ["care"],
                                     {"phase": "middle", "valence": "positive"})
        decision = session.accept()
        assert decision.values == (("phase", "middle"), ("valence", "positive"))
        assert decision.suggestion["values"] == {"phase": ["middle", 0.72],
                                                 "valence": ["positive", 0.81]}
        second = session.accept()  # the model abstains on valence: only the phase
        assert second.values == (("phase", "late"),) and second.value("valence") is None
        assert _assisted(store, "ana") == {
            ("doc-0", "code", "care"), ("doc-0", "phase", "middle"),
            ("doc-0", "valence", "positive"), ("doc-1", "code", "cost"),
            ("doc-1", "phase", "late")}
        entry = DecisionLog(store).entries("ana")[-1]
        assert entry["values"] == {"phase": "late"} and "stage" not in entry["detail"]
        session.undo()
        session.undo()
        assert _assisted(store, "ana") == set()


def test_the_card_names_each_dimension_within_80_columns(project: Path) -> None:
    with open_project(project) as store:
        session = project_review(store, "ana", order="document")
        items = [session.current()]
        session.accept()
        items.append(session.current())
    cards = [render_item(it, (0, 3), 80, session.codebook) for it in items if it is not None]
    assert "Phase: middle 0.72" in cards[0] and "Valence: positive 0.81" in cards[0]
    assert "Phase: late 0.64" in cards[1] and "model abstains on Valence" in cards[1]
    assert "stage" not in "\n".join(cards).lower()
    assert all(len(line) <= 80 for card in cards for line in card.splitlines())


def test_interactive_relabel_asks_for_each_dimension_and_checks_values(project: Path) -> None:
    answers = ["2", "sideways", "LATE", "", ]  # codes, phase (wrong, right), valence (keep)
    prompts: list[str] = []
    out: list[str] = []

    def read_line(prompt: str) -> str:
        prompts.append(prompt)
        return answers.pop(0)

    keys = ["e", "q"]
    with open_project(project) as store:
        session = project_review(store, "ana", order="document")
        run_review(session, read_key=lambda: keys.pop(0), write=out.append,
                   read_line=read_line, width=80)
        (decision,) = session.decisions()
        assert decision.codes == ("cost",)
        assert decision.values == (("phase", "late"), ("valence", "positive"))
    assert [p.split(" ")[0] for p in prompts[1:]] == ["phase", "phase", "valence"]
    assert prompts[1].startswith("phase [early/middle/late")
    assert any("'sideways' is not a phase value; expected one of early, middle, late" in o
               for o in out)


# -- the CLI -------------------------------------------------------------------
def test_relabel_from_the_cli_with_value_records_it(project: Path) -> None:
    result = _cli(project, "review", "--coder", "ana", "--order", "document",
                  "--script", "e:cost,e:care+cost|valence=negative", "--value", "phase=late")
    assert result.exit_code == 0, result.output
    assert "2 relabelled" in result.output
    with open_project(project) as store:
        assert _assisted(store, "ana") == {
            ("doc-0", "code", "cost"), ("doc-0", "phase", "late"),
            ("doc-0", "valence", "positive"),  # not named: keeps the suggestion
            ("doc-1", "code", "care"), ("doc-1", "code", "cost"),
            ("doc-1", "phase", "late"), ("doc-1", "valence", "negative")}
    log = json.loads(_cli(project, "log", "--format", "json").output)
    assert [e["values"] for e in log] == [{"phase": "late", "valence": "positive"},
                                          {"phase": "late", "valence": "negative"}]
    table = _cli(project, "log").output
    assert "| phase=late | valence=negative" in table


@pytest.mark.parametrize(("args", "needle"), [
    (["--value", "phase=sideways"],
     "'sideways' is not a phase value; expected one of early, middle, late"),
    (["--value", "stage=push"],
     "Codebook 'clinic' has no dimension 'stage'; expected one of phase, valence"),
    (["--value", "phase"], "--value 'phase' is not DIM=VALUE"),
    (["--script", "e:care|stage=push"], "has no dimension 'stage'"),
    (["--script", "e:care|late"], "does not say its dimension"),
])
def test_an_unknown_dimension_or_value_is_one_sentence_and_exit_2(
        project: Path, args: list[str], needle: str) -> None:
    if "--script" not in args:
        args = ["--script", "e:care", *args]
    line = _one_line_exit_2(_cli(project, "review", "--coder", "ana", *args))
    assert needle in line
    with open_project(project) as store:
        assert DecisionLog(store).entries() == []


def test_value_without_a_script_is_refused(project: Path) -> None:
    line = _one_line_exit_2(_cli(project, "review", "--coder", "ana", "--value", "phase=late"))
    assert "--value goes with --script" in line


# -- a codebook without dimensions ------------------------------------------------
def test_a_codebook_without_dimensions_never_asks_for_a_value(tmp_path: Path) -> None:
    project = _make_project(tmp_path / "plain", dimensions=[])
    prompts: list[str] = []
    answers = ["1"]
    keys = ["e", "a", "q"]
    with open_project(project) as store:
        session = project_review(store, "ana", order="document")
        assert session.dimensions == ()
        assert session.current() is not None and session.current().values == ()
        out: list[str] = []
        run_review(session, read_key=lambda: keys.pop(0), write=out.append,
                   read_line=lambda p: (prompts.append(p), answers.pop(0))[1], width=80)
        relabelled, accepted = session.decisions()
        assert relabelled.values == () and accepted.values == ()
        assert {a.dimension for a in store.annotations()} == {"code"}
    assert len(prompts) == 1 and prompts[0].startswith("codes")
    assert "abstains" not in "\n".join(out) and "stage" not in "\n".join(out).lower()
    line = _one_line_exit_2(_cli(project, "review", "--coder", "bo", "--script", "e:care",
                                 "--value", "stage=push"))
    assert "has no dimensions, so no 'stage' value can be given" in line


# -- old rows and keys --------------------------------------------------------------
def test_an_old_log_row_with_stage_still_reads(project: Path) -> None:
    old = {"codes": ["care"], "stage": "push",
           "suggestion": {"codes": [["care", 0.8]], "suggested_codes": ["care"],
                          "stage": ["push", 0.7], "evidence": [], "score": 0.3}}
    with open_project(project) as store:
        with store.transaction() as conn:
            conn.execute("INSERT INTO log(coder, action, item_key, segment_id, model_id, detail,"
                         " at) VALUES ('old', 'accept', 'k', 'doc-0', 'm1', ?, '2024-01-01')",
                         (json.dumps(old),))
        (entry,) = DecisionLog(store).entries("old")
        assert entry["values"] == {"stage": "push"} and entry["codes"] == ["care"]
        assert "stage" not in entry["detail"]
        undone = DecisionLog(store).undo_last("old")
        assert undone is not None and undone.value("stage") == "push"
        seg = store.segments()[0]
    # the rewrite (pseudonymise) recomputes an old row's key as review computed it then
    assert _item_key(seg, "m1", old["suggestion"]) == item_key(
        seg.id, seg.text, "m1", ["care"], {"stage": "push"})
    assert "| stage=push" in _cli(project, "log").output


def test_item_keys_are_unchanged_for_one_dimension_or_none() -> None:
    """Keys computed by the code before user-defined dimensions (segment, text, model,
    sorted codes, stage-or-null): decisions logged then must keep matching their items."""
    pushed = "e4dc1171503395cf15062fd812e4c0fe334df5ba70688667ccbb0f99a2bda3d5"
    plain = "daf74da174fe7b4fa8c31bc5a9c198dc4f64129f1768c3ea39bb6543b060ccf6"
    assert item_key("s", "t", "m", ["b", "a"], {"stage": "push"}) == pushed
    assert item_key("s", "t", "m", ["b", "a"], {"stage": None}) == plain
    assert item_key("s", "t", "m", ["b", "a"], {}) == plain
    assert item_key("seg-1", "Ünïcode text", "model-x", [], {"stage": "push_pull"}) == (
        "6aa972f37e6a1f300fa8be3b9a91302622a185bcf0a2cac87e870eb65006691f")
    two = item_key("s", "t", "m", ["a"], {"valence": "positive", "phase": None})
    assert two == item_key("s", "t", "m", ["a"], {"phase": None, "valence": "positive"})
    assert two != item_key("s", "t", "m", ["a"], {"phase": "late", "valence": "positive"})


def test_session_relabel_takes_values_by_dimension(project: Path) -> None:
    with open_project(project) as store:
        session = project_review(store, "ana", order="document")
        with pytest.raises(IspNlpError, match="'sideways' is not a valence value; expected "
                                              "one of positive, negative"):
            session.relabel(["care"], {"valence": "sideways"})
        with pytest.raises(IspNlpError, match="has 2 dimensions, so the value 'late' must "
                                              "name one"):
            session.relabel(["care"], "late")
        decision = session.relabel(["care"], {"phase": "Late", "valence": None})
        assert decision.values == (("phase", "late"),)
        assert DecisionLog(store).entries("ana")[0]["values"] == {"phase": "late"}
