"""The full-screen blind review (Textual): a segment in its turns and nothing else.

Imported only when ``isp-nlp review --blind`` opens at a terminal; line mode, scripts and
``--help`` never import Textual. :class:`BlindApp` drives a
:class:`~isp_nlp.review.blind.BlindRun`, the same session the line mode and ``--script``
use, so a coding, a skip or an undo stores exactly what the script's ``e:``, ``s`` or
``u`` would; the status line counts it (``[saved N]``) only once the run returned. No
suggestion, probability or other coder's code is ever read for the screen.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Input, Static

from isp_nlp.errors import IspNlpError
from isp_nlp.ingest.controls import one_line
from isp_nlp.records import Codebook, Segment
from isp_nlp.review.blind import BlindRun, BlindSummary, coding_spec, neighbours
from isp_nlp.review.screen_text import definition_text, fit, fuzzy_rank, pace_text, turns_text
from isp_nlp.review.search_screen import Relabel, RelabelScreen, SearchScreen, TextScreen

#: The key line at the foot of the screen (fits 80 columns).
LEGEND = "e code  n no code applies  s skip  u undo  d define  ? help  q quit"
AROUND = 2  # turns shown before and after the segment

#: What each key of the blind screen records (``?``), one entry per line.
BLIND_HELP = "\n".join((
    "Blind coding: you see the segment and its neighbouring turns only, never the "
    "model's suggestion or another coder's codes. What each key below records is saved "
    "before the next segment is shown.",
    "e or c  code the segment: search the codebook's codes and dimension values by id "
    "or name; Enter ticks the highlighted match, Enter on an empty search saves what is "
    "ticked as your blind coding (provenance blind, a 'blind' row in the log), Escape "
    "cancels",
    "n  seen, no code applies: a blind coding with no code (a script's 'e:' alone)",
    "s  skip: decide later; a 'blind_skip' row in the log, nothing is coded and the "
    "segment stays in your queue",
    "u  undo your last blind coding or skip (any number of times, across sessions): an "
    "'undo' row in the log, the codes it wrote retracted, its segment shown again",
    "d  a code's definition: search the codebook, Enter shows the highlighted code's",
    "PgUp PgDn  scroll a long segment",
    "q  quit; every coding is already saved",
))


def header_line(segment: Segment, width: int) -> Text:
    """Document, segment index and speaker on one line."""
    return fit(f"{segment.document} · segment #{segment.index} · "
               f"{segment.speaker or 'unknown speaker'}", width, "bold")


def wrapped(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` columns, words kept whole."""
    return "\n".join(textwrap.wrap(one_line(text), max(width, 20), break_on_hyphens=False))


class CodeScreen(RelabelScreen):
    """The relabel search of the review, titled for coding from scratch: nothing ticked
    at first; returns the ticked codes and values (None when cancelled)."""

    def __init__(self, codebook: Codebook) -> None:
        super().__init__(codebook, (), {})

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Input):
                widget.border_title = "code blind"
            yield widget


