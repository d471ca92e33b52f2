"""A transcript and its turn segments, and a small codebook, for the store itself."""

from __future__ import annotations

from isp_nlp.codebook.check import stage_dimension
from isp_nlp.records import Code, Codebook, Segment, Transcript, Turn


def make_transcript(document: str = "doc1", n: int = 4, sha: str = "a" * 64):
    texts = [f"Utterance number {i} about training." for i in range(n)]
    turns, parts, pos = [], [], 0
    for i, t in enumerate(texts):
        label = "P1: " if i % 2 else "Interviewer: "
        start = pos + len(label)
        turns.append(Turn(index=i, speaker=label[:-2], start=start, end=start + len(t)))
        parts.append(label + t)
        pos += len(label) + len(t) + 2
    text = "\n\n".join(parts)
    transcript = Transcript(document=document, name=f"{document}.txt", sha256=sha, text=text,
                            turns=tuple(turns), source_format="text")
    segments = [
        Segment(id=f"{document}-{i}", document=document, index=i, turn_index=i, unit="turn",
                speaker=turn.speaker, start=turn.start, end=turn.end,
                text=text[turn.start:turn.end], codable=turn.speaker == "P1")
        for i, turn in enumerate(turns)
    ]
    return transcript, segments


CODEBOOK = Codebook(
    name="t",
    codes=(Code(id="training", name="Training"), Code(id="trust", name="Trust")),
    dimensions=(stage_dimension(tuple(Code(id=s, name=s, dimension="stage")
                 for s in ("push", "push_pull", "exchange", "none"))),),
)
