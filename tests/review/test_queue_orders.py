"""The new orders and filters of the review queue, and the session's ticked accept,
exclusive-code refusal and re-ranking (pure: items and an in-memory recorder)."""

from __future__ import annotations

import random

import pytest

from isp_nlp.errors import IspNlpError
from isp_nlp.records import Suggestion
from isp_nlp.review.items import uncertainties, uncertainty
from isp_nlp.review.queue import (
    ReviewFilter,
    by_confidence,
    by_uncertainty,
    filter_items,
    shown_codes,
    shuffled,
    sorter,
)
from isp_nlp.review.session import ReviewSession
from tests.builders.review_items import CODEBOOK, MemoryRecorder, items, make_item


def keys(seq) -> list[str]:
    return [it.segment.id for it in seq]


def test_confident_is_the_reverse_of_uncertain_with_document_ties() -> None:
    got = [make_item("b", 0, 0.5), make_item("a", 1, 0.9), make_item("a", 0, 0.5),
           make_item("c", 0, float("nan"))]
    assert keys(by_confidence(got)) == ["a-0", "b-0", "a-1", "c-0"]
    assert keys(by_uncertainty(got)) == ["a-1", "a-0", "b-0", "c-0"]


def test_random_is_seeded_and_independent_of_the_input_order() -> None:
    got = items(30)
    first = keys(shuffled(got, 3))
    assert first == keys(shuffled(list(reversed(got)), 3))
    assert first != keys(shuffled(got, 4))
    assert sorted(first) == sorted(keys(got))
    assert keys(sorter("random", 3)(got)) == first
    with pytest.raises(IspNlpError, match="--order 'sideways'"):
        sorter("sideways")


def test_filters_by_code_document_speaker_value_and_words() -> None:
    two = (("capacity_building", 0.8), ("peer_learning", 0.6))
    a = make_item("doc1", 1, 0.5, codes=two, suggested=("capacity_building",), speaker="Ann")
    b = make_item("doc2", 2, 0.5, suggested=(), codes=(("trust", 0.3),), stage=None,
                  text="Short one here.")
    c = make_item("doc2", 3, 0.5, codes=two, suggested=("peer_learning",),
                  stage=("exchange", 0.8))
    every = [a, b, c]

    def kept(**given) -> list[str]:
        return keys(filter_items(every, ReviewFilter(backchannels=True, **given)))

    assert kept(code="trust") == ["doc2-2"]  # shown, not suggested
    assert kept(code="peer_learning") == ["doc1-1", "doc2-3"]
    assert kept(documents=("doc2",)) == ["doc2-2", "doc2-3"]
    assert kept(speaker="ann") == ["doc1-1"]
    assert kept(has_values=(("stage", "exchange"),)) == ["doc2-3"]
    assert kept(min_words=4) == ["doc1-1", "doc2-3"]
    assert kept() == ["doc1-1", "doc2-2", "doc2-3"]


def test_backchannels_go_to_the_back_unless_asked_for() -> None:
    got = [make_item("d", 0, 0.9, text="Mm-hmm."), make_item("d", 1, 0.8),
           make_item("d", 2, 0.7, text="Yeah."), make_item("d", 3, 0.6)]
    assert keys(filter_items(got, ReviewFilter())) == ["d-1", "d-3", "d-0", "d-2"]
    assert keys(filter_items(got, ReviewFilter(backchannels=True))) == \
        ["d-0", "d-1", "d-2", "d-3"]


def test_shown_codes_are_the_suggested_then_the_most_probable_up_to_the_limit() -> None:
    it = make_item("d", 0, 0.5, suggested=("peer_learning",))
    assert shown_codes(it, 3) == ("peer_learning", "capacity_building", "open")


def session(recorder: MemoryRecorder, got=None) -> ReviewSession:
    return ReviewSession(got if got is not None else items(6), recorder, "zoe", CODEBOOK)


def test_accept_a_ticked_subset_is_still_accept_and_keeps_the_snapshot() -> None:
    rec = MemoryRecorder()
    s = session(rec)
    shown = s.current()
    d = s.accept(codes=["peer_learning"])
    assert (d.action, d.codes, d.values) == ("accept", ("peer_learning",),
                                             (("stage", "push_pull"),))
    assert d.suggestion["suggested_codes"] == list(shown.suggested_codes)
    nothing = s.accept(codes=[], values={})
    assert (nothing.action, nothing.codes, nothing.values) == ("accept", (), ())
    assert [x.action for x in rec.effective()] == ["accept", "accept"]


def test_accept_and_relabel_refuse_exclusive_codes_and_record_nothing() -> None:
    rec = MemoryRecorder()
    s = session(rec)
    with pytest.raises(IspNlpError, match="'open' and 'closed' are mutually exclusive.*"
                                          "keep one of the two"):
        s.accept(codes=["open", "closed"])
    with pytest.raises(IspNlpError, match="'open' and 'closed'"):
        s.relabel(["trust", "open", "closed"])
    both = make_item("x", 0, 0.5, suggested=("open", "closed"))
    with pytest.raises(IspNlpError, match="mutually exclusive"):
        session(rec, [both]).accept()
    assert rec.log == []
    assert s.relabel(["open", "trust"]).codes == ("open", "trust")


def test_rerank_replaces_the_pending_queue_and_keeps_the_current_item() -> None:
    rec = MemoryRecorder()
    got = items(6)
    s = session(rec, got)
    first = s.accept()
    current = s.current()
    fresh = [make_item(it.segment.document, it.segment.index, 1 - it.score, model_id="m2")
             for it in got]
    s.rerank(list(reversed(fresh)))
    assert s.current() is current  # still pending: stays on screen
    order = [current.segment.id] + [it.segment.id for it in reversed(fresh)
                                    if it.segment.id not in (current.segment.id,)]
    queue = []
    while s.current() is not None:
        queue.append(s.current().segment.id)
        s.skip()
    assert queue == order  # the new model's items (not yet decided) in the new order
    done, total = s.progress()
    assert done == 1 and total == 7  # the decided item of the old model still counts
    assert s.undo() is not None and s.contains(first.item_key)


def test_rerank_drops_items_already_decided() -> None:
    rec = MemoryRecorder()
    got = items(4)
    s = session(rec, got)
    decided = s.current()
    s.reject()
    s.rerank(got)
    seen = []
    while s.current() is not None:
        seen.append(s.current().key)
        s.skip()
    assert decided.key not in seen and len(seen) == 3


def test_batch_uncertainties_equal_the_one_item_definition() -> None:
    rng = random.Random(4)
    groups = []
    for n in range(60):
        codes = [Suggestion(f"s{n}", "m", "code", c, rng.random(), False)
                 for c in rng.sample(["a", "b", "c", "d"], rng.randint(0, 4))]
        values = {dim: [Suggestion(f"s{n}", "m", dim, v, rng.random(), False)
                        for v in rng.sample(["x", "y", "z"], rng.randint(0, 3))]
                  for dim in rng.sample(["stage", "tone"], rng.randint(0, 2))}
        groups.append((codes, values))
    got = uncertainties(groups, 0.4)
    want = [uncertainty(c, v, 0.4) for c, v in groups]
    assert got == pytest.approx(want, abs=1e-12)
    assert len(set(round(x, 6) for x in got)) > 50  # spread, not ties
