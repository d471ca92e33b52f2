"""The terminal review loop, with all I/O injected.

``run_review`` renders each item as plain text and reads single keys; the CLI
passes ``click.getchar``/``click.echo``/``click.prompt``-based callables (this
module never imports click). ``run_scripted`` drives the same session from a
list of actions for demos and tests.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from isp_nlp.codebook.check import normalise_value
from isp_nlp.errors import AlreadyDecided, IspNlpError
from isp_nlp.ingest.controls import visible
from isp_nlp.records import Codebook, Decision, Dimension
from isp_nlp.review.queue import ReviewItem
from isp_nlp.review.session import ReviewSession, check_value, dimension_error, value_error

CODES_PROMPT = "codes (numbers or ids, comma-separated, empty for none): "
LEGEND = "[a] accept  [r] reject  [e] relabel  [s] skip  [u] undo  [q] quit"
CANCEL = "."
_QUIT_KEYS = {"q", "", "\x03", "\x04"}  # EOF, Ctrl-C and Ctrl-D read as raw characters quit too
_PAST = {"accept": "accepted", "reject": "rejected", "relabel": "relabelled", "skip": "skipped"}


@dataclass(frozen=True)
class ReviewSummary:
    """What one run of the review loop did (net of undos made in the same run)."""

    accepted: int
    rejected: int
    relabelled: int
    skipped: int
    undone: int
    remaining: int

    def __str__(self) -> str:
        return (f"{self.accepted} accepted, {self.rejected} rejected, {self.relabelled} "
                f"relabelled, {self.skipped} skipped, {self.undone} undone; "
                f"{self.remaining} left to review")


# -- parsing ---------------------------------------------------------------
def value_prompt(dimension: Dimension) -> str:
    """The prompt asking for ``dimension``'s value in a relabel."""
    return f"{dimension.id} [{'/'.join(dimension.value_ids)}, empty = keep suggestion]: "


def parse_codes(text: str, codebook: Codebook) -> tuple[str, ...]:
    """Turn "1, peer_learning" into code ids (1-based numbers or ids, case-insensitive)."""
    ids = codebook.code_ids
    lowered = {code.lower(): code for code in ids}
    chosen: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token.isdigit():
            number = int(token)
            if not 1 <= number <= len(ids):
                raise IspNlpError(
                    f"Code number {number} is out of range; expected 1 to {len(ids)}; "
                    "type numbers from the list above."
                )
            code = ids[number - 1]
        elif token.lower() in lowered:
            code = lowered[token.lower()]
        else:
            raise IspNlpError(
                f"Code {token!r} is not in codebook {codebook.name!r}; expected a number "
                f"from the list or one of {', '.join(ids) or '(no codes)'}; retype it."
            )
        if code not in chosen:
            chosen.append(code)
    return tuple(chosen)


def parse_value(text: str, dimension: Dimension, item: ReviewItem | None) -> str | None:
    """``dimension``'s value id from the answer (an id or name, any case); empty keeps the
    suggestion of ``item`` (None if the model abstained, or without an item)."""
    if not text.strip():
        got = item.value(dimension.id) if item is not None else None
        return got[0] if got is not None else None
    value = normalise_value(dimension, text)
    if value not in dimension.value_ids:
        raise value_error(dimension, text, "type one of those or press Enter to keep the "
                                           "suggestion")
    return value


def parse_values(text: str, codebook: Codebook, item: ReviewItem | None
                 ) -> dict[str, str | None]:
    """The values of a scripted relabel's part after "|": ``DIM=VALUE`` pairs separated by
    "|", or one bare value for a codebook with a single dimension. A dimension not named
    keeps the suggestion."""
    chosen: dict[str, str | None] = {}
    for part in (p.strip() for p in text.split("|")):
        if not part:
            continue
        if "=" in part:
            dim_id, _, value = (x.strip() for x in part.partition("="))
        elif len(codebook.dimensions) == 1:
            dim_id, value = codebook.dimensions[0].id, part
        elif not codebook.dimensions:
            raise IspNlpError(
                f"Codebook {codebook.name!r} has no dimensions, so the value {part!r} cannot "
                "be given; give codes only.")
        else:
            raise IspNlpError(
                f"The value {part!r} does not say its dimension; write DIMENSION=VALUE with "
                f"one of {', '.join(codebook.dimension_ids)}.")
        dim = codebook.dimension(dim_id)
        if dim is None:
            raise dimension_error(codebook, dim_id)
        chosen[dim.id] = parse_value(value, dim, item)
    for dim in codebook.dimensions:
        if dim.id not in chosen:
            chosen[dim.id] = parse_value("", dim, item)
    return chosen


