"""A coder triages over 200 suggestions of the demo project at 80x24 with the keyboard only,
and every decision is in the project's DecisionLog; memos land in the notes table and the
log."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from rich.cells import cell_len

from isp_nlp.review.run import project_review, save_memo
from isp_nlp.review.screen import ReviewApp
from isp_nlp.store.decisions import DECISION_ACTIONS, DecisionLog
from isp_nlp.store.folder import open_project
from tests.builders.review_items import screen_lines
from tests.builders.review_queue import suggested_project

#: (keys, what they record: an action, "undo", or None for nothing)
MOVES = (
    (("a",), "accept"), (("a",), "accept"), (("a",), "accept"),
    (("1", "a"), "tick"), (("2", "a"), "tick"),
    (("r",), "reject"), (("r",), "reject"), (("s",), "skip"),
    (("e", "c", "o", "enter", "enter"), "relabel"),  # tick (or untick) co_creation, save
    (("u",), "undo"),
)


def test_a_coder_triages_200_suggestions_without_the_mouse(project_copy: Path) -> None:
    rng = random.Random(22)
    with open_project(project_copy) as store:
        session = project_review(store, "cora")
        assert session.total >= 250
        app = ReviewApp(session, memo=lambda item, text: save_memo(store, "cora", item, text))
        made: list[tuple[str, str, tuple[str, ...] | None]] = []  # effective, in order
        presses = 0

        async def go() -> None:
            nonlocal presses
            async with app.run_test(size=(80, 24)) as pilot:
                while app.saved < 205:
                    keys, kind = rng.choice(MOVES)
                    item = app.item
                    assert item is not None
                    if kind == "tick":  # untick (or tick) the first or second listed code
                        ticked = set(app.ticked)
                        await pilot.press(keys[0])
                        codes = app.ticked
                        assert codes != ticked
                        await pilot.press("a")
                        action = "accept" if codes <= set(item.suggested_codes) else "relabel"
                        made.append((item.key, action, tuple(sorted(codes))))
                    else:
                        await pilot.press(*keys)
                        if kind == "undo":
                            if made:
                                made.pop()
                        else:
                            made.append((item.key, kind, None))
                    presses += len(keys)
                    if len(made) % 5 == 0:
                        lines = screen_lines(app)
                        assert len(lines) == 24 and max(map(cell_len, lines)) <= 80
                        assert f"[saved {app.saved}]" in "\n".join(lines)
                await pilot.press("q")

        asyncio.run(go())
        assert presses >= 200
        rows = [e for e in DecisionLog(store).entries("cora")
                if e["action"] in DECISION_ACTIONS]
        assert len(rows) == app.saved  # every acknowledged decision, once
        effective = [e for e in rows if not e["undone"]]
        assert [(e["item_key"], e["action"]) for e in effective] == \
            [(key, action) for key, action, _ in made]
        for e, (_, _, codes) in zip(effective, made, strict=True):
            if codes is not None:
                assert tuple(sorted(e["codes"])) == codes
        counts = {a: sum(1 for _, x, _ in made if x == a) for a in DECISION_ACTIONS}
        summary = app.return_value
        assert summary is not None
        assert (summary.accepted, summary.rejected, summary.relabelled, summary.skipped) == (
            counts["accept"], counts["reject"], counts["relabel"], counts["skip"])
        assert counts["relabel"] > 10 and counts["accept"] > 50 and summary.undone > 10
        final = {e["item_key"] for e in effective if e["action"] != "skip"}
        assert len(final) == sum(1 for e in effective if e["action"] != "skip")


def test_a_memo_is_a_note_on_the_segment_span_and_a_log_event(tmp_path: Path) -> None:
    project = suggested_project(tmp_path, documents=1, turns=30)
    with open_project(project) as store:
        session = project_review(store, "cora")
        item = session.current()
        app = ReviewApp(session, memo=lambda it, text: save_memo(store, "cora", it, text))

        async def go() -> None:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.press("m", *"check with ben", "enter", "q")

        asyncio.run(go())
        (note,) = store.notes()
        assert (note.text, note.coder, note.document, note.start, note.end) == (
            "check with ben", "cora", item.segment.document, item.segment.start,
            item.segment.end)
        (event,) = [e for e in DecisionLog(store).entries("cora") if e["action"] == "memo"]
        assert event["segment_id"] == item.segment.id
        assert event["detail"] == {"text": "check with ben"}
