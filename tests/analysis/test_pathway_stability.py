"""A pathway says how many segments carry the dimension and from which source, and is
flagged when its reading changes with --min-run 1 to 3."""

from __future__ import annotations

from isp_nlp.analysis.pathways import STABILITY_RUNS, pathway_of, summarize_pathways
from isp_nlp.cli.analysis import format_pathways
from isp_nlp.report.sections import pathway_context

STEADY = ["push"] * 4 + ["none"] + ["push_pull"] * 4 + ["exchange"] * 4
# A single push_pull segment counts with --min-run 1 only; exchange twice, up to 2.
SHAKY = ["push"] * 3 + ["push_pull"] + ["exchange"] * 2 + ["?"] * 4


def test_a_steady_pathway_is_stable_and_counts_its_sources():
    sources = ["human"] * 9 + ["model"] * 4
    p = pathway_of("p1", STEADY, sources=sources)
    assert p.stable and p.readings == ()
    assert p.n_staged == 12 and p.sources == (("human", 8), ("model", 4))
    assert p.sources_text == "8 human, 4 model"


def test_a_pathway_that_changes_with_min_run_is_flagged_with_each_reading():
    p = pathway_of("p2", SHAKY, min_run=2)
    assert not p.stable
    readings = dict(p.readings)
    assert set(readings) == set(STABILITY_RUNS)
    assert readings[1] == ("push", "push_pull", "exchange")
    assert readings[2] == ("push", "exchange")
    assert readings[3] == ("push",)
    assert p.stages == readings[2]


def test_the_table_marks_unstable_pathways_and_the_diagram_leaves_them_out():
    summary = summarize_pathways({"p1": STEADY, "p2": SHAKY},
                                 sources={"p1": ["human"] * 13, "p2": ["model"] * 10})
    assert [p.document for p in summary.unstable] == ["p2"]
    text = format_pathways(summary)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith("~ p2") for line in lines)
    assert any(line.startswith("  p1") for line in lines)
    assert "--min-run 1: push → push_pull → exchange; 2: push → exchange; 3: push" in \
        " ".join(text.split())
    assert "6 of 10 segments with a stage: 6 model" in " ".join(text.split())
    assert "1 of 2 pathways read differently" in " ".join(text.split())
    stable = summarize_pathways({"p1": STEADY})
    summary = type(summary)(**{**summary.__dict__, "stable_only": stable})
    context = pathway_context(summary)
    assert "the 1 participant whose pathway reads the same" in context["message"]
    assert "1 others (marked ~ in the table)" in context["message"]
    rows = {r["document"]: r for r in context["rows"]}
    assert rows["p1"]["stable"] and not rows["p2"]["stable"]
    assert rows["p2"]["sources"] == "6 model"
