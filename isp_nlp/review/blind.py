"""Blind coding: one coder's session (:class:`BlindRun`, shared by line mode and the full
screen) and the line-by-line loop (:func:`run_blind`).

Blind coding shows a segment with its neighbouring turns and nothing else: no
suggestion, no probability, no other coder's codes. The codes are stored with
provenance ``blind``, never ``assisted``. I/O stays injected, as in
:mod:`isp_nlp.review.terminal`; nothing here prints or imports click.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from isp_nlp.errors import IspNlpError
from isp_nlp.ingest.controls import visible
from isp_nlp.records import Codebook, Segment
from isp_nlp.review.terminal import (
    check_coding,
    check_values,
    parse_codes,
    parse_values,
    render_codebook,
)
from isp_nlp.store.audits import BLIND_ACTION, BLIND_SKIP_ACTION
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook


@dataclass(frozen=True)
class BlindSummary:
    coded: int
    skipped: int
    left: int
    undone: int = 0

    def __str__(self) -> str:
        undone = f", {self.undone} undone" if self.undone else ""
        return f"{self.coded} coded blind, {self.skipped} skipped{undone}, {self.left} left."


def blind_queue(store: Store, coder: str, audit_id: int | None = None) -> list[Segment]:
    """The segments ``coder`` codes blind: the audit's in drawn order (those the coder
    has not coded yet), or without an audit every codable segment no person has coded."""
    by_id = {s.id: s for s in store.segments(codable_only=True)}
    if audit_id is None:
        coded = store.coded_segment_ids()
        return [s for s in by_id.values() if s.id not in coded]
    ids = store.audit_segment_ids(audit_id)
    if ids is None:
        raise IspNlpError(f"The project has no audit {audit_id}; `isp-nlp audit list` "
                          "shows the audits there are.")
    mine = store.coded_segment_ids(coder)
    return [by_id[i] for i in ids if i in by_id and i not in mine]


def render_blind(segment: Segment, neighbours: Sequence[Segment], progress: tuple[int, int],
                 width: int = 80) -> str:
    """The segment with the turns around it, in lines of at most ``width`` columns: the
    segment in full, the turns around it shortened to two lines; no suggestion, no one's
    codes."""
    lines = [f"[{progress[0]}/{progress[1]}] {visible(segment.document)} #{segment.index}"]
    for seg in neighbours:
        mine = seg.id == segment.id
        text = " ".join(visible(seg.text).split())
        if not mine:
            text = textwrap.shorten(text, width=2 * width - 12, placeholder=" …")
        lines += textwrap.wrap(f"{visible(seg.speaker or '?')}: {text}", width,
                               initial_indent=">> " if mine else "   ",
                               subsequent_indent="   ", break_on_hyphens=False)
    return "\n".join(lines)


def neighbours(store: Store, before: int = 1, after: int = 1
               ) -> Callable[[Segment], list[Segment]]:
    """A function giving a segment with up to ``before`` turns before it and ``after``
    after it, of its own document, in order."""
    by_doc: dict[str, list[Segment]] = {}
    for seg in store.segments():
        by_doc.setdefault(seg.document, []).append(seg)

    def around(segment: Segment) -> list[Segment]:
        segs = by_doc[segment.document]
        at = next(i for i, s in enumerate(segs) if s.id == segment.id)
        return segs[max(at - before, 0): at + after + 1]
    return around


def check_blind_script(codebook: Codebook, actions: Sequence[str]) -> None:
    """Raise :class:`IspNlpError` naming the first action that is not ``e:codes|DIM=VALUE``,
    ``s``, ``u`` or ``q``, or whose codes or values the codebook lacks, before anything is
    stored."""
    for number, raw in enumerate(actions, start=1):
        verb = raw.strip().partition(":")[0]
        if verb.lower() not in {"e", "s", "u", "q"}:
            raise IspNlpError(f"Blind action #{number} {raw!r} is not an action: expected "
                              "e:codes|DIM=VALUE, s, u or q; fix or remove it (nothing was "
                              "stored).")
        check_coding(codebook, raw, f"Blind action #{number}", "Nothing was stored.")


def coding_spec(codes: Iterable[str], values: Mapping[str, str | None]) -> str:
    """The ``codes|DIM=VALUE`` part of a script's ``e:`` action for ``codes`` and the
    values chosen (a dimension without one is left out); ``""`` is "seen, no code"."""
    named = [f"{dim}={value}" for dim, value in values.items() if value]
    return "|".join([",".join(codes), *named]) if named else ",".join(codes)


def _code(store: Store, coder: str, segment: Segment, codebook: Codebook, spec: str,
          defaults: Mapping[str, str]) -> None:
    codes_text, _, values_text = spec.partition("|")
    codes = parse_codes(codes_text, codebook)
    named = "|".join(f"{d}={v}" for d, v in defaults.items())
    chosen = parse_values(f"{named}|{values_text}" if named else values_text, codebook, None)
    store.record_blind(coder, segment.id, codes,
                       {d: v for d, v in chosen.items() if v is not None})


class BlindRun:
    """One coder's blind session: the segments still to show (the current one first) and
    what this session did. Every coding, skip and undo is committed to the store before
    the method returns; line mode and the full screen both act through these methods.

    Raises :class:`IspNlpError` for an empty coder name, a project without a codebook,
    ``values`` (dimension id → value, the script's ``--value``) the codebook lacks, a
    ``script`` with a bad action (checked before anything is read or stored) or an
    unknown audit. ``checked`` is called with the codebook once all but the audit is
    checked (line mode lists the codebook there).
    """

    def __init__(self, store: Store, coder: str, *, audit_id: int | None = None,
                 values: Mapping[str, str] | None = None, script: Sequence[str] = (),
                 checked: Callable[[Codebook], None] | None = None) -> None:
        coder = coder.strip() if isinstance(coder, str) else ""
        if not coder:
            raise IspNlpError("The coder name is empty; expected a name such as 'alice'; "
                              "pass it with --coder NAME.")
        self.store, self.coder, self.audit_id = store, coder, audit_id
        self.codebook = require_codebook(store)
        self.defaults = check_values(self.codebook, values or {})
        check_blind_script(self.codebook, script)
        if checked is not None:
            checked(self.codebook)
        self.pending = blind_queue(store, coder, audit_id)
        self.by_id = {s.id: s for s in store.segments(codable_only=True)}
        self.done: list[tuple[str, str]] = []  # (log action, segment id) of this session
        self.coded = self.skipped = self.undone = 0

    @property
    def current(self) -> Segment | None:
        """The segment to code now (None when the queue is empty)."""
        return self.pending[0] if self.pending else None

    @property
    def progress(self) -> tuple[int, int]:
        """(the current segment's position, the number shown and still to show)."""
        shown = self.coded + self.skipped
        return shown + 1, shown + len(self.pending)

    def _take(self) -> Segment:
        if not self.pending:
            raise IspNlpError("No segment is left to code; u undoes the last coding or "
                              "skip.")
        return self.pending[0]

    def code(self, spec: str) -> Segment:
        """Store the current segment's blind coding ``spec`` (the ``codes|DIM=VALUE`` of a
        script's ``e:`` action; ``""`` is "seen, no code") and move on; return the segment."""
        segment = self._take()
        _code(self.store, self.coder, segment, self.codebook, spec, self.defaults)
        self.pending.pop(0)
        self.done.append((BLIND_ACTION, segment.id))
        self.coded += 1
        return segment

    def skip(self) -> Segment:
        """Log a skip of the current segment (nothing coded) and move on; return it."""
        segment = self._take()
        self.store.record_blind_skip(self.coder, segment.id, self.audit_id)
        self.pending.pop(0)
        self.done.append((BLIND_SKIP_ACTION, segment.id))
        self.skipped += 1
        return segment

    def undo(self) -> str:
        """Undo the coder's last blind coding or skip (this session's or an earlier one)
        and show its segment again next (before the current one, which stays pending).
        Return what happened, as a sentence."""
        undone = self.store.undo_blind(self.coder)
        if undone is None:
            return "Nothing to undo."
        action, segment_id = undone
        self.undone += 1
        if self.done and self.done[-1] == undone:
            self.done.pop()
            if action == BLIND_ACTION:
                self.coded -= 1
            else:
                self.skipped -= 1
        what = "coding" if action == BLIND_ACTION else "skip"
        again = self.by_id.get(segment_id)
        where = (f"{visible(again.document)} #{again.index}" if again is not None
                 else visible(segment_id))
        if again is not None and (self.current is None or again.id != self.current.id):
            self.pending = [s for s in self.pending if s.id != segment_id]
            self.pending.insert(0, again)
        return f"Undid the blind {what} of {where}; it is shown again."

    def summary(self) -> BlindSummary:
        """What this session did, and how many segments are left to code."""
        left = len(blind_queue(self.store, self.coder, self.audit_id))
        return BlindSummary(self.coded, self.skipped, left, self.undone)


def run_blind(
    store: Store,
    coder: str,
    *,
    audit_id: int | None = None,
    script: Iterable[str] | None = None,
    write: Callable[[str], None] = print,
    read_line: Callable[[str], str] | None = None,
    values: Mapping[str, str] | None = None,
) -> BlindSummary:
    """``coder`` codes segments from scratch, line by line (see :func:`blind_queue`).

    Scripted: each action is ``e:code1,code2|DIM=VALUE`` (codes by id or number; ``e:``
    alone means "seen, no code"), ``s`` skip, ``u`` undo or ``q`` quit; running out ends
    the run. Interactive: ``read_line`` answers a codes prompt (empty skips, ``u`` undoes,
    ``q`` quits) and one prompt per dimension. Each coding and each skip is a log row,
    committed before the next segment is shown; ``u`` reverts the coder's last blind
    coding or skip, even one of an earlier session (an ``undo`` row in the log; the
    blind codes it wrote are retracted), and shows that segment again.
    """
    actions = None if script is None else list(script)
    if actions is None and read_line is None:
        raise TypeError("an interactive blind review needs read_line")
    run = BlindRun(store, coder, audit_id=audit_id, values=values, script=actions or (),
                   checked=None if actions is not None else
                   lambda book: write(render_codebook(book)))
    codebook = run.codebook
    around = neighbours(store)

    def undo() -> None:
        write("\n".join(textwrap.wrap(run.undo(), 80, subsequent_indent="  ",
                                      break_on_hyphens=False)))

    while True:
        if actions is not None and not actions:
            break
        segment = run.current
        if segment is None and actions is None:
            break
        if segment is not None:
            write(render_blind(segment, around(segment), run.progress))
        if actions is not None:
            verb, _, spec = actions.pop(0).strip().partition(":")
            verb = verb.lower()
            if verb == "q":
                break
            if verb == "u":
                undo()
            elif segment is None:  # nothing left to code: only undo means something
                break
            elif verb == "s":
                run.skip()
            else:
                run.code(spec)
            continue
        assert read_line is not None and segment is not None
        answer = read_line("codes (numbers or ids, comma-separated; empty = skip, "
                           "u = undo, q = quit): ")
        if answer.strip().lower() == "q":
            break
        if answer.strip().lower() == "u":
            undo()
            continue
        if not answer.strip():
            run.skip()
            continue
        while True:
            try:
                parse_codes(answer, codebook)
                break
            except IspNlpError as err:
                write(str(err))
                answer = read_line("codes: ")
        parts = [answer]
        for dim in codebook.dimensions:
            if dim.id in run.defaults:
                continue
            while True:
                value = read_line(f"{dim.id} [{'/'.join(dim.value_ids)}, empty = none]: ")
                try:
                    parse_values(f"{dim.id}={value}" if value.strip() else "", codebook, None)
                    break
                except IspNlpError as err:
                    write(str(err))
            if value.strip():
                parts.append(f"{dim.id}={value.strip()}")
        run.code("|".join(parts))
    return run.summary()
