"""The full-screen review driven with Textual's pilot at 80x24 (and 120x40): every key,
ticking, exclusive codes, the fuzzy relabel, memos, undo, help, quit and resizing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from rich.cells import cell_len

from isp_nlp.review.queue import ReviewItem
from isp_nlp.review.screen import LEGEND, ReviewApp
from isp_nlp.review.screen_text import fuzzy_rank
from isp_nlp.review.session import ReviewSession
from isp_nlp.review.terminal import ReviewSummary
from tests.builders.review_items import CODEBOOK, MemoryRecorder, items, make_item, screen_lines

Steps = Callable[[object], Awaitable[None]]


def drive(app: ReviewApp, steps: Steps, size: tuple[int, int] = (80, 24)) -> None:
    """Run ``app`` headless at ``size`` and apply ``steps`` to its pilot."""
    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await steps(pilot)

    asyncio.run(go())


def app_for(got: list[ReviewItem] | None = None, **options) -> tuple[ReviewApp, MemoryRecorder]:
    rec = MemoryRecorder()
    session = ReviewSession(got if got is not None else items(8), rec, "zoe", CODEBOOK)
    return ReviewApp(session, **options), rec


def text(app: ReviewApp) -> str:
    return "\n".join(screen_lines(app))


def status(app: ReviewApp) -> str:
    """The two status lines: progress, then the last message."""
    lines = screen_lines(app)
    at = next(n for n, line in enumerate(lines) if "[saved " in line)
    return "\n".join(lines[at:at + 2])


def test_the_first_screen_shows_everything_within_80_by_24() -> None:
    got = [make_item("doc0", 4, 0.83, certified=("code", "stage"))]
    app, _ = app_for(got)
    seen: list[str] = []

    async def steps(pilot) -> None:
        seen.extend(screen_lines(app))

    drive(app, steps)
    assert len(seen) == 24 and max(cell_len(line) for line in seen) <= 80
    body = "\n".join(seen)
    assert "doc0 · segment #4 · P1 · uncertainty 0.83" in body
    assert "Interviewer: Turn 2 before." in body and "Interviewer: Turn 3 before." in body
    assert "┃ P1: Segment 4 of doc0 about training the local staff." in body
    assert "Interviewer: And after that?" in body
    assert "› 1 [x] capacity_building (Capacity building)" in body
    assert "  2 [x] peer_learning (Peer learning)" in body
    assert "  3 [ ] open (Open question)" in body
    line = next(x for x in seen if "1 [x] capacity_building" in x)
    assert "0.81 ████████░░ cert" in line
    assert "Stage: push_pull" in body and "0.72 ███████░░░ cert" in body
    assert "0.91 [capacity_building] by ana: We trained the nurses ourselves." in body
    assert "0.64 [peer_learning] by ana, ben: Peers showed us how." in body
    assert "[saved 0] done 0/1 · 1 left · pace –" in body
    assert seen[-1].rstrip() == LEGEND


def test_a_accepts_what_is_ticked_and_the_status_says_saved() -> None:
    app, rec = app_for()
    first = app.session.current()

    async def steps(pilot) -> None:
        await pilot.press("a")
        assert "[saved 1] done 1/8 · 7 left" in status(app)
        assert "accepted (capacity_building, peer_learning)" in status(app)

    drive(app, steps)
    (d,) = rec.effective()
    assert (d.action, d.item_key, d.codes, d.values) == (
        "accept", first.key, ("capacity_building", "peer_learning"), (("stage", "push_pull"),))
    assert app.saved == 1


def test_number_keys_toggle_codes_and_accept_records_the_ticked_subset() -> None:
    app, rec = app_for()

    async def steps(pilot) -> None:
        await pilot.press("2")
        assert "› 2 [ ] peer_learning" in text(app) and "  1 [x] capacity" in text(app)
        assert app.ticked == {"capacity_building"}
        await pilot.press("a")
        await pilot.press("1", "2", "a")  # untick both: no code applies
        await pilot.press("2", "2", "a")  # untick, tick again: the whole suggestion

    drive(app, steps)
    assert [(d.action, d.codes) for d in rec.effective()] == [
        ("accept", ("capacity_building",)), ("accept", ()),
        ("accept", ("capacity_building", "peer_learning"))]
    assert rec.effective()[0].suggestion["suggested_codes"] == ["capacity_building",
                                                                "peer_learning"]


def test_ticking_a_code_unticks_its_exclusive_sibling() -> None:
    app, rec = app_for()

    async def steps(pilot) -> None:
        await pilot.press("3")
        assert app.ticked == {"capacity_building", "peer_learning", "open"}
        await pilot.press("4")
        assert app.ticked == {"capacity_building", "peer_learning", "closed"}
        assert "unticked open (exclusive)" in status(app)
        body = text(app)
        assert "3 [ ] open" in body and "4 [x] closed" in body
        await pilot.press("a")  # a code the model did not suggest: the coder's relabel

    drive(app, steps)
    (d,) = rec.effective()
    assert (d.action, d.codes) == ("relabel", ("capacity_building", "peer_learning", "closed"))


def test_r_rejects_and_s_skips() -> None:
    app, rec = app_for()

    async def steps(pilot) -> None:
        await pilot.press("r", "s")
        assert "[saved 2]" in status(app) and "skipped" in status(app)

    drive(app, steps)
    assert [(d.action, d.codes) for d in rec.effective()] == [("reject", ()), ("skip", ())]


def test_relabel_by_fuzzy_search_ticks_codes_and_a_value() -> None:
    app, rec = app_for()

    async def steps(pilot) -> None:
        await pilot.press("e")
        assert "chosen: capacity_building, peer_learning, stage=push_pull" in text(app)
        await pilot.press(*"trst")  # a subsequence of "trust"
        assert "› [ ] trust Trust" in text(app)
        await pilot.press("enter", *"pelrn", "enter")  # untick peer_learning
        await pilot.press(*"exchange", "enter")  # stage=exchange
        assert "chosen: capacity_building, trust, stage=exchange" in text(app)
        assert max(cell_len(line) for line in screen_lines(app)) <= 80
        await pilot.press("enter")  # empty search: save

    drive(app, steps)
    (d,) = rec.effective()
    assert (d.action, d.codes, d.values) == ("relabel", ("capacity_building", "trust"),
                                             (("stage", "exchange"),))


def test_relabel_refuses_exclusive_codes_by_unticking_and_escape_cancels() -> None:
    app, rec = app_for()

    async def steps(pilot) -> None:
        await pilot.press("e", *"open", "enter", *"closed", "enter")
        assert "unticked open (exclusive with closed)" in text(app)
        await pilot.press("escape")
        assert "relabel cancelled" in status(app)
        assert "[saved 0]" in status(app)

    drive(app, steps)
    assert rec.log == []


def test_fuzzy_rank_prefers_substrings_and_word_starts() -> None:
    choices = [(c.id, f"{c.id} {c.name}") for c in CODEBOOK.codes]
    assert fuzzy_rank("peer", choices)[0] == "peer_learning"
    assert fuzzy_rank("cls", choices)[0] == "closed"
    assert fuzzy_rank("zzz", choices) == []
    assert fuzzy_rank("", choices) == [c.id for c in CODEBOOK.codes]


def test_m_keeps_a_memo_on_the_current_segment() -> None:
    kept: list[tuple[str, str]] = []
    app, rec = app_for(memo=lambda item, note: kept.append((item.segment.id, note)))
    first = app.session.current()

    async def steps(pilot) -> None:
        await pilot.press("m", *"ask ben", "enter")
        assert "memo kept" in status(app)
        await pilot.press("m", *"never mind", "escape")

    drive(app, steps)
    assert kept == [(first.segment.id, "ask ben")]
    assert rec.log == []  # a memo decides nothing


def test_u_undoes_several_steps_and_saved_never_goes_down() -> None:
    got = items(8)
    app, rec = app_for(got)
    first = app.session.current()

    async def steps(pilot) -> None:
        await pilot.press("a", "r", "s")
        await pilot.press("u", "u")
        assert len(rec.effective()) == 1
        await pilot.press("u")
        assert "[saved 3] done 0/8" in status(app)
        await pilot.press("u")
        assert "nothing to undo" in status(app)

    drive(app, steps)
    assert rec.effective() == [] and app.session.current() == first
    assert app.undone == 3


def test_question_mark_shows_help_and_keys_do_nothing_under_it() -> None:
    app, rec = app_for(trust=("Model m1: certified.",))

    async def steps(pilot) -> None:
        await pilot.press("?")
        body = text(app)
        assert "accept what is ticked" in body and "reject: none of the suggested" in body
        assert "Model m1: certified." in body
        assert max(cell_len(line) for line in screen_lines(app)) <= 80
        await pilot.press("a", "r")  # the help is open: no decision
        await pilot.press("escape")
        assert "accept what is ticked" not in text(app)

    drive(app, steps)
    assert rec.log == []


def test_d_shows_the_highlighted_code_definition() -> None:
    app, _ = app_for()

    async def steps(pilot) -> None:
        await pilot.press("d")
        body = text(app)
        assert "definition: Building skills." in body and "include: Training staff." in body
        assert "exclude: Buying equipment." in body
        await pilot.press("escape", "down", "down", "d")
        assert "never together with: closed" in text(app)  # "open", the third code
        await pilot.press("escape")

    drive(app, steps)


def test_q_quits_with_the_summary_of_the_run() -> None:
    app, _ = app_for()

    async def steps(pilot) -> None:
        await pilot.press("a", "r", "s", "e", "enter", "q")

    drive(app, steps)
    assert app.return_value == ReviewSummary(accepted=1, rejected=1, relabelled=1, skipped=1,
                                             undone=0, remaining=5)


def test_it_draws_at_120_by_40_and_redraws_when_resized() -> None:
    long = "A long answer about coaching and supervision " * 12
    app, _ = app_for([make_item("doc0", 3, 0.5, text=long)])

    async def steps(pilot) -> None:
        wide = screen_lines(app)
        assert len(wide) == 40 and max(cell_len(x) for x in wide) <= 120
        assert any(cell_len(x.rstrip()) > 80 for x in wide)  # uses the width it has
        assert wide[-1].rstrip() == LEGEND
        await pilot.resize_terminal(80, 24)
        small = screen_lines(app)
        assert len(small) == 24 and max(cell_len(x) for x in small) <= 80
        assert small[-1].rstrip() == LEGEND and "[saved 0]" in status(app)
        assert any("1 [x] capacity_building" in x for x in small)
        await pilot.press("pagedown", "pageup", "a")
        assert "[saved 1]" in status(app)

    drive(app, steps, size=(120, 40))


def test_transcript_text_reaches_the_screen_as_text_not_as_controls_or_markup() -> None:
    hostile = "We [bold]said[/bold] \x1b[31mred\x1b]0;pwned\x07 and \u202eevil"
    app, _ = app_for([make_item("doc0", 1, 0.5, text=hostile)])

    async def steps(pilot) -> None:
        body = text(app)
        assert "[bold]said[/bold]" in body and "<U+001B>[31mred" in body
        assert "<U+202E>evil" in body and "\x1b" not in body.replace("<U+001B>", "")

    drive(app, steps)


def test_the_tick_callback_reranks_the_queue_and_keeps_the_current_item() -> None:
    got = items(5)
    calls: list[int] = []
    fresh = [replace(it, score=1 - it.score, model_id="m2") for it in got]

    def tick() -> list[ReviewItem] | None:
        calls.append(1)
        return list(reversed(fresh)) if len(calls) == 1 else None

    app, rec = app_for(got, tick=tick)

    async def steps(pilot) -> None:
        await pilot.press("a")
        current = app.item
        app._poll()  # what the one-second interval calls
        await pilot.pause()
        assert app.item is current and "queue re-ranked" in status(app)
        await pilot.press("s")
        assert app.item == fresh[-1]  # the new model's queue, in its new order
        app._poll()  # nothing new: nothing changes
        await pilot.pause()

    drive(app, steps)
    assert len(calls) == 2 and len(rec.effective()) == 2


def test_an_exhausted_queue_says_so_and_undo_brings_the_item_back() -> None:
    app, rec = app_for(items(2))

    async def steps(pilot) -> None:
        await pilot.press("a", "a")
        assert "No segments left in this queue: 2/2 decided" in text(app)
        await pilot.press("a")
        assert "no segment left" in status(app)
        await pilot.press("u")
        assert "segment #" in text(app)

    drive(app, steps)
    assert len(rec.effective()) == 1
