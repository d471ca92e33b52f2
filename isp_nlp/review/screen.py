"""The full-screen review (Textual): a segment in its turns, the suggestion, the evidence.

Imported only when the screen starts (``isp-nlp review`` at a terminal); line mode and
``--help`` never import Textual. :class:`ReviewApp` drives a
:class:`~isp_nlp.review.session.ReviewSession`: every decision is committed by the
session's recorder before the screen moves on, and only then does the status line count
it (``[saved N]``). Transcript text reaches the screen as :class:`rich.text.Text` made
safe by :func:`~isp_nlp.ingest.controls.visible`, never as markup.
"""

from __future__ import annotations

import difflib
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from isp_nlp.errors import AlreadyDecided, IspNlpError
from isp_nlp.ingest.controls import one_line, visible
from isp_nlp.records import CODE_DIMENSION, Codebook, Decision, Segment
from isp_nlp.review.queue import ReviewItem, shown_codes
from isp_nlp.review.session import ReviewSession
from isp_nlp.review.terminal import KEYS_HELP, ReviewSummary, summarise
from isp_nlp.store.failures import DATABASE_ERRORS

#: The key line at the foot of the screen (fits 80 columns).
LEGEND = "a accept r reject e relabel s skip u undo 1-9 tick d define m memo ? help q quit"
BAR = 10  # cells of a confidence bar
CERTIFIED = "cert"  # the mark of a suggestion within the model's certified range

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


# -- pure rendering ------------------------------------------------------------
def fit(text: str, width: int, style: str = "") -> Text:
    """``text`` on one line, controls shown, cut to ``width`` cells with an ellipsis."""
    line = Text(one_line(text), style=style, no_wrap=True)
    line.truncate(max(width, 1), overflow="ellipsis")
    return line


def bar(probability: float, width: int = BAR) -> str:
    """A confidence bar: ``probability`` of ``width`` cells filled."""
    filled = max(0, min(width, round(float(probability) * width)))
    return "█" * filled + "░" * (width - filled)


def _turn(seg: Segment) -> str:
    return f"{seg.speaker or 'unknown speaker'}: {' '.join(seg.text.split())}"


def context_text(item: ReviewItem, width: int) -> Text:
    """The neighbouring turns (dim, at most two lines each) around the segment (bold,
    every line marked with a bar)."""
    return turns_text(item.before, item.segment, item.after, width)


def turns_text(before: Iterable[Segment], segment: Segment, after: Iterable[Segment],
               width: int) -> Text:
    """The turns ``before`` and ``after`` (dim, at most two lines each) around
    ``segment`` (bold, every line marked with a bar), in lines of ``width`` cells."""
    width = max(width, 20)
    out = Text(no_wrap=True)

    def neighbour(seg: Segment) -> None:
        for line in textwrap.wrap(visible(_turn(seg)), width, max_lines=2, placeholder=" …"):
            out.append(line + "\n", style="dim")

    for seg in before:
        neighbour(seg)
    lines = textwrap.wrap(visible(_turn(segment)), width - 2) or [""]
    for line in lines:
        out.append("┃ ", style="bold yellow")
        out.append(line + "\n", style="bold")
    for seg in after:
        neighbour(seg)
    out.rstrip()
    return out


def header_text(item: ReviewItem, width: int) -> Text:
    """Document, segment index, speaker and uncertainty on one line."""
    seg = item.segment
    return fit(f"{seg.document} · segment #{seg.index} · {seg.speaker or 'unknown speaker'}"
               f" · uncertainty {item.score:.2f}", width, "bold")


def codes_text(item: ReviewItem, codebook: Codebook, ticked: Iterable[str], cursor: int,
               width: int) -> Text:
    """One numbered line per shown code (tick box, probability, bar, certified mark),
    then one line per dimension the model suggested on."""
    ticked = set(ticked)
    probs = dict(item.codes)
    names = {c.id: c.name for c in codebook.codes}
    cert = CODE_DIMENSION in item.certified
    name_width = max(width - 8 - 6 - BAR - len(CERTIFIED) - 1, 8)
    out = Text(no_wrap=True)
    for number, code in enumerate(shown_codes(item), start=1):
        here = number - 1 == cursor
        mark = "x" if code in ticked else " "
        label = code if names.get(code, code) in ("", code) else f"{code} ({names[code]})"
        head = fit(f"{'›' if here else ' '} {number} [{mark}] ", 8,
                   "reverse" if here else "")
        line = Text.assemble(head, fit(label, name_width))
        line.pad_right(8 + name_width - line.cell_len)
        line.append(f" {probs.get(code, 0.0):.2f} ")
        line.append(bar(probs.get(code, 0.0)), style="green" if code in ticked else "")
        line.append(f" {CERTIFIED}" if cert else "", style="cyan")
        line.truncate(width)
        out.append_text(line)
        out.append("\n")
    shown = dict(item.values)
    for dim in codebook.dimensions:
        if dim.id not in shown:
            continue
        got = shown[dim.id]
        name = dim.name or dim.id
        if got is None:
            out.append_text(fit(f"        model abstains on {name}", width, "dim"))
        else:
            row = fit(f"        {name}: {got[0]}", name_width + 8)
            row.pad_right(name_width + 8 - row.cell_len)
            row.append(f" {got[1]:.2f} {bar(got[1])}")
            row.append(f" {CERTIFIED}" if dim.id in item.certified else "", style="cyan")
            row.truncate(width)
            out.append_text(row)
        out.append("\n")
    if not shown_codes(item):
        out.append_text(fit("  (the model scored no code)", width, "dim"))
    out.rstrip()
    return out


