"""`isp-nlp review`'s orders and filters, and its line mode when no terminal is attached."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.review_queue import suggested_project


@pytest.fixture(scope="module")
def queue_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suggested_project(tmp_path_factory.mktemp("queue"), documents=3, turns=40)


def review(project: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["--project", str(project), "review", *args], input=stdin)


def decided(project: Path, coder: str) -> list[dict]:
    with open_project(project) as store:
        return [e for e in DecisionLog(store).entries(coder) if e["action"] == "skip"]


def test_filters_choose_the_segments_scripted_decisions_land_on(queue_project: Path) -> None:
    r = review(queue_project, "--coder", "f1", "--document", "interview001.txt",
               "--speaker", "p01", "--min-words", "5", "--script", "s,s,s,q")
    assert r.exit_code == 0, r.output
    rows = decided(queue_project, "f1")
    assert len(rows) == 3 and {e["document"] for e in rows} == {"interview001"}
    r = review(queue_project, "--coder", "f2", "--has-value", "stage=push", "--code",
               "funding", "--script", "s,q")
    assert r.exit_code == 0, r.output
    (row,) = decided(queue_project, "f2")
    suggestion = row["detail"]["suggestion"]
    assert suggestion["values"]["stage"][0] == "push"
    assert "funding" in [c for c, _ in suggestion["codes"][:5]]


def test_random_order_repeats_with_its_seed_and_changes_with_another(queue_project: Path
                                                                     ) -> None:
    firsts = []
    for coder, seed in (("s1", "4"), ("s2", "4"), ("s3", "5")):
        r = review(queue_project, "--coder", coder, "--order", "random", "--seed", seed,
                   "--script", "s,s,q")
        assert r.exit_code == 0, r.output
        firsts.append([e["segment_id"] for e in decided(queue_project, coder)])
    assert firsts[0] == firsts[1] != firsts[2]


def test_confident_order_starts_with_the_least_uncertain(queue_project: Path) -> None:
    r = review(queue_project, "--coder", "c1", "--order", "confident", "--backchannels",
               "--script", "s,s,q")
    assert r.exit_code == 0, r.output
    scores = [e["detail"]["suggestion"]["score"] for e in decided(queue_project, "c1")]
    assert scores == sorted(scores)


@pytest.mark.parametrize(("args", "message"), [
    (["--code", "nope"], "--code 'nope' is not a code of the codebook"),
    (["--document", "missing"], "--document 'missing' is not in the project"),
    (["--has-value", "stage"], "--has-value 'stage' is not DIM=VALUE"),
    (["--has-value", "phase=late"], "names dimension 'phase', which the codebook lacks"),
    (["--order", "sideways"], "Invalid value for '--order'"),
    (["--code", "coachng"], "(did you mean 'coaching'?)"),
    (["--document", "interveiw001"], "(did you mean 'interview001'?)"),
])
def test_a_bad_filter_is_one_sentence_and_exit_2(queue_project: Path, args: list[str],
                                                  message: str) -> None:
    r = review(queue_project, "--coder", "bad", *args, "--script", "q")
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_without_a_terminal_review_works_line_by_line(queue_project: Path) -> None:
    r = review(queue_project, "--coder", "l1", stdin="s")
    assert r.exit_code == 0, r.output
    assert "[a] accept  [r] reject" in r.output and "Review by l1" in r.output
    r = review(queue_project, "--coder", "l1", "--line", stdin="q")
    assert r.exit_code == 0 and "Review by l1" in r.output


@pytest.mark.parametrize("blind", [False, True])
def test_a_coder_name_differing_only_in_case_is_refused(queue_project: Path,
                                                        blind: bool) -> None:
    """`--coder Ana` beside `ana`, who coded the seeds, would silently start a second coder."""
    before = decided(queue_project, "Ana")
    r = review(queue_project, "--coder", " Ana", *(["--blind"] if blind else []),
               "--script", "s,q")
    assert r.exit_code == 2, r.output
    assert "differs only in case or spacing from 'ana'" in r.output
    assert "--coder ana" in r.output and "Traceback" not in r.output
    assert decided(queue_project, "Ana") == before == []
    assert review(queue_project, "--coder", "ana", "--script", "q").exit_code == 0
    assert review(queue_project, "--coder", "ana ", "--script", "q").exit_code == 0  # same
