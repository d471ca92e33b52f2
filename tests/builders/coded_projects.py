"""Small coded projects with the hashing embedder: three transcripts whose turns two
coders (ana, ben) coded from a word list per code, so a model learns them in seconds.

:func:`seeded_project` and :func:`coded_project` build the project the same way
``isp-nlp init``, ``codebook load``, ``ingest`` and ``import-codes`` would.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from pathlib import Path

from isp_nlp.project import import_codes, ingest_files, load_project_codebook
from isp_nlp.store.folder import init_project, open_project

EMBEDDER = "hashing-256"
CODEBOOK = """\
name: one model path
codes:
  - id: strategies
    name: Strategies
    definition: Ways of supporting practice.
  - id: training
    name: Training
    parent: strategies
    definition: Classroom courses, slides and curricula delivered to staff.
    examples: ["We ran a five-day course with slides."]
  - id: coaching
    name: Coaching
    parent: strategies
    definition: Ongoing coaching and feedback on the job.
    examples: ["I sat with the supervisor every week and gave feedback."]
  - id: barriers
    name: Barriers
    definition: Obstacles such as staff turnover and no time.
    examples: ["Turnover meant we started over every year."]
  - id: funding
    name: Funding
    definition: Money, grants and budgets for the work.
    examples: ["The grant ran out after two years."]
stage:  # worded like the turns, so the prior beats chance on the seeds and keeps its share
  - {id: push, name: Push, definition: "A course with slides, curriculum and lectures."}
  - {id: push_pull, name: Push/pull, definition: "Turnover, caseload and time shortage."}
  - {id: exchange, name: Exchange, definition: "A coach giving weekly feedback together."}
  - {id: none, name: None, definition: "Weather, lunch, parking and coffee."}
"""
WORDS = {
    "training": "course slides curriculum classroom binder lecture trained certified",
    "coaching": "coach feedback weekly supervisor practice observed modelled together",
    "barriers": "turnover time caseload shortage leaving overwhelmed burnout backlog",
    "": "weather lunch parking building office morning drive coffee",
}
STAGE_OF = {"training": "push", "coaching": "exchange", "barriers": "push_pull", "": "none"}


def write_corpus(root: Path) -> tuple[list[Path], Path]:
    """Three transcripts whose turns are all coded by two coders (ben differs on some)."""
    rng = random.Random(7)
    transcripts, rows = [], []
    for d in range(3):
        doc = f"site{d}"
        lines = []
        for t in range(14):
            code = list(WORDS)[(t + d) % 4]
            words = WORDS[code].split()
            text = " ".join(rng.choice(words) for _ in range(8)).capitalize() + f" turn {t}."
            speaker = "P01" if t % 2 == 0 else "P02"
            lines.append(f"{speaker}: {text}")
            for coder in ("ana", "ben"):
                c, stage = code, STAGE_OF[code]
                if coder == "ben" and t % 5 == 0:
                    c, stage = "", "none"
                rows.append([doc, "", text, coder, c, stage, speaker])
                if code == "coaching" and coder == "ana" and t % 3 == 0:
                    rows.append([doc, "", text, coder, "training", stage, speaker])
        path = root / f"{doc}.txt"
        path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        transcripts.append(path)
    coded = root / "coded.csv"
    with coded.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["document", "segment", "text", "coder", "code", "stage", "speaker"])
        writer.writerows(rows)
    return transcripts, coded


def seeded_project(root: Path, rows: Callable[[list[dict]], list[dict]] = list) -> Path:
    """``root/project``: the corpus's codebook and transcripts, and as seed codes the
    corpus's CSV rows passed through ``rows`` (to keep some coders, rename a code ...)."""
    transcripts, coded = write_corpus(root)
    with coded.open(encoding="utf-8", newline="") as fh:
        kept = rows(list(csv.DictReader(fh)))
    seeds = root / "seeds.csv"
    with seeds.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows(kept)
    book = root / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    init_project(root / "project", embedder=EMBEDDER)
    with open_project(root / "project") as store:
        load_project_codebook(store, book)
        ingest_files(store, transcripts)
        import_codes(store, seeds)
    return root / "project"


def coded_project(root: Path, *, leave_out: str = "", database: str | None = None
                  ) -> tuple[Path, Path, Path]:
    """A project at ``root/project`` with CODEBOOK, the transcripts of :func:`write_corpus`
    and their codes imported (without document ``leave_out``'s rows, so it is left to
    suggest on); returns (project folder, coded.csv with every row, codebook.yaml).
    ``database``: a PostgreSQL URL to keep the project in (default ``project.sqlite``)."""
    transcripts, coded = write_corpus(root)
    book = root / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    seeds = coded
    if leave_out:
        lines = coded.read_text(encoding="utf-8").splitlines()
        seeds = root / "seeds.csv"
        seeds.write_text("\n".join([lines[0], *[r for r in lines[1:]
                                                 if not r.startswith(f"{leave_out},")]]) + "\n",
                         encoding="utf-8")
    init_project(root / "project", embedder=EMBEDDER, database=database)
    with open_project(root / "project") as store:
        load_project_codebook(store, book)
        ingest_files(store, transcripts)
        import_codes(store, seeds)
    return root / "project", coded, book