def evidence_text(item: ReviewItem, width: int, limit: int = 3) -> Text:
    """The nearest coded exemplars: similarity, labels, who coded them, text shortened."""
    out = Text(no_wrap=True)
    if not item.evidence:
        return fit("evidence: none", width, "dim")
    out.append_text(fit("evidence (nearest coded segments):", width, "dim"))
    for n, ev in enumerate(item.evidence[:limit]):
        coders = item.evidence_coders[n] if n < len(item.evidence_coders) else ()
        who = f" by {', '.join(coders)}" if coders else ""
        labels = ", ".join(ev.labels) or "no labels"
        out.append("\n")
        out.append_text(fit(f" {ev.similarity:.2f} [{labels}]{who}: {ev.text}", width))
    return out


def pace_text(saved: int, elapsed: float, remaining: int) -> str:
    """Decisions per minute over this run and the time left at that pace."""
    if saved < 1 or elapsed <= 0:
        return "pace –"
    per_minute = saved / (elapsed / 60)
    left = remaining / per_minute if per_minute > 0 else 0
    eta = f"{left:.0f} min" if left < 120 else f"{left / 60:.1f} h"
    return f"{per_minute:.1f}/min · ~{eta} left"


def definition_text(codebook: Codebook, code_id: str) -> str:
    """A code's name, definition, include, exclude and examples as plain text."""
    code = next((c for c in codebook.codes if c.id == code_id), None)
    if code is None:
        return f"{code_id}: not in the codebook"
    parts = [f"{code.id} — {code.name}" if code.name and code.name != code.id else code.id]
    if code.parent:
        parts.append(f"under: {code.parent}")
    for label, text in (("definition", code.definition), ("include", code.include),
                        ("exclude", code.exclude)):
        parts.append(f"{label}: {text.strip() or '(none given)'}")
    parts += [f"example: {ex}" for ex in code.examples[:3]]
    siblings = codebook.exclusive_with(code.id)
    if siblings:
        parts.append(f"never together with: {', '.join(siblings)}")
    return visible("\n".join(parts))


def fuzzy_score(query: str, candidate: str) -> float:
    """How well ``query`` matches ``candidate`` (0: not at all): its letters must appear
    in order; a substring, a word start and closeness (difflib) score higher."""
    q, c = query.casefold().strip(), candidate.casefold()
    if not q:
        return 1.0
    at = 0
    for ch in q:
        at = c.find(ch, at)
        if at < 0:
            return 0.0
        at += 1
    score = difflib.SequenceMatcher(None, q, c).ratio()
    if q in c:
        score += 1.0 + (0.5 if c.startswith(q) or f" {q}" in c or f"_{q}" in c else 0.0)
    return score


def fuzzy_rank(query: str, choices: Sequence[tuple[str, str]]) -> list[str]:
    """The keys of ``choices`` ((key, searchable text)) matching ``query``, best first
    (ties in the given order)."""
    scored = [(fuzzy_score(query, text), n, key) for n, (key, text) in enumerate(choices)]
    return [key for score, _, key in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]


# -- modal screens -------------------------------------------------------------
class TextScreen(ModalScreen[None]):
    """Plain text over the review (help, a definition); Escape or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,d,enter", "close", "close")]
    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > VerticalScroll { width: 100%; max-width: 100; height: auto;
                                  max-height: 100%; border: none; border-top: round $accent;
                                  border-bottom: round $accent; background: $surface;
                                  scrollbar-size-vertical: 1; }
    """

    def __init__(self, text: str, title: str) -> None:
        super().__init__()
        self._text, self._title = text, title

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = self._title
            yield Static(Text(visible(self._text) + "\n(Escape closes)"), id="text")

    def action_close(self) -> None:
        self.dismiss(None)


class MemoScreen(ModalScreen[str | None]):
    """One line of memo; Enter keeps it, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    MemoScreen { align: center middle; }
    MemoScreen > Input { width: 100%; max-width: 80; }
    """

    def compose(self) -> ComposeResult:
        memo = Input(placeholder="memo on this segment (Enter keeps, Escape cancels)",
                     id="memo")
        memo.border_title = "memo"
        yield memo

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


