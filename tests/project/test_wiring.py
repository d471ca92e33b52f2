"""Library entry points the CLI and the demo share: a project's review and placing a CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from isp_nlp.demo import default_corpus
from isp_nlp.errors import InputFileError
from isp_nlp.project import place_coded_csv
from isp_nlp.review.run import project_review, review_project
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project


def test_review_project_runs_a_script_and_records_it(project_copy: Path) -> None:
    with open_project(project_copy) as store:
        total = project_review(store, "yan").total
        summary = review_project(store, "yan", order="document", script=["a", "r", "s", "q"])
        assert (summary.accepted, summary.rejected, summary.skipped) == (1, 1, 1)
        assert summary.remaining == total - 2
        actions = [e["action"] for e in DecisionLog(store).entries("yan")]
        assert actions == ["accept", "reject", "skip"]


def test_interactive_review_needs_its_readers(project_copy: Path) -> None:
    with open_project(project_copy) as store, pytest.raises(TypeError, match="read_key"):
        review_project(store, "yan")


def test_place_coded_csv_puts_the_seed_codes_on_their_segments(project_copy: Path) -> None:
    with open_project(project_copy) as store:
        placed = place_coded_csv(store, default_corpus() / "seed_codes.csv")
        segment_ids = {s.id for s in store.segments()}
    assert placed.mapping.mapped and not placed.mapping.dropped
    assert set(placed.frame["segment_id"]) <= segment_ids
    assert set(placed.documents) == segment_ids


def test_place_coded_csv_refuses_a_file_placing_nothing(project_copy: Path,
                                                        tmp_path: Path) -> None:
    csv = tmp_path / "other.csv"
    csv.write_text("document,segment,text,coder,code,stage\n"
                   "nowhere,,hello there,ana,,push\n", encoding="utf-8")
    with open_project(project_copy) as store, pytest.raises(InputFileError, match="no row"):
        place_coded_csv(store, csv)
