"""Review items, an in-memory decision recorder, a codebook with exclusive codes, and the
text of a running Textual app's screen, for the review tests."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from isp_nlp.codebook.check import stage_dimension
from isp_nlp.records import STAGES, Code, Codebook, Decision, Evidence, Segment
from isp_nlp.review.queue import ReviewItem


class MemoryRecorder:
    """In-memory DecisionRecorder: an append-only log with undo flags."""

    def __init__(self) -> None:
        self.log: list[list] = []  # [log id, decision, undone]

    def record(self, decision: Decision) -> int:
        self.log.append([len(self.log) + 1, decision, False])
        return len(self.log)

    def undo_last(self, coder: str) -> Decision | None:
        for row in reversed(self.log):
            if row[1].coder == coder and not row[2]:
                row[2] = True
                return row[1]
        return None

    def decided(self, coder: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for _, decision, undone in self.log:
            if decision.coder == coder and not undone:
                out[decision.item_key] = decision.action
        return out

    def effective(self) -> list[Decision]:
        return [d for _, d, undone in self.log if not undone]


#: Questions open/closed are exclusive siblings under ``question``.
CODEBOOK = Codebook(
    name="isp",
    codes=(
        Code("capacity_building", "Capacity building", definition="Building skills.",
             include="Training staff.", exclude="Buying equipment."),
        Code("peer_learning", "Peer learning", definition="Learning from peers."),
        Code("trust", "Trust", parent="peer_learning", definition="Trusting relations."),
        Code("question", "Question type", exclusive=True),
        Code("open", "Open question", parent="question", definition="Invites talk."),
        Code("closed", "Closed question", parent="question", definition="Yes or no."),
    ),
    dimensions=(stage_dimension(tuple(Code(s, s, dimension="stage") for s in STAGES)),),
)


def seg(document: str, index: int, text: str, speaker: str | None = "P1") -> Segment:
    return Segment(id=f"{document}-{index}", document=document, index=index,
                   turn_index=index, unit="turn", speaker=speaker, start=10 * index,
                   end=10 * index + len(text), text=text)


def make_item(document: str, index: int, score: float, *, text: str | None = None,
              codes: Sequence[tuple[str, float]] = (("capacity_building", 0.81),
                                                    ("peer_learning", 0.55), ("open", 0.4),
                                                    ("closed", 0.3), ("trust", 0.10)),
              suggested: Sequence[str] = ("capacity_building", "peer_learning"),
              stage: tuple[str, float] | None = ("push_pull", 0.72),
              speaker: str | None = "P1", model_id: str = "m1",
              certified: tuple[str, ...] = ()) -> ReviewItem:
    text = text or f"Segment {index} of {document} about training the local staff."
    before = tuple(seg(document, i, f"Turn {i} before.", "Interviewer")
                   for i in range(max(index - 2, 0), index))
    evidence = (Evidence("ex-1", 0.91, "We trained the nurses ourselves.",
                         ("capacity_building",)),
                Evidence("ex-2", 0.64, "Peers showed us how.", ("peer_learning",)))
    return ReviewItem(
        segment=seg(document, index, text, speaker),
        previous=before[-1] if before else None,
        codes=tuple(codes), suggested_codes=tuple(suggested),
        values=(("stage", stage),), evidence=evidence, score=score, model_id=model_id,
        certified=certified, before=before,
        after=(seg(document, index + 1, "And after that?", "Interviewer"),),
        evidence_coders=(("ana",), ("ana", "ben")))


def items(n: int = 12) -> list[ReviewItem]:
    """``n`` items over three documents, scores spread in (0, 1)."""
    return [make_item(f"doc{i % 3}", i, round((i * 37 % 100) / 100, 2)) for i in range(n)]


def screen_lines(app: Any) -> list[str]:
    """The text of ``app``'s screen as the terminal would show it, one string per row
    (the same rendering as ``App.export_screenshot``, as text)."""
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False).splitlines()
