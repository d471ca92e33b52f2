"""Review session logic: decisions, the recorder protocol and the session state.

Pure logic, no I/O: a :class:`ReviewSession` walks a queue of
:class:`~isp_nlp.review.queue.ReviewItem` and turns each action into a
:class:`Decision`, which it hands to a :class:`DecisionRecorder` (the project
store) *before* moving to the next item, so a crash or a quit never loses a
decision and the next session resumes where this one stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from isp_nlp.codebook.check import normalise_value
from isp_nlp.errors import AlreadyDecided, IspNlpError
from isp_nlp.records import Codebook, Decision, Dimension
from isp_nlp.review.queue import FINAL_ACTIONS, ReviewItem, pending

ACTIONS = ("accept", "reject", "relabel", "skip")


class DecisionRecorder(Protocol):
    """Where decisions go; the project store implements it durably."""

    def record(self, decision: Decision) -> int:
        """Commit ``decision`` durably and return its log id."""
        ...

    def undo_last(self, coder: str) -> Decision | None:
        """Revert ``coder``'s most recent decision not yet undone; return it, or None."""
        ...

    def decided(self, coder: str) -> dict[str, str]:
        """Map item key to the last effective action of ``coder``."""
        ...


def snapshot(item: ReviewItem) -> dict[str, Any]:
    """JSON-safe record of the suggestion shown for ``item`` (lists, str, float only)."""
    return {
        "codes": [[code, float(p)] for code, p in item.codes],
        "suggested_codes": list(item.suggested_codes),
        "values": {dim: None if got is None else [got[0], float(got[1])]
                   for dim, got in item.values},
        "evidence": [
            {"segment_id": ev.segment_id, "similarity": float(ev.similarity),
             "labels": list(ev.labels)}
            for ev in item.evidence
        ],
        "score": float(item.score),
    }


def _same(a: Decision, b: Decision) -> bool:
    return (a.item_key, a.action, a.codes, a.values) == (b.item_key, b.action, b.codes,
                                                          b.values)


def dimension_error(codebook: Codebook, dimension: str) -> IspNlpError:
    """The error for a dimension ``codebook`` does not have."""
    if not codebook.dimensions:
        return IspNlpError(
            f"Codebook {codebook.name!r} has no dimensions, so no {dimension!r} value can be "
            "given; give codes only.")
    return IspNlpError(
        f"Codebook {codebook.name!r} has no dimension {dimension!r}; expected one of "
        f"{', '.join(codebook.dimension_ids)}; name one of those.")


def value_error(dimension: Dimension, text: str, hint: str) -> IspNlpError:
    """The error for ``text`` that is not a value of ``dimension``; ``hint`` says what to do."""
    name = dimension.name or dimension.id
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return IspNlpError(
        f"{text.strip()!r} is not {article} {name.lower()} value; expected one of "
        f"{', '.join(dimension.value_ids) or '(no values)'}; {hint}.")


def check_value(codebook: Codebook, dimension: str, text: str | None, hint: str) -> str | None:
    """The value id ``text`` names on ``dimension`` of ``codebook`` (any case, id or name;
    see :func:`~isp_nlp.codebook.check.normalise_value`); None for an empty answer.
    Raises :class:`IspNlpError` for an unknown dimension or value."""
    dim = codebook.dimension(dimension)
    if dim is None:
        if text is None or not text.strip():
            return None
        raise dimension_error(codebook, dimension)
    value = normalise_value(dim, text)
    if value is not None and value not in dim.value_ids:
        raise value_error(dim, value, hint)
    return value