#: What each key records, shown by ``?`` (lines within 80 columns).
KEYS_HELP = "\n".join((
    "a  accept: the suggested codes and values apply (recorded as yours, 'assisted')",
    "r  reject: none of the suggested codes apply (a negative judgement, kept)",
    "e  relabel: type the codes (and each dimension's value) that do apply",
    "s  skip: decide later; nothing is recorded about the codes",
    "u  undo your last decision (any number of times, across sessions)",
    "q  quit; every decision is already saved",
))


# -- rendering -------------------------------------------------------------
def _shorten(text: str, width: int) -> str:
    return textwrap.shorten(" ".join(text.split()), width=max(width, 20), placeholder=" …")


def _below(p: float) -> str:
    """A probability below the threshold, rounded down: 0.2496 under a 0.25 threshold
    shows as 0.24, never as the threshold itself."""
    return f"{math.floor(p * 100) / 100:.2f}"


def _fmt_codes(item: ReviewItem) -> str:
    probs = dict(item.codes)
    shown = [f"{c} {probs[c]:.2f}" if c in probs else c for c in item.suggested_codes]
    others = [f"{c} {_below(p)}" for c, p in item.codes if c not in item.suggested_codes][:2]
    if shown:
        text = "codes: " + ", ".join(shown)
        return text + (f" (next: {', '.join(others)})" if others else "")
    return "codes: none above threshold" + (f" (best: {', '.join(others)})" if others else "")


def _fmt_values(item: ReviewItem, codebook: Codebook | None) -> list[str]:
    """One "name: value p" per dimension the model suggested on (only the codebook's, in
    its order, when given: accepting asserts no other); "model abstains on name" where it
    abstains."""
    if codebook is not None:
        order = [d.id for d in codebook.dimensions]
    else:
        order = [dim for dim, _ in item.values]
    shown = dict(item.values)
    out = []
    for dim_id in order:
        if dim_id not in shown:
            continue
        dim = codebook.dimension(dim_id) if codebook is not None else None
        name = dim.name if dim is not None and dim.name else dim_id
        got = shown[dim_id]
        text = f"{name}: {got[0]} {got[1]:.2f}" if got is not None else f"model abstains on {name}"
        if dim_id in item.certified:
            text += " (certified range)"
        out.append(text)
    return out


def render_item(item: ReviewItem, progress: tuple[int, int], width: int = 100,
                codebook: Codebook | None = None) -> str:
    """Plain-text card for one item: header, context, segment, suggestion, evidence, keys.

    With ``codebook``, each dimension is shown by its name, in the codebook's order."""
    width = max(int(width), 40)
    done, total = progress
    seg = item.segment
    header = f"[{min(done + 1, total)}/{total}] {seg.document} · segment #{seg.index}"
    header += f" · {seg.speaker or 'unknown speaker'} · uncertainty {item.score:.2f}"
    lines = ["─" * width, header]
    if item.previous is not None:
        who = item.previous.speaker or "unknown"
        lines.append(_shorten(f"… {who}: {item.previous.text}", width))
    lines.append("")
    body = textwrap.fill(
        " ".join(seg.text.split()), width=width, initial_indent="  ", subsequent_indent="  "
    )
    lines.extend([body or "  (empty segment)", ""])
    codes = _fmt_codes(item)
    if "code" in item.certified:
        codes += " (certified range)"
    values = _fmt_values(item, codebook)
    if len(" | ".join([codes, *values])) <= width:
        lines.append(" | ".join([codes, *values]))
    else:
        lines.extend(textwrap.wrap(codes, width, subsequent_indent="  "))
        for text in values:
            lines.extend(textwrap.wrap(text, width, subsequent_indent="  "))
    if item.evidence:
        lines.append("evidence (nearest coded segments):")
        for ev in item.evidence[:3]:
            labels = ", ".join(ev.labels) or "no labels"
            prefix = f"  {ev.similarity:.2f}  [{labels}]  "
            lines.append(prefix + _shorten(ev.text, width - len(prefix)))
    else:
        lines.append("evidence: none")
    lines.extend(["", LEGEND])
    return "\n".join(lines)


def render_codebook(codebook: Codebook, marked: Iterable[str] = ()) -> str:
    """Numbered code list (children indented, * = currently suggested)."""
    marked = set(marked)
    parents = {c.id: c.parent for c in codebook.codes}

    def depth(code_id: str) -> int:
        level, seen = 0, {code_id}
        while (parent := parents.get(code_id)) and parent not in seen and level < 10:
            seen.add(parent)
            code_id, level = parent, level + 1
        return level

    lines = [f"codebook {codebook.name} (* = suggested; type {CANCEL} to cancel):"]
    for number, code in enumerate(codebook.codes, start=1):
        star = "*" if code.id in marked else " "
        name = f" — {code.name}" if code.name and code.name != code.id else ""
        lines.append(f"{star}{number:>3}. {'  ' * depth(code.id)}{code.id}{name}")
    return "\n".join(lines)


