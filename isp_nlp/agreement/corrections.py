"""Correction rate: how often coders took the model's suggestions as they were, edited
them, or rejected them, read from the decision log.

Each coder's last effective (not undone) final decision on an item counts once:

- *accepted as is*: ``accept`` of exactly the suggested codes and values;
- *edited*: ``relabel``, or an ``accept`` of only part of the suggestion;
- *rejected*: ``reject``.

Skips are not decisions and are left out. Undone decisions do not count.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from isp_nlp.store.database import Store
from isp_nlp.store.decisions import FINAL_ACTIONS, DecisionLog

OUTCOMES = ("accepted", "edited", "rejected")


@dataclass(frozen=True)
class Corrections:
    """Counts of decisions on suggestions by outcome."""

    accepted: int = 0
    edited: int = 0
    rejected: int = 0

    @property
    def decided(self) -> int:
        return self.accepted + self.edited + self.rejected

    def share(self, outcome: str) -> float | None:
        """The share of decisions with ``outcome`` (None without decisions)."""
        return getattr(self, outcome) / self.decided if self.decided else None

    def add(self, outcome: str) -> Corrections:
        counts = {o: getattr(self, o) for o in OUTCOMES}
        counts[outcome] += 1
        return Corrections(**counts)

    def sentence(self) -> str:
        """"N decisions on suggestions: X% accepted as is, Y% edited, Z% rejected"."""
        if not self.decided:
            return "no decisions on suggestions yet"
        noun = "decision" if self.decided == 1 else "decisions"
        return (f"{self.decided} {noun} on suggestions: {self.share('accepted'):.0%} "
                f"accepted as is, {self.share('edited'):.0%} edited, "
                f"{self.share('rejected'):.0%} rejected")

    def to_dict(self) -> dict[str, Any]:
        return {"decided": self.decided, **{o: getattr(self, o) for o in OUTCOMES},
                **{f"{o}_share": self.share(o) for o in OUTCOMES}}


@dataclass(frozen=True)
class CorrectionRate:
    """Corrections overall, per coder and per model."""

    overall: Corrections = Corrections()
    by_coder: Mapping[str, Corrections] = field(default_factory=dict)
    by_model: Mapping[str, Corrections] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall.to_dict(),
                "by_coder": {k: v.to_dict() for k, v in self.by_coder.items()},
                "by_model": {k: v.to_dict() for k, v in self.by_model.items()}}


def outcome(action: str, codes: Collection[str], values: Mapping[str, str],
            suggestion: Mapping[str, Any]) -> str | None:
    """The outcome of one logged decision (None: not a final decision)."""
    if action == "reject":
        return "rejected"
    if action == "relabel":
        return "edited"
    if action != "accept":
        return None
    shown = suggestion.get("suggested_codes")
    if isinstance(shown, list) and set(codes) != set(shown):
        return "edited"
    offered = suggestion.get("values")
    if isinstance(offered, Mapping):
        wanted = {d: v[0] for d, v in offered.items() if isinstance(v, list) and v}
        if dict(values) != wanted:
            return "edited"
    return "accepted"


def correction_rate(entries: Iterable[Mapping[str, Any]],
                    segment_ids: Collection[str] | None = None) -> CorrectionRate:
    """The correction rate of log ``entries`` (:meth:`DecisionLog.entries` rows); only
    decisions on ``segment_ids`` when given. Each (coder, item) counts its last
    effective final decision."""
    last: dict[tuple[str, str], Mapping[str, Any]] = {}
    for e in entries:
        if e.get("action") not in FINAL_ACTIONS or e.get("undone"):
            continue
        if segment_ids is not None and e.get("segment_id") not in segment_ids:
            continue
        last[(str(e.get("coder")), str(e.get("item_key")))] = e
    overall = Corrections()
    coders: dict[str, Corrections] = {}
    models: dict[str, Corrections] = {}
    for (coder, _), e in last.items():
        detail = e.get("detail") or {}
        got = outcome(str(e["action"]), e.get("codes") or (), e.get("values") or {},
                      detail.get("suggestion") or {})
        if got is None:
            continue
        model = str(e.get("model_id") or "")
        overall = overall.add(got)
        coders[coder] = coders.get(coder, Corrections()).add(got)
        models[model] = models.get(model, Corrections()).add(got)
    return CorrectionRate(overall, dict(sorted(coders.items())), dict(sorted(models.items())))


def project_correction_rate(store: Store,
                            segment_ids: Collection[str] | None = None) -> CorrectionRate:
    """:func:`correction_rate` of the project's decision log."""
    return correction_rate(DecisionLog(store).entries(), segment_ids)