class ReviewSession:
    """Walk ``items`` (already sorted) for one coder, recording each decision.

    Pass *all* items of the review, not only the pending ones: the session drops
    those the coder already settled (per ``recorder.decided``), moves previously
    skipped ones to the end, and keeps the rest so ``undo`` can bring back an
    item decided in an earlier session.
    """

    def __init__(
        self,
        items: Sequence[ReviewItem],
        recorder: DecisionRecorder,
        coder: str,
        codebook: Codebook,
        details: Callable[[ReviewItem], ReviewItem] | None = None,
    ) -> None:
        if not isinstance(coder, str) or not coder.strip():
            raise IspNlpError(
                f"The coder name {coder!r} is empty; expected a non-empty name such as "
                "'alice'; pass it with --coder NAME."
            )
        self.coder = coder.strip()
        self.recorder = recorder
        self.codebook = codebook
        #: Fills in what is shown around an item (context, evidence) when it becomes
        #: current; see :class:`isp_nlp.review.items.ItemDetails`.
        self.details = details
        self._by_key: dict[str, ReviewItem] = {}
        for item in items:
            self._by_key.setdefault(item.key, item)
        self._decided = dict(recorder.decided(self.coder))
        self._queue = pending(self._by_key.values(), self._decided)
        self._pos = 0
        self._made: list[Decision] = []

    # -- state -----------------------------------------------------------
    @property
    def total(self) -> int:
        """Number of distinct items in this review."""
        return len(self._by_key)

    def current(self) -> ReviewItem | None:
        """The item to show now (its details filled in), or None when the queue is
        exhausted."""
        if self._pos >= len(self._queue):
            return None
        item = self._queue[self._pos]
        if self.details is not None:
            item = self._queue[self._pos] = self.details(item)
        return item

    def progress(self) -> tuple[int, int]:
        """(items with a final verdict, all items) for this coder."""
        done = sum(1 for key in self._by_key if self._decided.get(key) in FINAL_ACTIONS)
        return done, self.total

    def skipped(self) -> int:
        """Items whose last action by this coder is a skip."""
        return sum(1 for key in self._by_key if self._decided.get(key) == "skip")

    def contains(self, item_key: str) -> bool:
        """Whether ``item_key`` belongs to this session's items."""
        return item_key in self._by_key

    def decisions(self) -> tuple[Decision, ...]:
        """Decisions made in this session and not undone, oldest first."""
        return tuple(self._made)

    # -- actions ---------------------------------------------------------
    def accept(self, codes: Sequence[str] | None = None,
               values: Mapping[str, str | None] | None = None) -> Decision:
        """Assert the suggested codes and every value suggested on a dimension of the
        codebook (none where the model abstains).

        ``codes`` accepts only those (the ticked ones; empty: no code applies), and
        ``values`` (dimension id → value) only those values; the action stays "accept" and
        the snapshot keeps the whole suggestion that was shown."""
        item = self._require_item("accept")
        dims = set(self.codebook.dimension_ids)
        if values is None:
            chosen_values = {dim: v for dim, v in item.suggested_values.items()
                             if v is not None and dim in dims}
        else:
            chosen_values = self.check_values(values)
        chosen = item.suggested_codes if codes is None else self._check_codes(codes)
        self._check_conflicts(chosen)
        return self._record(item, "accept", chosen, chosen_values)

    def reject(self) -> Decision:
        """Reject the suggestion without saying what is right."""
        return self._record(self._require_item("reject"), "reject", (), {})

    def skip(self) -> Decision:
        """Leave the item for later (it comes back at the end of the next session)."""
        return self._record(self._require_item("skip"), "skip", (), {})

    def relabel(self, codes: Sequence[str],
                values: Mapping[str, str | None] | str | None = None) -> Decision:
        """Assert ``codes`` (ids from the codebook) and ``values`` (dimension id → value,
        by id or name in any case; None or empty asserts nothing on that dimension)
        instead of the suggestion. A bare string is the value of the codebook's only
        dimension."""
        item = self._require_item("relabel")
        chosen = self._check_codes(codes)
        self._check_conflicts(chosen)
        return self._record(item, "relabel", chosen, self.check_values(values))

    def _check_codes(self, codes: Sequence[str] | str) -> tuple[str, ...]:
        """``codes`` as distinct code ids of the codebook, in order; raises
        :class:`IspNlpError` naming one the codebook lacks."""
        if isinstance(codes, str):
            codes = [codes]
        chosen = tuple(dict.fromkeys(c.strip() for c in codes if c.strip()))
        valid = self.codebook.code_ids
        for code in chosen:
            if code not in valid:
                raise IspNlpError(
                    f"Code {code!r} is not in codebook {self.codebook.name!r}; expected one of "
                    f"{', '.join(valid) or '(no codes)'}; choose ids from that list."
                )
        return chosen

    def _check_conflicts(self, codes: Sequence[str]) -> None:
        """Refuse two codes the codebook declares mutually exclusive."""
        clash = self.codebook.conflicts(codes)
        if clash:
            a, b = clash[0]
            raise IspNlpError(
                f"Codes {a!r} and {b!r} are mutually exclusive in codebook "
                f"{self.codebook.name!r} (a segment takes at most one of them); keep one "
                "of the two.")

    def check_values(self, values: Mapping[str, str | None] | str | None) -> dict[str, str]:
        """Dimension id → value id for ``values`` checked against the codebook (see
        :meth:`relabel`); raises :class:`IspNlpError` naming a wrong dimension or value."""
        if isinstance(values, str):
            if not values.strip():
                return {}
            dims = self.codebook.dimension_ids
            if len(dims) != 1:
                if not dims:
                    raise IspNlpError(
                        f"Codebook {self.codebook.name!r} has no dimensions, so a value "
                        f"{values.strip()!r} cannot be given; leave it empty.")
                raise IspNlpError(
                    f"Codebook {self.codebook.name!r} has {len(dims)} dimensions, so the "
                    f"value {values.strip()!r} must name one; write DIMENSION=VALUE with "
                    f"one of {', '.join(dims)}.")
            values = {dims[0]: values}
        out: dict[str, str] = {}
        for dim, text in (values or {}).items():
            value = check_value(self.codebook, dim, text,
                                "choose one of those or leave it empty")
            if value is not None:
                out[dim] = value
        return out

    def undo(self) -> Decision | None:
        """Revert this coder's last decision and show its item again.

        Works across sessions: a decision from an earlier run is reverted too and,
        if its item is among this session's items, that item becomes current. If
        the item is not part of this session the decision is still reverted and
        returned (``contains(decision.item_key)`` is then False).
        """
        decision = self.recorder.undo_last(self.coder)
        if decision is None:
            return None
        self._decided = dict(self.recorder.decided(self.coder))
        if self._made and _same(self._made[-1], decision):
            self._made.pop()
        item = self._by_key.get(decision.item_key)
        if item is None:
            return decision
        index = next(
            (i for i, it in enumerate(self._queue) if it.key == decision.item_key), None
        )
        if index is not None:
            self._queue.pop(index)
            if index < self._pos:
                self._pos -= 1
        self._queue.insert(self._pos, item)
        return decision

    def rerank(self, items: Sequence[ReviewItem]) -> None:
        """Replace the pending queue with ``items`` (newly scored, already sorted).

        Items this coder has settled are dropped, skipped ones go to the end, and the
        current item, if still pending, stays current (an item of ``items`` on the same
        segment is then left out). Decided items of the old queue are kept, so progress
        and undo still know them.
        """
        current = self.current()
        if current is not None:
            items = [it for it in items if it.segment.id != current.segment.id]
        by_key = {key: it for key, it in self._by_key.items()
                  if self._decided.get(key) in FINAL_ACTIONS}
        for it in items:
            by_key.setdefault(it.key, it)
        queue = pending(items, self._decided)
        if current is not None:
            by_key.setdefault(current.key, current)
            queue.insert(0, current)
        self._by_key = by_key
        self._queue = queue
        self._pos = 0

    # -- helpers ---------------------------------------------------------
    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        """The codebook's single-choice dimensions (a relabel asks for these only)."""
        return self.codebook.dimensions

    def _require_item(self, action: str) -> ReviewItem:
        item = self.current()
        if item is None:
            done, total = self.progress()
            raise IspNlpError(
                f"There is no segment left to {action} ({done} of {total} items are decided); "
                "expected a pending item; use undo to revisit the last decision or quit."
            )
        return item

    def _record(
        self, item: ReviewItem, action: str, codes: tuple[str, ...], values: Mapping[str, str]
    ) -> Decision:
        decision = Decision(
            coder=self.coder,
            item_key=item.key,
            segment_id=item.segment.id,
            action=action,
            codes=tuple(codes),
            model_id=item.model_id,
            values=tuple(sorted(values.items())),
            suggestion=snapshot(item),
        )
        try:
            self.recorder.record(decision)  # durable before the queue moves on
        except AlreadyDecided as exc:  # another session of this coder was first: move on
            self._decided[item.key] = exc.action
            self._pos += 1
            raise
        self._decided[item.key] = action
        self._made.append(decision)
        self._pos += 1
        return decision