Relabel = tuple[tuple[str, ...], dict[str, str | None]]


ResultT = TypeVar("ResultT")


class SearchScreen(ModalScreen[ResultT]):
    """A fuzzy search over ``choices`` ((key, text) pairs): ``matches`` are the keys that
    match what is typed, best first, one of them highlighted (-1: none); ↑↓ move the
    highlight. Subclasses say what is drawn around the matches and what Enter does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"), Binding("up", "move(-1)", "up"),
        Binding("down", "move(1)", "down")]

    def __init__(self, choices: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self.choices = list(choices)
        self.matches: list[str] = []
        self.highlight = -1

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        raise NotImplementedError

    def match_lines(self, width: int, mark: Callable[[str], str] = lambda key: "") -> Text:
        """The first 30 matches, one line each, the highlighted one reversed; ``mark``
        gives what goes before a match's text."""
        text = dict(self.choices)
        out = Text(no_wrap=True)
        for n, key in enumerate(self.matches[:30]):
            here = n == self.highlight
            out.append_text(fit(f"{'›' if here else ' '} {mark(key)}{text[key]}", width,
                                "reverse" if here else ""))
            out.append("\n")
        out.rstrip()
        return out

    def action_move(self, step: int) -> None:
        if self.matches:
            self.highlight = max(0, min(len(self.matches) - 1, self.highlight + step))
            self._draw()


class RelabelScreen(SearchScreen[Relabel | None]):
    """Search the codebook's codes and dimension values; Enter ticks the highlighted
    match, Enter on an empty search saves, Escape cancels."""

    DEFAULT_CSS = """
    RelabelScreen { align: center middle; }
    RelabelScreen > #relabel-box { width: 100%; max-width: 80; height: 100%;
                                   max-height: 22; background: $surface; }
    #relabel-box > Input { height: 3; }
    #relabel-box > Static { height: auto; }
    #relabel-box > #matches { height: 1fr; }
    """

    def __init__(self, codebook: Codebook, codes: Iterable[str],
                 values: dict[str, str | None]) -> None:
        super().__init__([(c.id, f"{c.id} {c.name}") for c in codebook.codes]
                         + [(f"{d.id}={v.id}", f"{d.id}={v.id} {d.name} {v.name}")
                            for d in codebook.dimensions for v in d.values])
        self.codebook = codebook
        self.codes = [c for c in codebook.code_ids if c in set(codes)]
        self.values = {d.id: values.get(d.id) for d in codebook.dimensions}
        self.note = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="relabel-box"):
            search = Input(placeholder="search codes and values by id or name", id="search")
            search.border_title = "relabel"
            yield search
            yield Static(id="chosen")
            yield Static(id="matches")
            yield Static(Text("Enter ticks the highlighted match · Enter on an empty search "
                              "saves · ↑↓ move · Esc cancels", style="dim"), id="hint")

    def on_mount(self) -> None:
        self._refresh_matches("")

    def _refresh_matches(self, query: str) -> None:
        self.matches = fuzzy_rank(query, self.choices)
        self.highlight = 0 if query.strip() and self.matches else -1
        self._draw()

    def _draw(self) -> None:
        width = max(self.size.width, 20)
        chosen = [*self.codes, *(f"{d}={v}" for d, v in self.values.items() if v)]
        head = fit("chosen: " + (", ".join(chosen) or "no code"), width, "bold")
        if self.note:
            head.append("\n")
            head.append_text(fit(self.note, width, "yellow"))
        self.query_one("#chosen", Static).update(head)
        def mark(key: str) -> str:
            dim, _, value = key.partition("=")
            on = key in self.codes or (bool(value) and self.values.get(dim) == value)
            return f"[{'x' if on else ' '}] "

        self.query_one("#matches", Static).update(self.match_lines(width, mark))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.value:  # cleared after a tick: keep saying what the tick did
            self.note = ""
        self._refresh_matches(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.highlight < 0 or not self.matches:
            self.dismiss((tuple(self.codes), dict(self.values)))
            return
        self.toggle(self.matches[self.highlight])
        event.input.value = ""  # posts Changed: the full list again, nothing highlighted

    def toggle(self, key: str) -> None:
        """Tick or untick a code (unticking its exclusive siblings) or a value."""
        if "=" in key:
            dim, value = key.split("=", 1)
            self.values[dim] = None if self.values.get(dim) == value else value
        elif key in self.codes:
            self.codes.remove(key)
        else:
            dropped = [c for c in self.codebook.exclusive_with(key) if c in self.codes]
            self.codes = [c for c in self.codebook.code_ids
                          if (c in self.codes and c not in dropped) or c == key]
            self.note = f"unticked {', '.join(dropped)} (exclusive with {key})" if dropped else ""
        self._draw()

    def action_cancel(self) -> None:
        self.dismiss(None)


# -- the app -------------------------------------------------------------------
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