class DefineScreen(SearchScreen[str | None]):
    """Search the codebook's codes by id or name; Enter returns the highlighted one (the
    best match when none is highlighted), Escape cancels."""

    DEFAULT_CSS = """
    DefineScreen { align: center middle; }
    DefineScreen > #define-box { width: 100%; max-width: 80; height: 100%;
                                 max-height: 22; background: $surface; }
    #define-box > Input { height: 3; }
    #define-box > #define-matches { height: 1fr; }
    """

    def __init__(self, codebook: Codebook) -> None:
        super().__init__([(c.id, f"{c.id} {c.name}") for c in codebook.codes])

    def compose(self) -> ComposeResult:
        with Vertical(id="define-box"):
            search = Input(placeholder="search a code by id or name", id="define-search")
            search.border_title = "define"
            yield search
            yield Static(id="define-matches")
            yield Static(Text("Enter shows the highlighted code's definition · ↑↓ move · "
                              "Esc cancels", style="dim"), id="define-hint")

    def on_mount(self) -> None:
        self._refresh("")

    def _refresh(self, query: str) -> None:
        self.matches = fuzzy_rank(query, self.choices)
        self.highlight = 0
        self._draw()

    def _draw(self) -> None:
        width = max(self.size.width, 20)
        self.query_one("#define-matches", Static).update(
            self.match_lines(width) if self.matches else fit("no code matches", width, "dim"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refresh(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.matches:
            self.dismiss(self.matches[self.highlight])

    def action_cancel(self) -> None:
        self.dismiss(None)


class BlindApp(App[BlindSummary]):
    """One coder codes a :class:`~isp_nlp.review.blind.BlindRun`'s segments from
    scratch without the mouse; returns the run's summary."""

    ENABLE_COMMAND_PALETTE = False
    TITLE = "isp-nlp review --blind"
    CSS = """
    Screen { layout: vertical; }
    #header { height: 1; background: $primary-background; }
    #context-box { height: 1fr; min-height: 3; scrollbar-size-vertical: 1; }
    #context { width: 100%; }
    #status { height: 2; background: $boost; }
    #keys { height: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e,c", "code", "code"), Binding("n", "no_code", "no code applies"),
        Binding("s", "skip", "skip"), Binding("u", "undo", "undo"),
        Binding("d", "define", "define"), Binding("question_mark,h", "help", "help"),
        Binding("q", "quit_review", "quit"),
        Binding("pageup", "scroll_context(-1)", "page up"),
        Binding("pagedown", "scroll_context(1)", "page down"),
    ]

    #: Codings and skips committed in this run, and the last message of the status line.
    saved: reactive[int] = reactive(0)
    message: reactive[str] = reactive("")

    def __init__(self, run: BlindRun, *,
                 around: Callable[[Segment], list[Segment]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.blind = run
        self._around = around or neighbours(run.store, AROUND, AROUND)
        self._clock = clock
        self._started = clock()

    # -- layout --------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="header", markup=False)
        with VerticalScroll(id="context-box", can_focus=False):
            yield Static(id="context", markup=False)
        yield Static(id="status", markup=False)
        yield Static(id="keys", markup=False)

    def on_mount(self) -> None:
        self.show_current()

    def on_resize(self) -> None:
        self.draw()

    @property
    def width(self) -> int:
        """Columns to draw in (the terminal's)."""
        return max(self.size.width, 20)

    def show_current(self) -> None:
        """Draw the run's current segment, scrolled to its top."""
        self.draw()
        self.query_one("#context-box", VerticalScroll).scroll_home(animate=False)

    def draw(self) -> None:
        """Redraw every part of the screen from the run."""
        width = self.width
        segment = self.blind.current
        if segment is None:
            self.query_one("#header", Static).update(fit("blind review finished", width,
                                                         "bold"))
            self.query_one("#context", Static).update(Text(wrapped(
                f"No segments left to code blind: {self.blind.coded} coded, "
                f"{self.blind.skipped} skipped in this run. Press u to undo the last coding "
                "or skip, q to quit.", width - 1)))
        else:
            turns = self._around(segment)
            at = next(i for i, s in enumerate(turns) if s.id == segment.id)
            self.query_one("#header", Static).update(header_line(segment, width))
            self.query_one("#context", Static).update(
                turns_text(turns[:at], segment, turns[at + 1:], width - 1))
        self.draw_status()
        self.query_one("#keys", Static).update(fit(LEGEND, width))

    def draw_status(self) -> None:
        position, total = self.blind.progress
        done = position - 1
        pace = pace_text(self.saved, self._clock() - self._started, total - done)
        line = fit(f"[saved {self.saved}] done {done}/{total} · {total - done} left · {pace}",
                   self.width)
        line.append("\n")
        line.append_text(fit(self.message, self.width, "yellow"))
        self.query_one("#status", Static).update(line)

    def watch_saved(self) -> None:
        self.draw_status()

    def watch_message(self) -> None:
        self.draw_status()

    # -- codings ---------------------------------------------------------------
    def _commit(self, act: Callable[[], Segment], done: str) -> None:
        """Store through the run; count it only once the run returned; ``done`` says what
        was stored (after it: the segment)."""
        if self.blind.current is None:
            self.message = "no segment left: u undoes the last coding or skip, q quits"
            return
        try:
            segment = act()
        except IspNlpError as err:
            self.message = one_line(str(err))
            return
        self.saved += 1
        self.message = one_line(f"{done}: {segment.document} #{segment.index}")
        self.show_current()

    def code(self, codes: tuple[str, ...], values: dict[str, str | None]) -> None:
        """Store ``codes`` and ``values`` as the current segment's blind coding."""
        spec = coding_spec(codes, values)
        chosen = ", ".join([*codes, *(f"{d}={v}" for d, v in values.items() if v)])
        self._commit(lambda: self.blind.code(spec), f"coded ({chosen or 'no code'})")

    def action_code(self) -> None:
        if self.blind.current is None:
            self.message = "no segment left to code: u undoes, q quits"
            return

        def done(result: Relabel | None) -> None:
            if result is None:
                self.message = "coding cancelled"
            else:
                self.code(*result)

        self.push_screen(CodeScreen(self.blind.codebook), done)

    def action_no_code(self) -> None:
        self._commit(lambda: self.blind.code(""), "coded (no code applies)")

    def action_skip(self) -> None:
        self._commit(self.blind.skip, "skipped")

    def action_undo(self) -> None:
        self.message = one_line(self.blind.undo())
        self.show_current()

    def action_scroll_context(self, pages: int) -> None:
        box = self.query_one("#context-box", VerticalScroll)
        (box.scroll_page_down if pages > 0 else box.scroll_page_up)(animate=False)

    # -- modals -----------------------------------------------------------------
    def action_define(self) -> None:
        codebook = self.blind.codebook

        def done(code: str | None) -> None:
            if code is not None:
                self.push_screen(TextScreen(definition_text(codebook, code), code))

        self.push_screen(DefineScreen(codebook), done)

    def action_help(self) -> None:
        self.push_screen(TextScreen(BLIND_HELP, "keys"))

    def action_quit_review(self) -> None:
        self.exit(self.blind.summary())


def run_blind_screen(run: BlindRun) -> BlindSummary:
    """Run the full-screen blind review on the terminal until the coder quits."""
    app = BlindApp(run)
    result = app.run()
    return result if result is not None else run.summary()
