"""A project with hundreds of review items (hashing embedder): the seed-coded corpus of
:mod:`tests.builders.coded_projects`, plus open transcripts the model suggests on."""

from __future__ import annotations

import random
from pathlib import Path

from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.project import import_codes, ingest_files, load_project_codebook
from isp_nlp.store.folder import init_project, open_project
from tests.builders.coded_projects import CODEBOOK, EMBEDDER, WORDS, write_corpus


def write_open_transcripts(root: Path, turns: int, per_file: int = 150) -> list[Path]:
    """Transcripts of ``turns`` turns in all (word-list turns, as the seeds), uncoded."""
    rng = random.Random(11)
    paths = []
    for f in range(0, turns, per_file):
        lines = []
        for t in range(f, min(f + per_file, turns)):
            words = WORDS[list(WORDS)[t % 4]].split()
            text = " ".join(rng.choice(words) for _ in range(8)).capitalize()
            lines.append(f"{'P01' if t % 2 == 0 else 'P02'}: {text} open turn {t}.")
        path = root / f"open{f // per_file}.txt"
        path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def review_project(root: Path, open_turns: int = 520) -> Path:
    """``root/project``: trained on the seed corpus, with suggestions on every open turn
    (so at least ``open_turns`` review items per coder)."""
    root.mkdir(parents=True, exist_ok=True)
    seeds, coded = write_corpus(root)
    book = root / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    project = root / "project"
    init_project(project, embedder=EMBEDDER)
    with open_project(project) as store:
        load_project_codebook(store, book)
        ingest_files(store, [*seeds, *write_open_transcripts(root, open_turns)])
        import_codes(store, coded)
        train_project(store)
        suggest_project(store)
    return project
