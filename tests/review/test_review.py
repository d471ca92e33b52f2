"""Tests for the review queue, session logic and terminal loop."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from isp_nlp.codebook.check import stage_dimension
from isp_nlp.errors import IspNlpError
from isp_nlp.records import STAGES, Code, Codebook, Evidence, Segment
from isp_nlp.review.queue import SORTERS, ReviewItem, by_uncertainty, in_document_order, pending
from isp_nlp.review.session import ReviewSession
from isp_nlp.review.terminal import ReviewSummary, render_item, run_review, run_scripted
from tests.builders.review_items import MemoryRecorder

CODEBOOK = Codebook(
    name="isp",
    codes=(
        Code("capacity_building", "Capacity building"),
        Code("peer_learning", "Peer learning"),
        Code("trust", "Trust", parent="peer_learning"),
    ),
    dimensions=(stage_dimension(tuple(Code(s, s, dimension="stage") for s in STAGES)),),
)


def seg(document: str, index: int, text: str, speaker: str | None = "P1") -> Segment:
    return Segment(
        id=f"{document}-{index}", document=document, index=index, turn_index=index,
        unit="turn", speaker=speaker, start=0, end=len(text), text=text,
    )


def item(
    document: str,
    index: int,
    score: float,
    *,
    text: str | None = None,
    codes=(("capacity_building", 0.81), ("peer_learning", 0.55), ("trust", 0.10)),
    suggested=("capacity_building", "peer_learning"),
    stage=("push_pull", 0.72),
    model_id: str = "m1",
) -> ReviewItem:
    text = text or f"Segment {index} of {document} about training the local staff."
    previous = seg(document, index - 1, "What happened next?", "Interviewer") if index else None
    evidence = (
        Evidence("ex-1", 0.91, "We trained the nurses ourselves.", ("capacity_building",)),
        Evidence("ex-2", 0.77, "Other hospitals showed us how.", ("peer_learning", "push")),
        Evidence("ex-3", 0.60, "The ministry sent a memo.", ()),
        Evidence("ex-4", 0.40, "FOURTH EVIDENCE NOT SHOWN", ()),
    )
    return ReviewItem(
        segment=seg(document, index, text), previous=previous, codes=tuple(codes),
        suggested_codes=tuple(suggested), values=(("stage", stage),), evidence=evidence,
        score=score,
        model_id=model_id,
    )


@pytest.fixture
def items() -> list[ReviewItem]:
    return [item("b", 0, 0.2), item("a", 1, 0.9), item("a", 0, 0.5), item("c", 3, 0.5)]


def session_for(items, recorder=None, coder="alice") -> ReviewSession:
    return ReviewSession(list(by_uncertainty(items)), recorder or MemoryRecorder(), coder, CODEBOOK)


def ids(seq) -> list[str]:
    return [it.segment.id for it in seq]


# -- queue -----------------------------------------------------------------
def test_key_depends_on_content_not_probabilities():
    base = item("a", 0, 0.5)
    rescored = item("a", 0, 0.1, codes=(("capacity_building", 0.6), ("peer_learning", 0.52)))
    assert base.key == rescored.key and len(base.key) == 64
    reordered = item("a", 0, 0.5, suggested=("peer_learning", "capacity_building"))
    assert reordered.key == base.key
    assert item("a", 0, 0.5, text="Different words.").key != base.key
    assert item("a", 0, 0.5, model_id="m2").key != base.key
    assert item("a", 0, 0.5, stage=None).key != base.key
    assert item("a", 0, 0.5, suggested=("trust",)).key != base.key


def test_sorters_order_most_uncertain_first_with_document_ties(items):
    assert ids(by_uncertainty(items)) == ["a-1", "a-0", "c-3", "b-0"]
    assert ids(in_document_order(items)) == ["a-0", "a-1", "b-0", "c-3"]
    assert set(SORTERS) == {"uncertain", "confident", "document", "random"}
    nan = item("a", 5, math.nan)
    assert ids(by_uncertainty([nan, *items]))[-1] == "a-5"


def test_pending_drops_final_verdicts_and_moves_skipped_last(items):
    ordered = list(by_uncertainty(items))
    keys = {it.segment.id: it.key for it in ordered}
    decided = {keys["a-1"]: "skip", keys["a-0"]: "accept", keys["b-0"]: "relabel"}
    assert ids(pending(ordered + [ordered[0]], decided)) == ["c-3", "a-1"]
    assert ids(pending(ordered, {keys["c-3"]: "reject"})) == ["a-1", "a-0", "b-0"]


# -- session ---------------------------------------------------------------
def test_accept_reject_skip_record_decisions_in_order(items):
    recorder = MemoryRecorder()
    session = session_for(items, recorder)
    assert session.progress() == (0, 4)
    first = session.current()
    decision = session.accept()
    assert recorder.effective() == [decision]
    assert decision.action == "accept" and decision.item_key == first.key
    assert decision.codes == ("capacity_building", "peer_learning")
    assert decision.value("stage") == "push_pull" and decision.model_id == "m1"
    assert decision.segment_id == "a-1"
    assert session.reject().codes == () and session.skip().value("stage") is None
    assert [d.action for d in recorder.effective()] == ["accept", "reject", "skip"]
    assert session.progress() == (2, 4)
    assert ids([session.current()]) == ["b-0"]


def test_suggestion_snapshot_is_json_safe():
    it = item("a", 0, np.float32(0.5), codes=(("capacity_building", np.float64(0.8)),),
              suggested=("capacity_building",), stage=("push", np.float32(0.6)))
    decision = ReviewSession([it], MemoryRecorder(), "bob", CODEBOOK).accept()
    snap = json.loads(json.dumps(decision.suggestion))
    assert snap["codes"] == [["capacity_building", pytest.approx(0.8)]]
    assert snap["values"]["stage"][0] == "push"
    assert [e["segment_id"] for e in snap["evidence"]] == ["ex-1", "ex-2", "ex-3", "ex-4"]


def test_accept_when_model_abstains_on_stage_asserts_no_stage():
    session = ReviewSession([item("a", 0, 0.5, stage=None)], MemoryRecorder(), "al", CODEBOOK)
    assert session.accept().value("stage") is None


def test_resume_skips_decided_items_and_puts_skipped_at_end(items):
    recorder = MemoryRecorder()
    first = session_for(items, recorder)
    first.accept()  # a-1
    first.skip()  # a-0
    second = session_for(items, recorder)
    assert second.progress() == (1, 4)
    order = []
    while second.current() is not None:
        order.append(second.current().segment.id)
        second.reject()
    assert order == ["c-3", "b-0", "a-0"]
    assert second.progress() == (4, 4)
    other_coder = session_for(items, recorder, coder="bob")
    assert other_coder.progress() == (0, 4) and other_coder.current().segment.id == "a-1"


def test_undo_moves_back_and_reverts(items):
    recorder = MemoryRecorder()
    session = session_for(items, recorder)
    session.accept()
    session.relabel(["trust"], "exchange")
    assert session.current().segment.id == "c-3"
    undone = session.undo()
    assert undone.action == "relabel" and undone.segment_id == "a-0"
    assert session.current().segment.id == "a-0"
    assert [d.action for d in recorder.effective()] == ["accept"]
    assert [d.action for d in session.decisions()] == ["accept"]
    assert session.undo().segment_id == "a-1"
    assert session.current().segment.id == "a-1"
    assert session.undo() is None and session.progress() == (0, 4)
    session.reject()
    assert session.current().segment.id == "a-0"  # order intact after undoing


def test_undo_works_across_resume_and_for_items_outside_the_queue(items):
    recorder = MemoryRecorder()
    session_for(items, recorder).accept()  # a-1, earlier session
    resumed = session_for(items, recorder)
    assert resumed.current().segment.id == "a-0"
    undone = resumed.undo()
    assert undone.segment_id == "a-1" and resumed.contains(undone.item_key)
    assert resumed.current().segment.id == "a-1" and recorder.decided("alice") == {}

    recorder2 = MemoryRecorder()
    outside = item("z", 9, 0.3)
    ReviewSession([outside], recorder2, "alice", CODEBOOK).accept()
    narrow = session_for(items, recorder2)
    undone = narrow.undo()
    assert undone.segment_id == "z-9" and not narrow.contains(undone.item_key)
    assert narrow.current().segment.id == "a-1" and recorder2.effective() == []


def test_relabel_validates_against_codebook(items):
    recorder = MemoryRecorder()
    session = session_for(items, recorder)
    with pytest.raises(IspNlpError, match=r"'nonsense'.*capacity_building, peer_learning, trust"):
        session.relabel(["trust", "nonsense"], None)
    with pytest.raises(IspNlpError, match=r"'pull'.*push, push_pull, exchange, none"):
        session.relabel(["trust"], "pull")
    assert recorder.log == [] and session.current().segment.id == "a-1"
    decision = session.relabel(["trust", " trust", "peer_learning"], "none")
    assert decision.codes == ("trust", "peer_learning") and decision.value("stage") == "none"
    assert session.relabel([], None).codes == ()


def test_a_codebook_without_stages_offers_and_takes_no_stage(items):
    from dataclasses import replace

    session = ReviewSession(list(by_uncertainty(items)), MemoryRecorder(), "alice",
                            replace(CODEBOOK, dimensions=()))
    assert session.dimensions == ()
    with pytest.raises(IspNlpError, match="has no dimensions, so a value 'push' cannot be given"):
        session.relabel(["trust"], "push")
    assert session.relabel(["trust"], None).values == ()


def test_record_failure_does_not_advance(items):
    class Failing(MemoryRecorder):
        def record(self, decision):
            raise OSError("disk full")

    session = session_for(items, Failing())
    with pytest.raises(OSError):
        session.accept()
    assert session.current().segment.id == "a-1" and session.decisions() == ()


def test_empty_coder_and_exhausted_queue_raise_domain_errors():
    with pytest.raises(IspNlpError, match="coder"):
        ReviewSession([], MemoryRecorder(), "  ", CODEBOOK)
    session = ReviewSession([], MemoryRecorder(), "al", CODEBOOK)
    assert session.current() is None
    with pytest.raises(IspNlpError, match="no segment left to accept"):
        session.accept()


# -- terminal --------------------------------------------------------------
class Script:
    """Feeds keys and lines; checks the recorder state whenever a card is rendered."""

    def __init__(self, keys, lines=(), recorder=None):
        self.keys, self.lines = list(keys), list(lines)
        self.out: list[str] = []
        self.prompts: list[str] = []
        self.recorder = recorder
        self.log_size_at_render: list[int] = []

    def read_key(self) -> str:
        return self.keys.pop(0) if self.keys else ""

    def read_line(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def write(self, text: str) -> None:
        if "[a] accept" in text and self.recorder is not None:
            self.log_size_at_render.append(len(self.recorder.log))
        self.out.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.out)

    def run(self, session: ReviewSession) -> ReviewSummary:
        return run_review(session, read_key=self.read_key, write=self.write,
                          read_line=self.read_line, width=80)


def test_render_shows_progress_context_text_suggestion_and_top_evidence():
    it = item("a", 4, 0.62, text="We built a training programme with the district nurses.")
    card = render_item(it, (11, 80), width=80)
    assert "[12/80] a · segment #4 · P1" in card
    assert "… Interviewer: What happened next?" in card
    assert "We built a training programme with the district nurses." in card
    assert "codes: capacity_building 0.81, peer_learning 0.55" in card
    assert "stage: push_pull 0.72" in card
    assert "0.91  [capacity_building]  We trained the nurses ourselves." in card
    assert "FOURTH EVIDENCE" not in card
    assert all(len(line) <= 80 for line in card.splitlines())
    wide = render_item(it, (11, 80), width=100)
    assert "peer_learning 0.55 (next: trust 0.10) | stage: push_pull 0.72" in wide
    abstain = render_item(item("a", 0, 0.1, stage=None, suggested=()), (0, 1))
    assert "model abstains on stage" in abstain and "none above threshold" in abstain


def test_a_code_just_below_the_threshold_never_shows_as_the_threshold():
    below = replace(item("a", 0, 0.1, stage=None, suggested=()),
                    codes=(("closed_question", 0.2496), ("trust", 0.1)))
    card = render_item(below, (0, 1), width=80)
    assert "none above threshold (best: closed_question 0.24, trust 0.10)" in card


def test_terminal_loop_records_each_decision_before_next_render(items):
    recorder = MemoryRecorder()
    script = Script(["a", "x", "r", "s", "q"], recorder=recorder)
    summary = script.run(session_for(items, recorder))
    assert summary == ReviewSummary(accepted=1, rejected=1, relabelled=0, skipped=1, undone=0,
                                    remaining=2)
    assert [(d.action, d.segment_id) for d in recorder.effective()] == [
        ("accept", "a-1"), ("reject", "a-0"), ("skip", "c-3")]
    # one card per item shown (unknown key does not re-render); the log grew before each card
    assert script.log_size_at_render == [0, 1, 2, 3]
    assert "unknown key 'x'" in script.text
    assert "[1/4] a · segment #1" in script.text and "[2/4] a · segment #0" in script.text
    assert "Segment 1 of a about training" in script.text
    assert "We trained the nurses ourselves." in script.text


def test_question_mark_explains_what_each_key_records(items):
    recorder = MemoryRecorder()
    script = Script(["?", "q"], recorder=recorder)
    summary = script.run(session_for(items, recorder))
    assert summary.accepted == 0 and recorder.log == []  # help decides nothing
    assert "r  reject: none of the suggested codes apply" in script.text
    assert "unknown key" not in script.text
    assert all(len(line) <= 80 for line in script.text.splitlines())


def test_eof_from_read_key_behaves_like_quit(items):
    recorder = MemoryRecorder()
    summary = Script([], recorder=recorder).run(session_for(items, recorder))
    assert summary == ReviewSummary(0, 0, 0, 0, 0, 4) and recorder.log == []


def test_terminal_relabel_reprompts_on_invalid_input(items):
    recorder = MemoryRecorder()
    script = Script(["e", "q"], lines=["9", "trust, bogus", "1,Trust", "pull", ""],
                    recorder=recorder)
    summary = script.run(session_for(items, recorder))
    assert summary.relabelled == 1
    (decision,) = recorder.effective()
    assert decision.codes == ("capacity_building", "trust")
    assert decision.value("stage") == "push_pull"  # empty answer keeps the suggestion
    assert "Code number 9 is out of range" in script.text
    assert "'bogus' is not in codebook" in script.text
    assert "'pull' is not a stage" in script.text
    assert "  3.   trust — Trust" in script.text and "*  1. capacity_building" in script.text
    assert script.prompts.count("codes (numbers or ids, comma-separated, empty for none): ") == 3
    assert script.prompts[-1].startswith("stage [push/push_pull/exchange/none")


def test_terminal_relabel_can_be_cancelled(items):
    recorder = MemoryRecorder()
    script = Script(["e", "e", "a"], lines=["."], recorder=recorder)  # 2nd relabel hits EOF
    summary = script.run(session_for(items, recorder))
    assert script.text.count("relabel cancelled") == 2
    assert summary.accepted == 1 and [d.action for d in recorder.effective()] == ["accept"]


def test_terminal_undo_and_finish_screen(items):
    recorder = MemoryRecorder()
    script = Script(["a", "u", "r", "a", "a", "a", "u", "q"], recorder=recorder)
    summary = script.run(session_for(items, recorder))
    assert "undid accept of segment a-1" in script.text
    assert "No segments left in this queue: 4/4 decided" in script.text
    assert "undid accept of segment b-0" in script.text
    assert summary == ReviewSummary(accepted=2, rejected=1, relabelled=0, skipped=0, undone=2,
                                    remaining=1)
    assert [(d.action, d.segment_id) for d in recorder.effective()] == [
        ("reject", "a-1"), ("accept", "a-0"), ("accept", "c-3")]
    nothing = Script(["u"]).run(session_for([]))
    assert nothing == ReviewSummary(0, 0, 0, 0, 0, 0)


def test_run_scripted_applies_actions(items):
    recorder = MemoryRecorder()
    summary = run_scripted(
        session_for(items, recorder),
        ["a", "r", "e:capacity_building,peer_learning|exchange", "s", "u", "e:2|", "q", "a"],
    )
    assert summary == ReviewSummary(accepted=1, rejected=1, relabelled=2, skipped=0, undone=1,
                                    remaining=0)
    got = [(d.action, d.segment_id, d.codes, d.value("stage")) for d in recorder.effective()]
    assert got == [
        ("accept", "a-1", ("capacity_building", "peer_learning"), "push_pull"),
        ("reject", "a-0", (), None),
        ("relabel", "c-3", ("capacity_building", "peer_learning"), "exchange"),
        ("relabel", "b-0", ("peer_learning",), "push_pull"),
    ]


def test_run_scripted_rejects_bad_actions(items):
    with pytest.raises(IspNlpError, match=r"#2 'x'"):
        run_scripted(session_for(items), ["a", "x"])
    with pytest.raises(IspNlpError, match=r"#1 'e:nope\|push'.*'nope' is not in codebook"):
        run_scripted(session_for(items), ["e:nope|push"])
    with pytest.raises(IspNlpError, match="no segment left"):
        run_scripted(session_for([item("a", 0, 0.1)]), ["a", "a"])


def test_no_escape_sequence_from_a_transcript_reaches_the_terminal():
    evil = "We \x1b]0;pwned\x07trained \x1b[31mstaff\x1b[0m and \u202eevil\u202c\u2067x\u2069."
    script = Script(["\x1b", "q"])
    script.run(session_for([item("a", 0, 0.5, text=evil)]))
    assert script.text and "\x1b" not in script.text and "\x07" not in script.text
    assert "\u202e" not in script.text and "\u2067" not in script.text
    assert "<U+001B>]0;pwned<U+0007>trained" in script.text
    assert "unknown key '\\x1b'" in script.text


def test_the_same_coder_in_two_sessions_never_decides_an_item_twice(tmp_path):
    from isp_nlp.errors import AlreadyDecided
    from isp_nlp.store.database import Store
    from isp_nlp.store.decisions import DecisionLog
    from tests.builders.transcripts import make_transcript

    path = tmp_path / "project.sqlite"
    with Store.create(path) as s:
        t, segs = make_transcript("a", n=2)
        s.add_transcripts([(t, segs, "turn")])
    items = [item("a", 0, 0.5), item("a", 1, 0.4)]
    for it in items:  # the items' segments are the stored ones
        assert it.segment.id in {"a-0", "a-1"}
    first, second = Store.open(path), Store.open(path)
    try:
        one = session_for(items, DecisionLog(first))
        two = session_for(items, DecisionLog(second))  # opened before either decides
        assert one.current().key == two.current().key
        one.accept()
        with pytest.raises(AlreadyDecided, match="already decided this segment \\(accept\\)"):
            two.reject()
        assert two.current().key == one.current().key  # the second session moved on too
        two.reject()
        log = DecisionLog(first).entries("alice")
        assert [(e["action"], e["segment_id"]) for e in log] == [("accept", items[0].segment.id),
                                                                 ("reject", items[1].segment.id)]
        script = Script(["r", "q"])
        three = session_for(items, DecisionLog(first))
        assert three.current() is None and script.run(three).accepted == 0
    finally:
        first.close()
        second.close()
