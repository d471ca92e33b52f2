"""The full-screen blind review driven with Textual's pilot at 80x24 (and 120x40): coding
from scratch with the keys only stores what the equivalent ``--script`` run stores, and
the screen never shows a suggestion or another coder's codes."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pexpect
import pytest
from rich.cells import cell_len

from isp_nlp.records import CODE_DIMENSION
from isp_nlp.review.audit import draw_audit
from isp_nlp.review.blind import BlindRun, BlindSummary, run_blind
from isp_nlp.review.blind_screen import LEGEND, BlindApp
from isp_nlp.store.folder import open_project
from tests.builders.cli_runs import run
from tests.builders.paths import REPO
from tests.builders.review_items import screen_lines
from tests.builders.review_queue import MODEL, suggested_project

Steps = Callable[[object], Awaitable[None]]
N = 6  # segments in the audit
#: ben's blind codes on the audit's first three segments: another coder's codes.
BEN = ("e:funding,barriers|stage=none", "e:strategies|stage=exchange", "e:funding")
#: What the keys of the first test do: three codings (codes and a value, none applies,
#: one code), a skip, two undos, quit.
SCRIPT = "e:training+coaching|stage=push,e:,s,e:barriers,u,u,q"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A project with stored suggestions and ana's codes, an audit of N segments, and
    ben's blind codes on three of them; returns (project, audit id)."""
    project = suggested_project(tmp_path_factory.mktemp("blind-screen"), documents=3,
                                turns=30)
    with open_project(project) as store:
        audit = draw_audit(store, N, seed=4)
        run_blind(store, "ben", audit_id=audit.id, script=BEN, write=lambda _: None)
    return project, audit.id


def _copy(built: tuple[Path, int], tmp_path: Path, name: str = "project") -> Path:
    target = tmp_path / name
    shutil.copytree(built[0], target)
    return target


def drive(app: BlindApp, steps: Steps, size: tuple[int, int] = (80, 24)) -> None:
    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await steps(pilot)

    asyncio.run(go())


def text(app: BlindApp) -> str:
    return "\n".join(screen_lines(app))


def status(app: BlindApp) -> str:
    lines = screen_lines(app)
    at = next(n for n, line in enumerate(lines) if "[saved " in line)
    return "\n".join(lines[at:at + 2])


def zoe_rows(project: Path) -> tuple[list[tuple], list[tuple]]:
    """zoe's log rows and annotations (retracted ones too) as stored, without times."""
    with open_project(project) as store:
        log = store.conn.execute(
            "SELECT id, coder, action, item_key, segment_id, model_id, detail, undoes"
            " FROM log WHERE coder = 'zoe' ORDER BY id").fetchall()
        notes = store.conn.execute(
            "SELECT segment_id, coder, dimension, label, source, created_by, retracted_by"
            " FROM annotations WHERE coder = 'zoe' ORDER BY id").fetchall()
    return log, notes


def test_keys_store_exactly_what_the_equivalent_script_stores(
        built: tuple[Path, int], tmp_path: Path) -> None:
    keyed, scripted = _copy(built, tmp_path, "keyed"), _copy(built, tmp_path, "scripted")
    audit_id = built[1]
    with open_project(keyed) as store:
        app = BlindApp(BlindRun(store, "zoe", audit_id=audit_id))

        async def steps(pilot) -> None:
            await pilot.press("e", *"trai", "enter")  # a search, Enter: ticked
            await pilot.press(*"coach", "enter", *"push", "enter")
            assert "chosen: training, coaching, stage=push" in text(app)
            assert max(cell_len(line) for line in screen_lines(app)) <= 80
            await pilot.press("enter")  # empty search: saved
            assert "[saved 1] done 1/6 · 5 left" in status(app)
            assert "coded (training, coaching, stage=push)" in status(app)
            await pilot.press("n")
            assert "[saved 2] done 2/6" in status(app) and "no code applies" in status(app)
            await pilot.press("s")
            assert "[saved 3] done 3/6" in status(app) and "skipped" in status(app)
            await pilot.press("c", *"barr", "enter", "enter")
            assert "[saved 4] done 4/6" in status(app) and "coded (barriers)" in status(app)
            await pilot.press("u")
            assert "Undid the blind coding" in status(app)
            await pilot.press("u")
            assert "Undid the blind skip" in status(app)
            assert "[saved 4] done 2/6 · 4 left" in status(app)  # saved never goes down
            await pilot.press("q")

        drive(app, steps)
    assert app.return_value == BlindSummary(coded=2, skipped=0, left=4, undone=2)
    result = run("review", "--blind", "--coder", "zoe", "--audit", str(audit_id), "--script",
                 SCRIPT, project=scripted)
    assert result.exit_code == 0, result.output
    assert "2 coded blind, 0 skipped, 2 undone, 4 left." in result.output
    log, notes = zoe_rows(keyed)
    assert (log, notes) == zoe_rows(scripted)
    assert [row[2] for row in log] == ["blind", "blind", "blind_skip", "blind", "undo", "undo"]
    assert {row[4] for row in notes} == {"blind"}
    with open_project(keyed) as store:
        ids = store.audit_segment_ids(audit_id) or []
        active = {(a.segment_id, a.dimension, a.label) for a in store.annotations()
                  if a.coder == "zoe"}
    assert active == {(ids[0], CODE_DIMENSION, "training"), (ids[0], CODE_DIMENSION,
                      "coaching"), (ids[0], "stage", "push"), (ids[1], CODE_DIMENSION, None)}


