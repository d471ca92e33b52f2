"""The project the REFI-QDA export tests share: seed codes, QDA-style codings (one after
emoji and non-Latin text), an assisted coder and, if asked, a model with suggestions."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.project import import_codes, ingest_files, load_project_codebook
from isp_nlp.records import Annotation, Coder, Coding
from isp_nlp.store.folder import init_project, open_project
from tests.builders.coded_projects import STAGE_OF, WORDS

CODEBOOK = """\
name: export test
codes:
  - id: strategies
    name: Strategies
    definition: Ways of supporting practice.
    color: "#46AA00"
  - id: training
    name: Training
    parent: strategies
    definition: Classroom courses, slides and curricula delivered to staff.
    include: Courses.
    examples: ["We ran a five-day course with slides."]
  - id: coaching
    name: Coaching
    parent: strategies
    definition: Ongoing coaching and feedback on the job.
  - id: barriers
    name: Barriers
    definition: Obstacles such as staff turnover and no time.
"""
#: The third transcript carries emoji (outside the BMP: 2 UTF-16 units, 4 UTF-8 bytes,
#: 1 code point) and non-Latin scripts before the coded words.
EMOJI_TURN = "Ὀδυσσεύς 🙂🙂 говорит 信任 coach feedback"
ANA = Coder("ana", guid="{6F9619FF-8B86-D011-B42D-00C04FC964FF}", initials="AN")


def write_export_corpus(root: Path) -> tuple[list[Path], Path]:
    """Three transcripts; ana and ben code the first ten turns of each, the rest is open."""
    rng = random.Random(3)
    paths, rows = [], []
    for d in range(3):
        doc = f"site{d}"
        lines = []
        for t in range(14):
            code = list(WORDS)[(t + d) % 4]
            words = WORDS[code].split()
            text = " ".join(rng.choice(words) for _ in range(8)).capitalize() + f" turn {t}."
            if d == 2 and t == 1:
                text = EMOJI_TURN
            speaker = "P01" if t % 2 == 0 else "P02"
            lines.append(f"{speaker}: {text}")
            if t >= 10:
                continue
            for coder in ("ana", "ben"):
                c, stage = code, STAGE_OF[code]
                if coder == "ben" and t % 5 == 0:
                    c, stage = "", "none"
                rows.append([doc, "", text, coder, c, stage, speaker])
        path = root / f"{doc}.txt"
        path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    coded = root / "coded.csv"
    with coded.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["document", "segment", "text", "coder", "code", "stage", "speaker"])
        writer.writerows(rows)
    return paths, coded


def build_export_project(root: Path, *, train: bool) -> Path:
    """A project with seed codes, QDA-style codings, an assisted coder and (if ``train``)
    a model with suggestions."""
    root.mkdir(parents=True, exist_ok=True)
    paths, coded = write_export_corpus(root)
    book = root / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    project = root / "project"
    init_project(project, embedder="hashing-256")
    with open_project(project) as store:
        load_project_codebook(store, book)
        ingest_files(store, paths)
        import_codes(store, coded)
        store.add_coders([ANA])
        segs = {(s.document, s.index): s for s in store.segments()}
        emoji = segs[("site2", 1)]
        word = emoji.start + emoji.text.index("coach")
        first = segs[("site0", 0)]
        store.add_codings([
            # most of site0 #0, which ana annotated "training" (by the corpus rule): the
            # annotation is covered, so it is written once, as this stored coding.
            Coding("site0", first.start, first.end - 3, "training", "ana",
                   guid="a1b2c3d4-0000-4000-8000-000000000001",
                   created_at="2024-05-01T10:00:00Z"),
            # a sub-span after emoji and non-Latin text, two codes in one selection
            Coding("site2", word, word + len("coach feedback"), "coaching", "ana",
                   created_at="2024-05-02T10:00:00Z"),
            Coding("site2", word, word + len("coach feedback"), "exchange", "ana",
                   dimension="stage", created_at="2024-05-02T10:00:00Z"),
            Coding("site1", segs[("site1", 12)].start, segs[("site1", 12)].end, "barriers",
                   "dee", source="consensus", created_at="2024-05-03T10:00:00Z"),
        ])
        if train:
            train_project(store)
            suggest_project(store)
        # after suggest: cy accepts a suggestion (an assisted annotation), on an open turn
        open_seg = segs[("site0", 11)]
        store.import_annotations(
            [Annotation(open_seg.id, "cy", "code", "barriers", "assisted"),
             Annotation(open_seg.id, "cy", "stage", "push_pull", "assisted"),
             Annotation(segs[("site0", 12)].id, "cy", "code", None, "assisted")],
            source="review")
    return project

