"""A long queue shows its first segment at once: the store keeps the queue's scores, a
review starts from the first segments in its order, and reads the rest once the first
segment is on screen (issue 22, speed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from isp_nlp.records import CODE_DIMENSION, Suggestion
from isp_nlp.review import run
from isp_nlp.review.items import (
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    ItemDetails,
    build_review_items,
    keep_review_scores,
)
from isp_nlp.review.queue import ReviewFilter
from isp_nlp.review.run import project_items, project_review, quick_review
from isp_nlp.review.screen import ReviewApp
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.review_queue import MODEL, suggested_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suggested_project(tmp_path_factory.mktemp("quick") / "p", documents=4, turns=60)


def keys(items) -> list[str]:
    return [it.key for it in items]


def test_no_quick_start_before_the_scores_are_kept(tmp_path: Path) -> None:
    with open_project(suggested_project(tmp_path / "p", documents=2, turns=20)) as store:
        assert not store.review_scores_kept(MODEL)
        session, complete = quick_review(store, "zoe")
        assert complete is None  # the whole queue was read, and its scores kept
        assert store.review_scores_kept(MODEL)
        assert session.total == len(project_items(store, "zoe"))


@pytest.mark.parametrize("order", ["uncertain", "confident", "document"])
@pytest.mark.parametrize("only", [ReviewFilter(), ReviewFilter(min_words=8),
                                  ReviewFilter(backchannels=True),
                                  ReviewFilter(documents=("interview001",))])
def test_the_quick_start_shows_what_the_whole_queue_shows_first(
        project: Path, order: str, only: ReviewFilter, request: pytest.FixtureRequest) -> None:
    coder = request.node.name  # the walk below skips every item: a coder per case
    with open_project(project) as store:
        build_review_items(store, "ana")  # keeps the scores
        whole = project_items(store, coder, order=order, only=only)
        session, complete = quick_review(store, coder, order=order, only=only)
        assert complete is not None
        first = session.current()
        assert first is not None and first.key == whole[0].key
        assert first.evidence and first.before  # its details are read
        session.rerank(complete())
        assert session.total == len(whole)
        walked = []
        while (item := session.current()) is not None:
            walked.append(item.key)
            session.skip()
        assert walked == keys(whole)


def test_random_order_reads_the_whole_queue(project: Path) -> None:
    with open_project(project) as store:
        build_review_items(store, "ana")
        session, complete = quick_review(store, "zoe", order="random", seed=3)
        assert complete is None
        assert keys([session.current()]) == keys(project_items(store, "zoe", order="random",
                                                               seed=3)[:1])


def test_a_head_of_decided_segments_falls_back_to_the_whole_queue(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_project(project) as store:
        build_review_items(store, "ana")
        session = project_review(store, "yan", order="confident")
        for _ in range(3):
            session.accept()
        # the first 3 segments in confident order are decided: a head of 3 holds no
        # segment to show, so the session is the whole queue's
        monkeypatch.setattr(run, "FIRST_ITEMS", 3)
        again, complete = quick_review(store, "yan", order="confident")
        assert complete is None
        assert again.current() is not None
        assert again.current().key == project_items(store, "yan", order="confident")[3].key


def test_new_suggestions_drop_the_kept_scores(project: Path, tmp_path: Path) -> None:
    root = suggested_project(tmp_path / "p", documents=2, turns=20)
    with open_project(root) as store:
        build_review_items(store, "zoe")
        assert store.review_scores_kept(MODEL)
        seg = next(s for s in store.segments() if s.codable)
        store.replace_suggestions(MODEL, [Suggestion(seg.id, MODEL, CODE_DIMENSION, "training",
                                                     0.9, True)])
        assert not store.review_scores_kept(MODEL)
        assert [i.segment.id for i in build_review_items(store, "zoe")] == [seg.id]


def test_details_are_the_neighbouring_turns_and_the_evidence(project: Path) -> None:
    with open_project(project) as store:
        segments = store.segments()
        item = build_review_items(store, "zoe")[5]
        assert item.evidence == () and item.before == () and item.after == ()
        shown = ItemDetails(store)(item)
        at = next(i for i, s in enumerate(segments) if s.id == item.segment.id)
        doc = item.segment.document
        assert shown.before == tuple(s for s in segments[max(at - CONTEXT_BEFORE, 0):at]
                                     if s.document == doc)
        assert shown.after == tuple(s for s in segments[at + 1:at + 1 + CONTEXT_AFTER]
                                    if s.document == doc)
        assert shown.previous == (shown.before[-1] if shown.before else None)
        stored = [s for s in store.suggestions(MODEL) if s.segment_id == item.segment.id]
        assert shown.evidence == min(stored, key=lambda s: s.dimension).evidence
        assert len(shown.evidence_coders) == len(shown.evidence)
        assert shown.key == item.key


def test_a_decision_keeps_the_evidence_that_was_shown(project: Path, tmp_path: Path) -> None:
    root = suggested_project(tmp_path / "p", documents=2, turns=20)
    with open_project(root) as store:
        session = project_review(store, "zoe")
        shown = session.current()
        assert shown is not None and shown.evidence
        session.accept()
        row = DecisionLog(store).entries("zoe")[-1]
        assert [e["segment_id"] for e in row["detail"]["suggestion"]["evidence"]] == [
            ev.segment_id for ev in shown.evidence]


def test_the_screen_reads_the_rest_of_the_queue_after_the_first_segment(
        project: Path) -> None:
    with open_project(project) as store:
        build_review_items(store, "ana")
        session, complete = quick_review(store, "zoe")
        assert complete is not None
        whole = project_items(store, "zoe")
        app = ReviewApp(session, complete=complete)

        async def go() -> None:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                assert app.item is not None and app.item.key == whole[0].key
                status = str(app.query_one("#status").render())
                assert f"done 0/{len(whole)} · {len(whole)} left" in status, status
                await pilot.press("s")
                assert app.item is not None and app.item.key == whole[1].key

        asyncio.run(go())


def test_suggest_keeps_the_scores_so_the_first_review_starts_at_once(tmp_path: Path) -> None:
    root = suggested_project(tmp_path / "p", documents=2, turns=20)
    with open_project(root) as store:
        assert not store.review_scores_kept(MODEL)
        keep_review_scores(store, MODEL)
        assert store.review_scores_kept(MODEL)
        kept = dict(store.conn.execute(
            "SELECT segment_id, score FROM review_scores WHERE model_id = ?", (MODEL,)))
        assert kept == {i.segment.id: i.score
                        for i in build_review_items(store, "zoe", keep_coded=True)}
