"""The review screens' modal screens (Textual): the fuzzy search over codes that
:class:`RelabelScreen` and the blind screen's coding build on (:class:`SearchScreen`),
the text over the review (help, a code's definition) and the one-line memo."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from isp_nlp.ingest.controls import visible
from isp_nlp.records import Codebook
from isp_nlp.review.screen_text import fit, fuzzy_rank


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
