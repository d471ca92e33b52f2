"""Participants' pathways: runs, pathway order, transitions, code lift, the project
collector and the `pathways` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from isp_nlp.analysis.pathways import (
    BACKWARD,
    FORWARD,
    LEAP_FROG,
    code_lifts,
    pathway_of,
    project_pathways,
    segment_labels,
    stage_runs,
    summarize_pathways,
    transition_window,
)
from isp_nlp.cli import cli as app
from isp_nlp.codebook.check import stage_dimension
from isp_nlp.records import Annotation
from isp_nlp.report.pathway_diagram import pathway_chart
from isp_nlp.store.folder import open_project

PATHWAY_STAGES = stage_dimension().scale  # push, push_pull, exchange

def test_runs_skip_none_and_unknown_instead_of_breaking() -> None:
    runs = stage_runs(["push", "?", "push", "none", "push_pull", "push_pull", "exchange"])
    assert [(r.stage, r.positions) for r in runs] == [
        ("push", (0, 2)), ("push_pull", (4, 5)), ("exchange", (6,))]


def test_pathway_needs_min_run_and_keeps_first_appearance() -> None:
    labels = ["push", "push", "push_pull", "exchange", "exchange", "push_pull", "push_pull",
              "push", "push"]
    p = pathway_of("P1", labels, min_run=2)
    # the single push_pull is a stray label; push comes back later but only counts once
    assert p.stages == ("push", "exchange", "push_pull")
    assert p.text == "push → exchange → push_pull"
    assert p.transitions == (("push", "exchange"), ("exchange", "push_pull"))
    assert pathway_of("P1", labels, min_run=1).stages == ("push", "push_pull", "exchange")
    assert pathway_of("P1", labels, min_run=3).stages == ()
    assert pathway_of("P2", ["none", "?"]).text == "no stage"
    with pytest.raises(ValueError):
        pathway_of("P3", ["push"], min_run=0)


def test_transition_kinds_counts_and_window() -> None:
    stages = {
        "a": ["push", "push", "push_pull", "push_pull", "exchange", "exchange"],
        "b": ["push", "push", "none", "exchange", "exchange"],
        "c": ["exchange", "exchange", "push_pull", "push_pull"],
        "d": ["push", "push", "push_pull", "push_pull", "exchange", "exchange"],
    }
    summary = summarize_pathways(stages)
    kinds = {(t.from_stage, t.to_stage): (t.kind, t.count) for t in summary.transitions}
    assert kinds == {
        ("push", "push_pull"): (FORWARD, 2), ("push", "exchange"): (LEAP_FROG, 1),
        ("push_pull", "exchange"): (FORWARD, 2), ("exchange", "push_pull"): (BACKWARD, 1)}
    assert summary.counts == [("push → push_pull → exchange", 2), ("exchange → push_pull", 1),
                              ("push → exchange", 1)]
    b = summary.pathways[1]
    # last run of push (positions 0-1) plus first counted run of exchange (3-4)
    assert transition_window(b, "push", "exchange", 2) == (0, 1, 3, 4)
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["participants"][2]["pathway"] == ["exchange", "push_pull"]


def test_code_lift_ranks_over_represented_codes() -> None:
    f = frozenset
    overall = [f({"a"}), f({"a"}), f({"b"}), f({"b"}), f({"c"}), f(), None, f({"a", "c"})]
    window = [f({"b"}), f({"b"}), f({"a"}), None]
    lifts = code_lifts(window, overall, top=3, min_count=1)
    # b: (2/3)/(2/7) = 2.33; a: (1/3)/(3/7) = 0.78 -> not over-represented, left out
    assert [c.code for c in lifts] == ["b"]
    assert lifts[0].lift == pytest.approx((2 / 3) / (2 / 7))
    assert code_lifts(window, overall, min_count=3) == ()
    assert code_lifts([None], overall) == ()


def test_transition_codes_come_from_the_window() -> None:
    f = frozenset
    stages = {"a": ["push", "push", "push_pull", "push_pull", "none", "none"],
              "b": ["push", "push", "push", "push", "none", "none"]}
    codes = {"a": [f({"x"}), f({"x"}), f({"y"}), f({"y"}), f({"z"}), f({"z"})],
             "b": [f({"z"}), f({"z"}), f({"z"}), f({"z"}), f({"z"}), f({"z"})]}
    summary = summarize_pathways(stages, codes, top=2)
    (move,) = summary.transitions
    assert move.n_window_segments == 4
    assert [c.code for c in move.top_codes] == ["x", "y"]  # tie on lift 3.0: by count, id
    with pytest.raises(ValueError, match="parallel"):
        summarize_pathways(stages, {"a": [None]})


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text("abc", min_size=1, max_size=3),
                       st.lists(st.sampled_from([*PATHWAY_STAGES, "none", "?"]), max_size=30),
                       max_size=5),
       st.integers(min_value=1, max_value=4))
def test_pathway_invariants(stages: dict[str, list[str]], min_run: int) -> None:
    summary = summarize_pathways(stages, min_run=min_run)
    for p in summary.pathways:
        assert len(set(p.stages)) == len(p.stages)
        assert all(any(r.stage == s and r.length >= min_run for r in p.runs) for s in p.stages)
        assert p.n_staged == sum(label in PATHWAY_STAGES for label in stages[p.document])
    assert sum(n for _, n in summary.counts) == len(stages)
    assert sum(t.count for t in summary.transitions) == sum(
        len(p.transitions) for p in summary.pathways)


def test_empty_and_unstaged_projects_explain_themselves() -> None:
    assert "no participants" in summarize_pathways({}).notes[0]
    assert "No codable segment" in summarize_pathways({"a": ["none", "?"]}).notes[0]
    assert "no transitions" in summarize_pathways({"a": ["push", "push"]}).notes[0]


def test_diagram_renders_every_kind_of_arrow() -> None:
    stages = {"a": ["push"] * 2 + ["push_pull"] * 2 + ["exchange"] * 2,
              "b": ["push"] * 2 + ["exchange"] * 2 + ["push"] * 2,
              "c": ["exchange"] * 2 + ["push_pull"] * 2}
    png = pathway_chart(summarize_pathways(stages))
    width = int.from_bytes(png[16:20], "big")
    assert png.startswith(b"\x89PNG") and 300 <= width <= 900


def test_project_labels_prefer_consensus_then_humans_then_model(project_copy: Path) -> None:
    with open_project(project_copy) as store:
        labels = segment_labels(store)
        first = labels["isp01_child_welfare_coach"]
        sources = {s.stage_source for segs in labels.values() for s in segs}
        assert {"human", "model", "unknown"} <= sources
        coded = next(s for s in first if s.stage_source == "human")
        before = coded.stage
        new = "exchange" if before != "exchange" else "push"
        store.import_annotations(
            [Annotation(coded.segment_id, "consensus", "stage", new, "consensus")], source="t")
        after = {s.segment_id: s for s in segment_labels(store)[coded.document]}
        assert after[coded.segment_id].stage == new
        assert after[coded.segment_id].stage_source == "consensus"
        no_model = segment_labels(store, use_model=False)
        assert "model" not in {s.stage_source for segs in no_model.values() for s in segs}


def test_demo_pathways_and_command(project_copy: Path) -> None:
    with open_project(project_copy) as store:
        summary = project_pathways(store)
    assert len(summary.pathways) == 15
    assert any(t.kind == LEAP_FROG for t in summary.transitions)
    assert all(t.top_codes for t in summary.transitions)
    runner = CliRunner()
    result = runner.invoke(app, ["--project", str(project_copy), "pathways"])
    assert result.exit_code == 0, result.output
    assert "push → push_pull → exchange" in result.output and "leap-frog" in result.output
    result = runner.invoke(app, ["--project", str(project_copy), "pathways", "--format", "json",
                                 "--min-run", "1"])
    data = json.loads(result.output)
    assert data["min_run"] == 1 and len(data["participants"]) == 15
    bad = runner.invoke(app, ["--project", str(project_copy / "nope"), "pathways"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_pathways_are_refused_for_a_codebook_without_stages(tmp_path) -> None:
    from click.testing import CliRunner

    from isp_nlp.cli import cli
    from isp_nlp.records import Code, Codebook
    from isp_nlp.store.folder import init_project, open_project

    init_project(tmp_path / "p", embedder="hashing-256")
    with open_project(tmp_path / "p") as store:
        store.save_codebook(Codebook("flat", (Code("a", "A"),), ()), source="test")
    result = CliRunner().invoke(cli, ["--project", str(tmp_path / "p"), "pathways"])
    assert result.exit_code == 2
    assert "has no stage dimension, so there are no pathways" in result.output