def summarise(session: ReviewSession, undone: int) -> ReviewSummary:
    """What ``session`` decided so far (net of undos), with ``undone`` undos."""
    counts = Counter(d.action for d in session.decisions())
    done, total = session.progress()
    return ReviewSummary(
        accepted=counts["accept"],
        rejected=counts["reject"],
        relabelled=counts["relabel"],
        skipped=counts["skip"],
        undone=undone,
        remaining=total - done,
    )


def _undo_message(session: ReviewSession, decision: Decision | None) -> str:
    if decision is None:
        return "nothing to undo"
    where = "" if session.contains(decision.item_key) else " (its segment is not in this queue)"
    return f"undid {decision.action} of segment {decision.segment_id}{where}"


def _finished_message(session: ReviewSession) -> str:
    done, total = session.progress()
    skipped = session.skipped()
    text = f"No segments left in this queue: {done}/{total} decided"
    if skipped:
        text += f", {skipped} skipped (run review again to revisit them)"
    return text + ". Press u to undo the last decision, any other key to finish."


# -- interactive loop --------------------------------------------------------
def _ask_relabel(
    session: ReviewSession,
    item: ReviewItem,
    write: Callable[[str], None],
    read_line: Callable[[str], str],
) -> Decision | None:
    """Prompt for codes, then each dimension's value, until valid; None when the coder
    cancels. Only the codebook's dimensions are asked for (none: codes only)."""
    write(render_codebook(session.codebook, item.suggested_codes))
    while True:
        try:
            answer = read_line(CODES_PROMPT)
            if answer.strip() == CANCEL:
                return None
            codes = parse_codes(answer, session.codebook)
            values: dict[str, str | None] = {}
            for dim in session.dimensions:
                while True:
                    answer = read_line(value_prompt(dim))
                    if answer.strip() == CANCEL:
                        return None
                    try:
                        values[dim.id] = parse_value(answer, dim, item)
                        break
                    except IspNlpError as err:
                        write(str(err))
            return session.relabel(codes, values)
        except EOFError:
            return None
        except IspNlpError as err:
            write(str(err))


def run_review(
    session: ReviewSession,
    *,
    read_key: Callable[[], str],
    write: Callable[[str], None],
    read_line: Callable[[str], str],
    width: int = 100,
) -> ReviewSummary:
    """Interactive triage: show an item, read one key, record, repeat until quit.

    Everything written passes through :func:`isp_nlp.ingest.controls.visible`, so no
    escape sequence from a transcript, code or coder name reaches the terminal.
    """
    raw_write = write

    def write(text: str) -> None:  # type: ignore[no-redef]  # the same callable, made safe
        raw_write(visible(text))

    undone = 0
    render = True
    while True:
        item = session.current()
        if item is None:
            if not session.decisions() and not undone:
                done, total = session.progress()
                write(f"Nothing to review: {done}/{total} items already decided.")
                break
            write(_finished_message(session))
            if read_key().lower() != "u":
                break
            decision = session.undo()
            undone += decision is not None
            write(_undo_message(session, decision))
            continue
        if render:
            write(render_item(item, session.progress(), width, session.codebook))
        render = True
        key = read_key()
        key = key.lower() if len(key) == 1 else key
        if key in _QUIT_KEYS:
            break
        if key in ("a", "r", "s"):
            action = {"a": "accept", "r": "reject", "s": "skip"}[key]
            try:
                getattr(session, action)()
            except AlreadyDecided as err:
                write(f"-> {err}")
                continue
            write(f"-> {_PAST[action]}")
        elif key == "e":
            if _ask_relabel(session, item, write, read_line) is None:
                write("relabel cancelled")
            else:
                write(f"-> {_PAST['relabel']}")
        elif key == "u":
            decision = session.undo()
            undone += decision is not None
            write(_undo_message(session, decision))
            render = decision is not None
        elif key in ("?", "h"):
            write(KEYS_HELP)
            render = False
        else:
            write(f"unknown key {key!r}: press a, r, e, s, u or q (? for help)")
            render = False
    summary = summarise(session, undone)
    write(
        f"accepted {summary.accepted}, rejected {summary.rejected}, relabelled "
        f"{summary.relabelled}, skipped {summary.skipped}, undone {summary.undone}; "
        f"{summary.remaining} remaining"
    )
    return summary


