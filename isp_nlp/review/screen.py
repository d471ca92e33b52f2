"""The full-screen review (Textual): a segment in its turns, the suggestion, the evidence.

Imported only when the screen starts (``isp-nlp review`` at a terminal); line mode and
``--help`` never import Textual. :class:`ReviewApp` drives a
:class:`~isp_nlp.review.session.ReviewSession`: every decision is committed by the
session's recorder before the screen moves on, and only then does the status line count
it (``[saved N]``). What it draws comes from :mod:`isp_nlp.review.screen_text`
(transcript text as :class:`rich.text.Text` made safe, never as markup); its relabel,
memo and help screens are in :mod:`isp_nlp.review.search_screen`.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from isp_nlp.errors import AlreadyDecided, IspNlpError
from isp_nlp.ingest.controls import one_line
from isp_nlp.records import Decision
from isp_nlp.review.queue import ReviewItem, shown_codes
from isp_nlp.review.screen_text import (
    CERTIFIED,
    codes_text,
    context_text,
    definition_text,
    evidence_text,
    fit,
    header_text,
    pace_text,
)
from isp_nlp.review.search_screen import MemoScreen, Relabel, RelabelScreen, TextScreen
from isp_nlp.review.session import ReviewSession
from isp_nlp.review.terminal import KEYS_HELP, ReviewSummary, summarise
from isp_nlp.store.failures import DATABASE_ERRORS

#: The key line at the foot of the screen (fits 80 columns).
LEGEND = "a accept r reject e relabel s skip u undo 1-9 tick d define m memo ? help q quit"

#: What each key of the full-screen review records (``?``): one entry per line, wrapped
#: to the screen's width when shown.
SCREEN_HELP = "\n".join((
    "a  accept what is ticked: the ticked codes and the suggested values (a ticked code "
    "that was not suggested makes it a relabel; nothing ticked = no code applies)",
    "1-9  tick or untick a listed code (ticking one unticks its exclusive siblings)",
    "↑ ↓  move the highlight among the codes; d shows its definition",
    *[line for line in KEYS_HELP.splitlines() if line[:1] in "rsuq"],
    "e  relabel: search the codebook; Enter ticks the highlighted match, Enter on an empty "
    "search saves, Escape cancels",
    "m  write a memo on this segment (kept as a note on its span)",
    f"{CERTIFIED}  marks a suggestion within the model's certified range",
    "PgUp PgDn  scroll a long segment",
))
_PAST = {"accept": "accepted", "reject": "rejected", "relabel": "relabelled", "skip": "skipped"}


class ReviewApp(App[ReviewSummary]):
    """Triage one coder's queue without the mouse; returns what the run decided."""

    ENABLE_COMMAND_PALETTE = False
    TITLE = "isp-nlp review"
    CSS = """
    Screen { layout: vertical; }
    #header { height: 1; background: $primary-background; }
    #context-box { height: 1fr; min-height: 3; scrollbar-size-vertical: 1; }
    #context { width: 100%; }
    #codes { height: auto; max-height: 12; margin-top: 1; }
    #evidence { height: auto; max-height: 4; }
    #status { height: 2; background: $boost; }
    #keys { height: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "accept"), Binding("r", "reject", "reject"),
        Binding("e", "relabel", "relabel"), Binding("s", "skip", "skip"),
        Binding("u", "undo", "undo"), Binding("m", "memo", "memo"),
        Binding("d", "define", "define"), Binding("question_mark,h", "help", "help"),
        Binding("q", "quit_review", "quit"),
        Binding("up,k", "cursor(-1)", "up"), Binding("down,j", "cursor(1)", "down"),
        Binding("pageup", "scroll_context(-1)", "page up"),
        Binding("pagedown", "scroll_context(1)", "page down"),
        *[Binding(str(n), f"tick({n})", f"tick {n}") for n in range(1, 10)],
    ]

    #: The codes ticked on the current item, the highlighted code's row, the decisions
    #: committed in this run, and the last message of the status line.
    ticked: reactive[frozenset[str]] = reactive(frozenset())
    cursor: reactive[int] = reactive(0)
    saved: reactive[int] = reactive(0)
    message: reactive[str] = reactive("")

    def __init__(self, session: ReviewSession, *,
                 memo: Callable[[ReviewItem, str], None] | None = None,
                 tick: Callable[[], Sequence[ReviewItem] | None] | None = None,
                 trust: Sequence[str] = (),
                 clock: Callable[[], float] = time.monotonic,
                 complete: Callable[[], Sequence[ReviewItem]] | None = None) -> None:
        super().__init__()
        self.session = session
        #: Reads the whole queue when the session started with its first items only
        #: (see :func:`isp_nlp.review.run.quick_review`); called once the first segment
        #: is on screen.
        self._complete = complete
        self._memo = memo
        self._tick = tick
        self._trust = tuple(trust)
        self._clock = clock
        self._started = clock()
        self.undone = 0
        self.item: ReviewItem | None = None
        #: The database error that ended the review (e.g. the server went away): the
        #: screen closes and :func:`run_screen` raises it, for the one-line message.
        self.failure: Exception | None = None

    # -- layout --------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="header", markup=False)
        with VerticalScroll(id="context-box", can_focus=False):
            yield Static(id="context", markup=False)
        yield Static(id="codes", markup=False)
        yield Static(id="evidence", markup=False)
        yield Static(id="status", markup=False)
        yield Static(id="keys", markup=False)

    def on_mount(self) -> None:
        self.show_current()
        if self._complete is not None:
            self.call_after_refresh(self.complete_queue)
        if self._tick is not None:
            self.set_interval(1.0, self._poll)

    def complete_queue(self) -> None:
        """Replace the first items the review started with by the whole queue."""
        if self._complete is not None:
            items, self._complete = self._complete(), None
            self.rerank(items, message="")

    def on_resize(self) -> None:
        self.draw()

    @property
    def width(self) -> int:
        """Columns to draw in (the terminal's)."""
        return max(self.size.width, 20)

    def show_current(self) -> None:
        """Make the session's current item the one on screen, its suggestion ticked."""
        self.item = self.session.current()
        self.ticked = frozenset(self.item.suggested_codes) if self.item else frozenset()
        self.cursor = 0
        self.draw()
        self.query_one("#context-box", VerticalScroll).scroll_home(animate=False)

    def draw(self) -> None:
        """Redraw every part of the screen from the state."""
        width = self.width
        item = self.item
        if item is None:
            done, total = self.session.progress()
            skipped = self.session.skipped()
            text = f"No segments left in this queue: {done}/{total} decided"
            text += f", {skipped} skipped (review again to revisit them)" if skipped else ""
            self.query_one("#header", Static).update(fit("review finished", width, "bold"))
            self.query_one("#context", Static).update(
                Text("\n".join(textwrap.wrap(text + ". Press u to undo the last decision, "
                                             "q to quit.", width - 1))))
            self.query_one("#codes", Static).update("")
            self.query_one("#evidence", Static).update("")
        else:
            self.query_one("#header", Static).update(header_text(item, width))
            self.query_one("#context", Static).update(context_text(item, width - 1))
            self.draw_codes()
            self.query_one("#evidence", Static).update(evidence_text(item, width))
        self.draw_status()
        self.query_one("#keys", Static).update(fit(LEGEND, width))

    def draw_codes(self) -> None:
        if self.item is not None:
            self.query_one("#codes", Static).update(codes_text(
                self.item, self.session.codebook, self.ticked, self.cursor, self.width))

    def draw_status(self) -> None:
        done, total = self.session.progress()
        if self._complete is not None:  # the whole queue is still being read
            line = fit(f"[saved {self.saved}] done {done}/… · reading the queue", self.width)
        else:
            pace = pace_text(self.saved, self._clock() - self._started, total - done)
            line = fit(f"[saved {self.saved}] done {done}/{total} · {total - done} left · "
                       f"{pace}", self.width)
        line.append("\n")
        line.append_text(fit(self.message, self.width, "yellow"))
        self.query_one("#status", Static).update(line)

    def watch_ticked(self) -> None:
        self.draw_codes()

    def watch_cursor(self) -> None:
        self.draw_codes()

    def watch_saved(self) -> None:
        self.draw_status()

    def watch_message(self) -> None:
        self.draw_status()

    # -- decisions -------------------------------------------------------------
    def _decide(self, act: Callable[[], Decision]) -> None:
        """Record through the session; count it only once the recorder returned."""
        try:
            decision = act()
        except AlreadyDecided as err:
            self.message = one_line(str(err))
            self.show_current()
            return
        except IspNlpError as err:
            self.message = one_line(str(err))
            return
        except DATABASE_ERRORS as err:  # leave the screen; the command says it in one line
            self.failure = err
            self.exit()
            return
        self.saved += 1
        what = f" ({', '.join(decision.codes) or 'no code'})" if decision.codes or \
            decision.action == "accept" else ""
        self.message = one_line(f"{_PAST[decision.action]}{what}")
        self.show_current()

    def action_accept(self) -> None:
        item = self.item
        if item is None:
            self.message = "no segment left: u undoes the last decision, q quits"
            return
        chosen = [c for c in self.session.codebook.code_ids if c in self.ticked]
        if set(chosen) == set(item.suggested_codes):
            self._decide(self.session.accept)
        elif set(chosen) <= set(item.suggested_codes):
            self._decide(lambda: self.session.accept(codes=chosen))
        else:  # a code the model did not suggest: the coder's own label
            self._decide(lambda: self.session.relabel(chosen, item.suggested_values))

    def action_reject(self) -> None:
        self._decide(self.session.reject)

    def action_skip(self) -> None:
        self._decide(self.session.skip)

    def action_undo(self) -> None:
        decision = self.session.undo()
        if decision is None:
            self.message = "nothing to undo"
            return
        self.undone += 1
        where = "" if self.session.contains(decision.item_key) else \
            " (its segment is not in this queue)"
        self.message = one_line(f"undid {decision.action} of segment {decision.segment_id}"
                                f"{where}")
        self.show_current()

    def action_tick(self, number: int) -> None:
        if self.item is None:
            return
        shown = shown_codes(self.item)
        if not 1 <= number <= len(shown):
            self.message = f"no code {number}: the list has {len(shown)}"
            return
        code = shown[number - 1]
        self.cursor = number - 1
        if code in self.ticked:
            self.ticked = self.ticked - {code}
            self.message = f"unticked {code}"
            return
        dropped = sorted(c for c in self.session.codebook.exclusive_with(code)
                         if c in self.ticked)
        self.ticked = (self.ticked - set(dropped)) | {code}
        self.message = (f"ticked {code}, unticked {', '.join(dropped)} (exclusive)"
                        if dropped else f"ticked {code}")

    def action_cursor(self, step: int) -> None:
        if self.item is not None and shown_codes(self.item):
            self.cursor = max(0, min(len(shown_codes(self.item)) - 1, self.cursor + step))

    def action_scroll_context(self, pages: int) -> None:
        box = self.query_one("#context-box", VerticalScroll)
        (box.scroll_page_down if pages > 0 else box.scroll_page_up)(animate=False)

    # -- modals -----------------------------------------------------------------
    def action_relabel(self) -> None:
        item = self.item
        if item is None:
            self.message = "no segment left to relabel"
            return

        def done(result: Relabel | None) -> None:
            if result is None:
                self.message = "relabel cancelled"
            else:
                self._decide(lambda: self.session.relabel(*result))

        self.push_screen(RelabelScreen(self.session.codebook, self.ticked,
                                       dict(item.suggested_values)), done)

    def action_memo(self) -> None:
        item = self.item
        if item is None:
            self.message = "no segment to write a memo on"
            return

        def done(text: str | None) -> None:
            if not text:
                self.message = "memo cancelled"
            elif self._memo is None:
                self.message = "memos are not kept in this review"
            else:
                self._memo(item, text)
                self.message = "memo kept"

        self.push_screen(MemoScreen(), done)

    def action_define(self) -> None:
        if self.item is None or not shown_codes(self.item):
            return
        code = shown_codes(self.item)[min(self.cursor, len(shown_codes(self.item)) - 1)]
        self.push_screen(TextScreen(definition_text(self.session.codebook, code), code))

    def action_help(self) -> None:
        trust = "\n".join(self._trust).replace("\n  ", " ")  # its paragraphs, rewrapped
        text = SCREEN_HELP + (f"\n\n{trust}" if trust else "")
        self.push_screen(TextScreen(text, "keys"))

    def action_quit_review(self) -> None:
        self.exit(summarise(self.session, self.undone))

    # -- re-ranking --------------------------------------------------------------
    def rerank(self, items: Sequence[ReviewItem], message: str = "queue re-ranked") -> None:
        """Replace the pending queue with newly scored ``items`` and redraw (the current
        item stays if it is still pending); ``message`` goes to the status line."""
        self.session.rerank(items)
        before = self.item.key if self.item is not None else None
        self.item = self.session.current()
        if self.item is None or self.item.key != before:
            self.show_current()
        else:
            self.draw()
        self.message = message

    def _poll(self) -> None:
        if self._tick is not None and (items := self._tick()):
            self.rerank(items)


def run_screen(session: ReviewSession, *,
               memo: Callable[[ReviewItem, str], None] | None = None,
               tick: Callable[[], Sequence[ReviewItem] | None] | None = None,
               trust: Sequence[str] = (),
               complete: Callable[[], Sequence[ReviewItem]] | None = None) -> ReviewSummary:
    """Run the full-screen review on the terminal until the coder quits (see
    :class:`ReviewApp` for the options)."""
    app = ReviewApp(session, memo=memo, tick=tick, trust=trust, complete=complete)
    result = app.run()
    if app.failure is not None:
        raise app.failure
    return result if result is not None else summarise(session, app.undone)