def test_the_screen_shows_no_suggestion_and_no_other_coders_codes(
        built: tuple[Path, int], tmp_path: Path) -> None:
    project = _copy(built, tmp_path)
    seen: list[str] = []
    with open_project(project) as store:
        codebook = store.codebook()
        assert codebook is not None
        names = {c.id: c.name for c in codebook.codes}
        first = (store.audit_segment_ids(built[1]) or [])[0]
        suggested = {s.label for s in store.suggestions(MODEL, with_evidence=False)
                     if s.suggested and s.dimension == CODE_DIMENSION}
        others = {a.label for a in store.annotations()
                  if a.segment_id == first and a.coder != "zoe" and a.label}
        app = BlindApp(BlindRun(store, "zoe", audit_id=built[1]))

        async def steps(pilot) -> None:
            seen.append(text(app))
            await pilot.press("e")  # the search: the codebook, nothing ticked
            assert "chosen: no code" in text(app) and "[x]" not in text(app)
            await pilot.press("escape", "s")
            seen.append(text(app))

        drive(app, steps)
    assert {"funding", "barriers", "none"} <= others  # ben's blind codes on the segment
    assert suggested  # the model suggested codes in this project
    hidden = {*suggested, *(c for c in others if c in names)}
    words = [*hidden, *(names[c] for c in hidden), "ben", "ana"]
    for screen in seen:
        assert not [w for w in words if re.search(rf"\b{re.escape(w)}\b", screen,
                                                  re.IGNORECASE)], screen
        assert not re.search(r"\d\.\d\d", screen), screen  # no probability


def test_it_fits_80_by_24_keeps_words_whole_and_redraws_when_resized(
        built: tuple[Path, int], tmp_path: Path) -> None:
    project = _copy(built, tmp_path)
    with open_project(project) as store:
        blind = BlindRun(store, "zoe", audit_id=built[1])
        segment = blind.current
        assert segment is not None
        app = BlindApp(blind)

        async def steps(pilot) -> None:
            small = screen_lines(app)
            assert len(small) == 24 and max(cell_len(x) for x in small) <= 80
            assert small[-1].rstrip() == LEGEND
            assert f"{segment.document} · segment #{segment.index} · P01" in small[0]
            tokens = " ".join(small).split()
            assert all(word in tokens for word in segment.text.split())  # none broken
            assert sum("┃" in x for x in small) >= 1
            assert sum("Interviewer:" in x for x in small) >= 1  # the turns around it
            await pilot.resize_terminal(120, 40)
            wide = screen_lines(app)
            assert len(wide) == 40 and max(cell_len(x) for x in wide) <= 120
            assert wide[-1].rstrip() == LEGEND and "[saved 0] done 0/6" in status(app)
            await pilot.press("n")
            assert "[saved 1]" in status(app)
            await pilot.resize_terminal(80, 24)
            assert max(cell_len(x) for x in screen_lines(app)) <= 80

        drive(app, steps, size=(80, 24))


def test_help_and_definitions_record_nothing(built: tuple[Path, int], tmp_path: Path) -> None:
    project = _copy(built, tmp_path)
    with open_project(project) as store:
        app = BlindApp(BlindRun(store, "zoe", audit_id=built[1]))

        async def steps(pilot) -> None:
            await pilot.press("?")
            body = text(app)
            assert "seen, no code applies" in body and "blind_skip" in body
            assert max(cell_len(line) for line in screen_lines(app)) <= 80
            await pilot.press("n", "s")  # the help is open: nothing is recorded
            await pilot.press("escape", "d", *"coach", "enter")
            assert "definition: Ongoing coaching and feedback on the job." in text(app)
            await pilot.press("escape")
            assert "[saved 0]" in status(app)

        drive(app, steps)
    assert zoe_rows(project) == ([], [])


def test_undo_takes_back_a_coding_of_an_earlier_session(
        built: tuple[Path, int], tmp_path: Path) -> None:
    project = _copy(built, tmp_path)
    with open_project(project) as store:
        run_blind(store, "zoe", audit_id=built[1], script=["e:funding"], write=lambda _: None)
        first = (store.audit_segment_ids(built[1]) or [])[0]
        blind = BlindRun(store, "zoe", audit_id=built[1])
        app = BlindApp(blind)

        async def steps(pilot) -> None:
            assert "done 0/5" in status(app)
            await pilot.press("u")
            assert "Undid the blind coding" in status(app) and "done 0/6" in status(app)
            assert blind.current is not None and blind.current.id == first
            await pilot.press("u", "q")
            assert "Nothing to undo." in status(app)

        drive(app, steps)
    assert [row[2] for row in zoe_rows(project)[0]] == ["blind", "undo"]


def test_review_blind_at_a_terminal_opens_the_screen(built: tuple[Path, int],
                                                      tmp_path: Path) -> None:
    """The real command in an 80x24 pseudo-terminal: the screen, ``[saved N]``, q."""
    project = _copy(built, tmp_path)
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO),
           "COLUMNS": "80", "LINES": "24"}
    output = io.BytesIO()
    child = pexpect.spawn(sys.executable, ["-m", "isp_nlp", "--project", str(project),
                                           "review", "--blind", "--coder", "kim",
                                           "--audit", str(built[1])],
                          env=env, dimensions=(24, 80), timeout=60)
    child.logfile_read = output
    try:
        child.expect(rb"\[saved 0\]")
        child.send("n")
        child.expect(rb"\[saved 1\]")
        child.send("q")
        child.expect(rb"Blind review by kim: 1 coded blind, 0 skipped, 5 left\.")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    with open_project(project) as store:
        assert [r[2] for r in store.log_rows() if r[1] == "kim"] == ["blind"]
