"""`isp-nlp train` says how many reviewed segments it learned from, within 80 columns."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.records import Decision
from isp_nlp.review.items import build_review_items
from isp_nlp.review.session import snapshot
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.coded_projects import coded_project


def test_train_counts_accepted_relabelled_and_rejected(tmp_path: Path) -> None:
    path, _, _ = coded_project(tmp_path, leave_out="site2")
    with open_project(path) as store:
        first = train_project(store)
        suggest_project(store)
        items = build_review_items(store, "cleo")
        rejected = next(i for i in items if i.suggested_codes)
        log = DecisionLog(store)
        log.record(Decision("cleo", rejected.key, rejected.segment.id, "reject", (),
                            rejected.model_id, suggestion=snapshot(rejected)))
        for item in [i for i in items if i is not rejected][:2]:
            log.record(Decision("cleo", item.key, item.segment.id, "relabel", ("funding",),
                                item.model_id, suggestion=snapshot(item)))
    result = CliRunner().invoke(cli, ["--project", str(path), "train"])
    assert result.exit_code == 0, result.output
    n = first["segments"]
    text = " ".join(result.output.split())
    assert (f"Learned from {n} coded segments + 3 reviewed (2 accepted/relabelled, "
            f"1 rejected); calibrated and certified on the {n} only.") in text
    assert "Trained model" in result.output
    # every line fits 80 columns, but a path too long to fit, kept whole on its own line
    assert all(len(line) <= 80 or (len(line.split()) == 1 and "/" in line)
               for line in result.output.splitlines()), result.output
