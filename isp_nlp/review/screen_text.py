"""The review screens' text, drawn without Textual: a segment in its turns, the codes
with their bars, the evidence, the pace, a code's definition, and the fuzzy ranking the
code searches use.

Pure functions from a review item (or the codebook) to :class:`rich.text.Text` or a
string, so the screens (:mod:`isp_nlp.review.screen`, :mod:`isp_nlp.review.blind_screen`)
only lay them out. Transcript text is made safe by
:func:`~isp_nlp.ingest.controls.visible`, never treated as markup.
"""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Iterable, Sequence

from rich.text import Text

from isp_nlp.ingest.controls import one_line, visible
from isp_nlp.records import CODE_DIMENSION, Codebook, Segment
from isp_nlp.review.queue import ReviewItem, shown_codes

BAR = 10  # cells of a confidence bar
CERTIFIED = "cert"  # the mark of a suggestion within the model's certified range


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
