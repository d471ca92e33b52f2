"""The terminal review loop, with all I/O injected.

``run_review`` renders each item as plain text and reads single keys; the CLI
passes ``click.getchar``/``click.echo``/``click.prompt``-based callables (this
module never imports click). ``run_scripted`` drives the same session from a
list of actions for demos and tests.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from isp_nlp.errors import AlreadyDecided, IspNlpError
from isp_nlp.ingest.controls import visible
from isp_nlp.records import Codebook, Decision
from isp_nlp.review.queue import ReviewItem
from isp_nlp.review.session import ReviewSession

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
def stage_prompt(session: ReviewSession) -> str:
    return f"stage [{'/'.join(session.stage_ids)}, empty = keep suggestion]: "


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


def parse_stage(text: str, session: ReviewSession, item: ReviewItem) -> str | None:
    """Stage id from the answer; empty keeps the suggestion (None if the model abstained)."""
    answer = text.strip().lower()
    if not answer:
        return item.stage[0] if item.stage is not None else None
    stages = session.stage_ids
    if answer not in stages:
        raise IspNlpError(
            f"Stage {text.strip()!r} is not a stage; expected one of {', '.join(stages)}; "
            "type one of those or press Enter to keep the suggestion."
        )
    return answer


# -- rendering -------------------------------------------------------------
def _shorten(text: str, width: int) -> str:
    return textwrap.shorten(" ".join(text.split()), width=max(width, 20), placeholder=" …")


def _fmt_codes(item: ReviewItem) -> str:
    probs = dict(item.codes)
    shown = [f"{c} {probs[c]:.2f}" if c in probs else c for c in item.suggested_codes]
    others = [f"{c} {p:.2f}" for c, p in item.codes if c not in item.suggested_codes][:2]
    if shown:
        text = "codes: " + ", ".join(shown)
        return text + (f" (next: {', '.join(others)})" if others else "")
    return "codes: none above threshold" + (f" (best: {', '.join(others)})" if others else "")


def render_item(item: ReviewItem, progress: tuple[int, int], width: int = 100) -> str:
    """Plain-text card for one item: header, context, segment, suggestion, evidence, keys."""
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
    stage = (
        f"stage: {item.stage[0]} {item.stage[1]:.2f}"
        if item.stage is not None
        else "model abstains on stage"
    )
    codes = _fmt_codes(item)
    if "stage" in item.certified:
        stage += " (certified range)"
    if "code" in item.certified:
        codes += " (certified range)"
    if len(codes) + len(stage) + 3 <= width:
        lines.append(f"{codes} | {stage}")
    else:
        lines.extend([*textwrap.wrap(codes, width, subsequent_indent="  "), stage])
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


def _summary(session: ReviewSession, undone: int) -> ReviewSummary:
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
    """Prompt for codes and stage until valid; None when the coder cancels."""
    write(render_codebook(session.codebook, item.suggested_codes))
    while True:
        try:
            answer = read_line(CODES_PROMPT)
            if answer.strip() == CANCEL:
                return None
            codes = parse_codes(answer, session.codebook)
            while session.stage_ids:  # no stage to ask for without a stage dimension
                answer = read_line(stage_prompt(session))
                if answer.strip() == CANCEL:
                    return None
                try:
                    stage = parse_stage(answer, session, item)
                    break
                except IspNlpError as err:
                    write(str(err))
            else:
                stage = None
            return session.relabel(codes, stage)
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
            write(render_item(item, session.progress(), width))
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
        else:
            write(f"unknown key {key!r}: press a, r, e, s, u or q")
            render = False
    summary = _summary(session, undone)
    write(
        f"accepted {summary.accepted}, rejected {summary.rejected}, relabelled "
        f"{summary.relabelled}, skipped {summary.skipped}, undone {summary.undone}; "
        f"{summary.remaining} remaining"
    )
    return summary


# -- scripted ----------------------------------------------------------------
def check_script(actions: Sequence[str]) -> None:
    """Raise :class:`IspNlpError` naming the first entry that is not an action, before
    anything is decided."""
    for number, raw in enumerate(actions, start=1):
        verb = raw.strip().split(":", 1)[0].lower()
        if verb not in {"a", "r", "s", "u", "q", "e"}:
            raise IspNlpError(
                f"Scripted action #{number} {raw!r} is not an action: expected a, r, s, u, q "
                "or e:codes|stage; fix or remove it (no decision was made)."
            )


def run_scripted(session: ReviewSession, actions: Iterable[str]) -> ReviewSummary:
    """Apply actions such as "a", "r", "s", "u", "q", "e:code1,code2|stage" in order.

    In "e:" actions the part after "|" is the stage (empty or missing keeps the
    suggestion). Running out of actions ends the run like "q". An invalid action
    raises :class:`IspNlpError` naming it.
    """
    actions = list(actions)
    check_script(actions)
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
                else "expected a, r, s, u, q or e:codes|stage"
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
            codes_text, _, stage_text = spec.partition("|")
            try:
                codes = parse_codes(codes_text, session.codebook)
                stage = parse_stage(stage_text, session, item)
            except IspNlpError as err:
                raise IspNlpError(f"Scripted action #{number} {raw!r}: {err}{kept}") from err
            try:
                session.relabel(codes, stage)
            except AlreadyDecided:
                continue
        done += 1
    return _summary(session, undone)
