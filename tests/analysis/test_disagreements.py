"""Disagreements between coders, the consensus sheet and `resolve`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from isp_nlp.agreement.project import project_agreement
from isp_nlp.analysis.consensus import resolve_csv
from isp_nlp.analysis.disagreements import (
    CoderLabels,
    disagreement_frame,
    find_disagreements,
    project_disagreements,
)
from isp_nlp.cli import cli as app
from isp_nlp.errors import ImportCodesError, InputFileError
from isp_nlp.records import Segment
from isp_nlp.store.folder import open_project

F = frozenset


def _seg(i: int) -> Segment:
    return Segment(id=f"s{i}", document="d", index=i, turn_index=i, unit="turn", speaker="P",
                   start=0, end=1, text=f"text {i}")


def _labels(codes: frozenset[str] | None, stage: str | None) -> CoderLabels:
    return CoderLabels(codes, {"stage": stage} if stage else {})


LABELS = {
    "s0": {"ann": _labels(F({"a"}), "push"), "bob": _labels(F({"a"}), "push")},
    "s1": {"ann": _labels(F({"a"}), "push"), "bob": _labels(F({"a", "b"}), "push")},
    "s2": {"ann": _labels(F(), "push"), "bob": _labels(F(), "exchange")},
    "s3": {"ann": _labels(F({"b"}), None), "bob": _labels(None, "exchange")},
    "s4": {"ann": _labels(F({"a"}), "push"), "model": _labels(F({"b"}), "push")},
}
SEGMENTS = [_seg(i) for i in range(5)]


def test_find_disagreements_per_dimension() -> None:
    found = {d.segment.id: d.differs_on for d in find_disagreements(SEGMENTS, LABELS)}
    assert found == {"s1": ("codes",), "s2": ("stage",), "s4": ("codes",)}
    humans = find_disagreements(SEGMENTS, LABELS, coders=["ann", "bob"])
    assert [d.segment.id for d in humans] == ["s1", "s2"]
    assert [d.segment.id for d in find_disagreements(SEGMENTS, LABELS, dimension="stage")] == ["s2"]
    by_code = find_disagreements(SEGMENTS, LABELS, code="b")
    assert [(d.segment.id, d.differs_on) for d in by_code] == [("s1", ("code b",)),
                                                              ("s4", ("code b",))]
    assert [d.segment.id for d in find_disagreements(SEGMENTS, LABELS, code="a")] == ["s4"]
    assert find_disagreements(SEGMENTS, LABELS, code="c") == []
    with pytest.raises(ValueError):
        find_disagreements(SEGMENTS, LABELS, code="a", dimension="stage")


def test_resolved_needs_every_differing_dimension() -> None:
    both = {"s9": {"ann": _labels(F({"a"}), "push"), "bob": _labels(F(), "exchange")}}
    seg = [_seg(9)]
    partial = find_disagreements(seg, both, consensus={"s9": _labels(F({"a"}), None)})
    assert partial[0].differs_on == ("codes", "stage") and not partial[0].resolved
    full = find_disagreements(seg, both, consensus={"s9": _labels(F(), "push")})
    assert full[0].resolved
    assert full[0].to_dict()["consensus"] == {"codes": [], "stage": "push"}


def test_sheet_has_a_column_per_coder_and_empty_consensus() -> None:
    items = find_disagreements(SEGMENTS, LABELS)
    frame = disagreement_frame(items, ["ann", "bob", "carl", "model"])
    assert list(frame.columns) == [
        "segment", "document", "index", "speaker", "text", "differs_on", "resolved",
        "ann_codes", "ann_stage", "bob_codes", "bob_stage", "model_codes", "model_stage",
        "consensus_codes", "consensus_stage"]
    row = frame.set_index("segment").loc["s2"]
    assert (row["ann_codes"], row["bob_stage"], row["consensus_stage"]) == ("-", "exchange", "")
    stage_only = disagreement_frame(items, ["ann", "bob"], codes=False)
    assert "ann_codes" not in stage_only.columns and "ann_stage" in stage_only.columns


def _fill(sheet: Path, out: Path, values: dict[int, tuple[str, str]]) -> None:
    frame = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    for row, (codes, stage) in values.items():
        frame.loc[row, "consensus_codes"] = codes
        frame.loc[row, "consensus_stage"] = stage
    frame.to_csv(out, index=False)


def test_export_fill_resolve_round_trip(project_copy: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--project", str(project_copy)]
    sheet = tmp_path / "sheet.csv"
    result = runner.invoke(app, [*base, "disagreements", "--out", str(sheet)])
    assert result.exit_code == 0, result.output
    with sheet.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    n = len(rows)
    assert n > 10 and {"ana_codes", "ben_stage", "consensus_codes"} <= set(rows[0])
    assert all(r["consensus_codes"] == r["consensus_stage"] == "" for r in rows)

    bad = tmp_path / "bad.csv"
    _fill(sheet, bad, {0: ("data_use", "push"), 1: ("no_such_code", ""), 2: ("", "later")})
    result = runner.invoke(app, [*base, "resolve", str(bad)])
    assert result.exit_code == 2 and "nothing was recorded" in result.output
    assert "no_such_code" in result.output and "later" in result.output
    with open_project(project_copy) as store:
        assert not [a for a in store.annotations() if a.coder == "consensus"]

    good = tmp_path / "good.csv"
    _fill(sheet, good, {0: ("data_use", "Push/Pull"), 1: ("-", "exchange"),
                        2: ("Didactic training; resources", "")})
    before = project_agreement(open_project(project_copy))
    result = runner.invoke(app, [*base, "resolve", str(good)])
    assert result.exit_code == 0, result.output
    assert "3 segment(s)" in result.output and f"{n - 3} row(s) left unfilled" in result.output
    with open_project(project_copy) as store:
        consensus = [a for a in store.annotations() if a.coder == "consensus"]
        assert {a.source for a in consensus} == {"consensus"}
        by_seg = {}
        for a in consensus:
            by_seg.setdefault(a.segment_id, []).append((a.dimension, a.label))
        assert sorted(by_seg[rows[0]["segment"]]) == [("code", "data_use"), ("stage", "push_pull")]
        assert sorted(by_seg[rows[1]["segment"]]) == [("code", None), ("stage", "exchange")]
        assert sorted(by_seg[rows[2]["segment"]]) == [("code", "didactic_training"),
                                                       ("code", "resources")]
        items, _ = project_disagreements(store)
        after = project_agreement(store)
    # the consensus is not a coder in agreement
    assert "consensus" not in set(after.pairs["coder_a"]) | set(after.pairs["coder_b"])
    assert before.pairs.equals(after.pairs)
    unresolved = [d for d in items if not d.resolved]
    assert len(items) == n
    resolved_ids = {d.segment.id for d in items if d.resolved}
    assert rows[0]["segment"] in resolved_ids
    # re-running is a no-op
    result = runner.invoke(app, [*base, "resolve", str(good)])
    assert "0 changed, " in result.output
    listing = runner.invoke(app, [*base, "disagreements", "--unresolved", "--format", "json"])
    assert len(json.loads(listing.output)) == len(unresolved)


def test_resolve_one_segment(project_copy: Path) -> None:
    runner = CliRunner()
    base = ["--project", str(project_copy)]
    items = json.loads(runner.invoke(app, [*base, "disagreements", "--stage", "--format",
                                           "json"]).output)
    assert items and all(d["differs_on"] == ["stage"] for d in items)
    first = items[0]
    key = f"{first['document']}#{first['index']}"
    result = runner.invoke(app, [*base, "resolve", "--segment", key, "--stage", "exchange",
                                 "--codes", "co_creation,contextual_fit"])
    assert result.exit_code == 0, result.output
    assert "stage exchange" in result.output
    after = json.loads(runner.invoke(app, [*base, "disagreements", "--stage", "--format",
                                           "json"]).output)
    assert next(d for d in after if d["segment"] == first["segment"])["resolved"] is True
    for args, fragment in [
        (["resolve"], "either a filled-in FILE.csv or --segment"),
        (["resolve", "--segment", "nope", "--stage", "push"], "matches no segment"),
        (["resolve", "--segment", key], "needs --codes and/or --stage"),
        (["resolve", "--segment", key, "--stage", "sideways"], "expected one of"),
        (["resolve", "--segment", key, "--codes", "zzz"], "not a code"),
        (["disagreements", "--coders", "ana,zed"], "zed"),
        (["disagreements", "--code", "nope"], "not in the project's codebook"),
        (["disagreements", "--code", "data_use", "--stage"], "only one"),
        (["disagreements", "--coders", "ana"], "needs two"),
    ]:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.output and "Traceback" not in result.output


def test_model_as_coder_and_table(project_copy: Path) -> None:
    runner = CliRunner()
    base = ["--project", str(project_copy)]
    result = runner.invoke(app, [*base, "disagreements", "--include-model", "--coders", "ben",
                                 "--stage"])
    assert result.exit_code == 0, result.output
    assert "among ben, model" in result.output and "    model " in result.output
    csv_out = runner.invoke(app, [*base, "disagreements", "--code", "data_use", "--format",
                                  "csv"]).output
    header = csv_out.splitlines()[0].split(",")
    assert "ana_codes" in header and "ana_stage" not in header


def test_bad_sheets_are_one_line_errors(project_copy: Path, tmp_path: Path) -> None:
    with open_project(project_copy) as store:
        bad = tmp_path / "latin.csv"
        bad.write_bytes(b"segment,consensus_codes,consensus_stage\nx,caf\xe9,push\n")
        with pytest.raises(InputFileError, match="line 2 is not valid UTF-8"):
            resolve_csv(store, bad)
        missing = tmp_path / "cols.csv"
        missing.write_text("segment,codes\nx,a\n", encoding="utf-8")
        with pytest.raises(InputFileError, match="consensus_codes, consensus_stage"):
            resolve_csv(store, missing)
        empty = tmp_path / "empty.csv"
        empty.write_text("segment,consensus_codes,consensus_stage\nx,,\n", encoding="utf-8")
        with pytest.raises(InputFileError, match="no row with consensus"):
            resolve_csv(store, empty)
        unknown = tmp_path / "unknown.csv"
        unknown.write_text("segment;consensus_codes;consensus_stage\nx;-;push\n",
                           encoding="utf-8")
        with pytest.raises(ImportCodesError, match="segment 'x' is not in this project"):
            resolve_csv(store, unknown)
        with pytest.raises(InputFileError, match="does not exist"):
            resolve_csv(store, tmp_path / "absent.csv")
