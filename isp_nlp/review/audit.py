"""Audit samples and blind coding: pure drawing logic, the project's draw, the blind session.

An audit is a seeded, uniformly random sample of the codable segments no person has
coded yet (no annotation from a coder source, see :data:`~isp_nlp.records.CODER_SOURCES`),
drawn over *all* of them — where the model suggested codes and where it abstained or
suggested none — so that codes given blind on it measure the model (and the coders)
without the selection bias of reviewing suggestions.

Blind coding shows a segment with its neighbouring turns and nothing else: no
suggestion, no probability, no other coder's codes. The codes are stored with
provenance ``blind``, never ``assisted``. I/O stays injected, as in
:mod:`isp_nlp.review.terminal`; nothing here prints or imports click.
"""

from __future__ import annotations

import random
import secrets
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


def allocate(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of ``n`` draws over strata of ``sizes`` (largest remainder).

    Each stratum first gets the whole part of its exact share ``n * size / total``; the
    draws left over go one each to the strata with the largest fractional parts (ties to
    the earlier name), so the shares sum to exactly ``n`` and none exceeds its size.
    """
    total = sum(sizes.values())
    if n < 0 or n > total:
        raise ValueError(f"cannot allocate {n} draws over {total} units")
    if total == 0:
        return {name: 0 for name in sizes}
    shares = {name: n * size // total for name, size in sizes.items()}
    remainders = sorted(sizes, key=lambda name: (-(n * sizes[name] % total), name))
    for name in remainders[: n - sum(shares.values())]:
        shares[name] += 1
    return shares


def draw_sample(strata: Mapping[str, Sequence[str]], n: int, seed: int) -> list[str]:
    """A stratified uniform random sample of ``n`` ids from ``strata`` (name → ids).

    Each stratum's share is :func:`allocate`'s; within a stratum the ids are a simple
    random sample; the drawn ids are then shuffled together, so a coder does not meet
    them document by document. The same ``strata``, ``n`` and ``seed`` give the same
    list in the same order.
    """
    rng = random.Random(seed)
    shares = allocate({name: len(ids) for name, ids in strata.items()}, n)
    drawn: list[str] = []
    for name in sorted(strata):
        drawn += rng.sample(list(strata[name]), shares[name])
    rng.shuffle(drawn)
    return drawn


def uncoded_segments(store: Store, documents: Sequence[str] = ()) -> dict[str, list[str]]:
    """Document → ids of its codable segments no person has coded, in segment order."""
    coded = store.coded_segment_ids()
    wanted = set(documents)
    out: dict[str, list[str]] = {}
    for seg in store.segments(codable_only=True):
        if wanted and seg.document not in wanted:
            continue
        out.setdefault(seg.document, [])
        if seg.id not in coded:
            out[seg.document].append(seg.id)
    return out


@dataclass(frozen=True)
class Audit:
    """A drawn audit sample as recorded."""

    id: int
    seed: int
    n: int
    documents: tuple[str, ...]
    segment_ids: tuple[str, ...]


def draw_audit(store: Store, n: int, *, documents: Sequence[str] = (),
               seed: int | None = None) -> Audit:
    """Draw and record an audit of ``n`` uncoded codable segments of ``documents`` (all
    documents if empty); a seed is chosen and recorded when none is given."""
    names = store.document_names()
    chosen: list[str] = []
    for doc in documents:
        if doc not in names:
            raise IspNlpError(f"The project has no document {doc!r}; name one that "
                              "`isp-nlp status` lists.")
        if names[doc] not in chosen:
            chosen.append(names[doc])
    strata = uncoded_segments(store, chosen)
    available = sum(len(ids) for ids in strata.values())
    if n < 1 or n > available:
        raise IspNlpError(f"Cannot draw {n} segments: {available} codable segments are "
                          "uncoded; ask for between 1 and that many.")
    if seed is None:
        seed = secrets.randbelow(2**31)
    ids = draw_sample(strata, n, seed)
    audit_id = store.save_audit(seed=seed, n=n, documents=chosen, segment_ids=ids)
    return Audit(audit_id, seed, n, tuple(chosen), tuple(ids))


# -- blind coding ----------------------------------------------------------------------
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


def _neighbours(store: Store) -> Callable[[Segment], list[Segment]]:
    by_doc: dict[str, list[Segment]] = {}
    for seg in store.segments():
        by_doc.setdefault(seg.document, []).append(seg)

    def around(segment: Segment) -> list[Segment]:
        segs = by_doc[segment.document]
        at = next(i for i, s in enumerate(segs) if s.id == segment.id)
        return segs[max(at - 1, 0): at + 2]
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


def _code(store: Store, coder: str, segment: Segment, codebook: Codebook, spec: str,
          defaults: Mapping[str, str]) -> None:
    codes_text, _, values_text = spec.partition("|")
    codes = parse_codes(codes_text, codebook)
    named = "|".join(f"{d}={v}" for d, v in defaults.items())
    chosen = parse_values(f"{named}|{values_text}" if named else values_text, codebook, None)
    store.record_blind(coder, segment.id, codes,
                       {d: v for d, v in chosen.items() if v is not None})


class _BlindRun:
    """The segments still to show and what this session did (for undo's bookkeeping)."""

    def __init__(self, store: Store, coder: str, audit_id: int | None,
                 queue: Sequence[Segment], write: Callable[[str], None]) -> None:
        self.store, self.coder, self.audit_id, self.write = store, coder, audit_id, write
        self.pending = list(queue)
        self.by_id = {s.id: s for s in store.segments(codable_only=True)}
        self.done: list[tuple[str, str]] = []  # (log action, segment id) of this session
        self.coded = self.skipped = self.undone = 0

    @property
    def progress(self) -> tuple[int, int]:
        shown = self.coded + self.skipped
        return shown + 1, shown + len(self.pending)

    def skip(self, segment: Segment) -> None:
        self.store.record_blind_skip(self.coder, segment.id, self.audit_id)
        self.done.append((BLIND_SKIP_ACTION, segment.id))
        self.skipped += 1

    def coded_one(self, segment: Segment) -> None:
        self.done.append((BLIND_ACTION, segment.id))
        self.coded += 1

    def undo(self, current: Segment | None) -> None:
        """Undo the coder's last blind coding or skip (this session's or an earlier one)
        and show its segment again next (before ``current``, which stays pending)."""
        undone = self.store.undo_blind(self.coder)
        if undone is None:
            self.write("Nothing to undo.")
            return
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
        self.write("\n".join(textwrap.wrap(
            f"Undid the blind {what} of {where}; it is shown again.", 80,
            subsequent_indent="  ", break_on_hyphens=False)))
        if again is not None and again is not current:
            self.pending = [s for s in self.pending if s.id != segment_id]
            self.pending.insert(0, again)


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
    """``coder`` codes segments from scratch (see :func:`blind_queue`).

    Scripted: each action is ``e:code1,code2|DIM=VALUE`` (codes by id or number; ``e:``
    alone means "seen, no code"), ``s`` skip, ``u`` undo or ``q`` quit; running out ends
    the run. Interactive: ``read_line`` answers a codes prompt (empty skips, ``u`` undoes,
    ``q`` quits) and one prompt per dimension. Each coding and each skip is a log row,
    committed before the next segment is shown; ``u`` reverts the coder's last blind
    coding or skip, even one of an earlier session (an ``undo`` row in the log; the
    blind codes it wrote are retracted), and shows that segment again.
    """
    coder = coder.strip() if isinstance(coder, str) else ""
    if not coder:
        raise IspNlpError("The coder name is empty; expected a name such as 'alice'; pass "
                          "it with --coder NAME.")
    codebook = require_codebook(store)
    defaults = check_values(codebook, values or {})
    around = _neighbours(store)
    actions = None if script is None else list(script)
    if actions is not None:
        check_blind_script(codebook, actions)
    elif read_line is None:
        raise TypeError("an interactive blind review needs read_line")
    else:
        write(render_codebook(codebook))
    run = _BlindRun(store, coder, audit_id, blind_queue(store, coder, audit_id), write)
    while True:
        if actions is not None and not actions:
            break
        segment = run.pending[0] if run.pending else None
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
                run.undo(segment)
            elif segment is None:  # nothing left to code: only undo means something
                break
            elif verb == "s":
                run.pending.pop(0)
                run.skip(segment)
            else:
                _code(store, coder, segment, codebook, spec, defaults)
                run.pending.pop(0)
                run.coded_one(segment)
            continue
        assert read_line is not None and segment is not None
        answer = read_line("codes (numbers or ids, comma-separated; empty = skip, "
                           "u = undo, q = quit): ")
        if answer.strip().lower() == "q":
            break
        if answer.strip().lower() == "u":
            run.undo(segment)
            continue
        if not answer.strip():
            run.pending.pop(0)
            run.skip(segment)
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
            if dim.id in defaults:
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
        _code(store, coder, segment, codebook, "|".join(parts), defaults)
        run.pending.pop(0)
        run.coded_one(segment)
    left = len(blind_queue(store, coder, audit_id))
    return BlindSummary(run.coded, run.skipped, left, run.undone)