# -- scripted ----------------------------------------------------------------
def check_values(codebook: Codebook, values: Mapping[str, str]) -> dict[str, str]:
    """``values`` (dimension id → value, e.g. from ``--value DIM=VALUE``) as value ids of
    ``codebook``'s dimensions; raises :class:`IspNlpError` naming a dimension the codebook
    lacks or a value its dimension lacks."""
    out: dict[str, str] = {}
    for dim_id, text in ((d.strip(), t) for d, t in values.items()):
        value = check_value(codebook, dim_id, text, f"give one of those with --value "
                                                    f"{dim_id}=VALUE")
        if value is not None:
            out[dim_id] = value
    return out


def check_script(actions: Sequence[str]) -> None:
    """Raise :class:`IspNlpError` naming the first entry that is not an action, before
    anything is decided."""
    for number, raw in enumerate(actions, start=1):
        verb = raw.strip().split(":", 1)[0].lower()
        if verb not in {"a", "r", "s", "u", "q", "e"}:
            raise IspNlpError(
                f"Scripted action #{number} {raw!r} is not an action: expected a, r, s, u, q "
                "or e:codes|DIM=VALUE; fix or remove it (no decision was made)."
            )


def check_relabels(codebook: Codebook, actions: Sequence[str],
                   values: Mapping[str, str] | None = None) -> dict[str, str]:
    """Check the codes and values of every scripted relabel ("e:" action) and ``values``
    against ``codebook`` before anything is decided; return ``values`` as value ids
    (see :func:`check_values`). Raises :class:`IspNlpError` naming the first wrong one."""
    defaults = check_values(codebook, values or {})
    for number, raw in enumerate(actions, start=1):
        check_coding(codebook, raw, f"Scripted action #{number}", "No decision was made.")
    return defaults


def check_coding(codebook: Codebook, raw: str, where: str, after: str) -> None:
    """Check the codes and values of an ``e:codes|DIM=VALUE`` action (any other action
    passes) against ``codebook``; a wrong one raises :class:`IspNlpError` as
    "<where> '<raw>': <problem> <after>"."""
    verb, _, spec = raw.strip().partition(":")
    if verb.lower() != "e":
        return
    codes_text, _, values_text = spec.partition("|")
    try:
        parse_codes(codes_text, codebook)
        parse_values(values_text, codebook, None)
    except IspNlpError as err:
        raise IspNlpError(f"{where} {raw!r}: {err} {after}") from err


def run_scripted(session: ReviewSession, actions: Iterable[str],
                 values: Mapping[str, str] | None = None) -> ReviewSummary:
    """Apply actions such as "a", "r", "s", "u", "q", "e:code1,code2|phase=late" in order.

    In "e:" actions the parts after "|" are values, ``DIM=VALUE`` (a codebook with one
    dimension also takes the bare value, e.g. "e:code1|exchange"); a dimension the action
    does not name takes its value from ``values`` (dimension id → value, see
    :func:`check_values`), else keeps the suggestion. Running out of actions ends the run
    like "q". An invalid action raises :class:`IspNlpError` naming it.
    """
    actions = list(actions)
    check_script(actions)
    defaults = check_relabels(session.codebook, actions, values)
    undone = 0
    done = 0
    for number, raw in enumerate(actions, start=1):
        action = raw.strip()
        verb = action.split(":", 1)[0].lower()
        kept = (f" The {done} decision{'s' if done != 1 else ''} before it "
                f"{'are' if done != 1 else 'is'} kept." if done else " No decision was made.")
        if verb == "q":
            break
        if verb == "u":
            if session.undo() is not None:
                undone += 1
                done = max(done - 1, 0)
            continue
        item = session.current()
        if item is None or verb not in {"a", "r", "s", "e"}:
            reason = (
                "there is no segment left to review"
                if verb in {"a", "r", "s", "e"}
                else "expected a, r, s, u, q or e:codes|DIM=VALUE"
            )
            raise IspNlpError(
                f"Scripted action #{number} {raw!r} cannot be applied: {reason}; "
                f"fix or remove that action.{kept}"
            )
        if verb in ("a", "r", "s"):
            try:
                getattr(session, {"a": "accept", "r": "reject", "s": "skip"}[verb])()
            except AlreadyDecided:
                continue  # the coder's other session decided it first; that one stands
        else:
            spec = action.split(":", 1)[1] if ":" in action else ""
            codes_text, _, values_text = spec.partition("|")
            codes = parse_codes(codes_text, session.codebook)  # checked by check_relabels
            named = "|".join(f"{d}={v}" for d, v in defaults.items())
            chosen = parse_values(f"{named}|{values_text}" if named else values_text,
                                  session.codebook, item)
            try:
                session.relabel(codes, chosen)
            except AlreadyDecided:
                continue
        done += 1
    return summarise(session, undone)
