"""A project with a long review queue, built in a second: transcripts of interviewer and
participant turns (some participant turns are backchannels such as "Mm-hmm."), the codebook
of :mod:`tests.builders.coded_projects`, a few turns per document coded by ``ana``, and a
registered model whose stored suggestions are drawn at random (seeded) for every other
participant turn. No training: the suggestions are written straight into the store.
"""

from __future__ import annotations

import random
from pathlib import Path

from isp_nlp.project import ingest_files, load_project_codebook
from isp_nlp.records import CODE_DIMENSION, Annotation, Evidence, Suggestion
from isp_nlp.store.folder import init_project, open_project
from tests.builders.coded_projects import CODEBOOK, EMBEDDER, WORDS

MODEL = "m-screen-0001"
CODES = ("training", "coaching", "barriers", "funding", "strategies")
STAGES = ("push", "push_pull", "exchange", "none")
BACKCHANNELS = ("Mm-hmm.", "Yeah.", "Right, right.")
SEEDED = 8  # participant turns coded by ana per document


def _turns(rng: random.Random, turns: int) -> list[str]:
    lines = []
    for t in range(turns):
        if t % 2 == 0:
            lines.append(f"Interviewer: Question {t}, what happened with the "
                         f"{rng.choice(['course', 'coach', 'grant', 'team'])}?")
        elif t % 11 == 5:
            lines.append(f"P01: {rng.choice(BACKCHANNELS)}")
        else:
            words = " ".join(rng.choice(WORDS[rng.choice(list(WORDS))].split())
                             for _ in range(6 + t % 9))
            lines.append(f"P01: {words.capitalize()} in turn {t}.")
    return lines


def suggested_project(root: Path, *, documents: int = 5, turns: int = 100,
                      seed: int = 5, seeded: int = SEEDED, database: str | None = None
                      ) -> Path:
    """``root/project`` (see the module docstring): ``documents`` transcripts of ``turns``
    turns, ``seeded`` participant turns of each coded by ana; about
    ``documents * (turns / 2 - seeded)`` review items for any coder but ana. ``database``:
    a PostgreSQL URL to keep it there (default: SQLite in the folder)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in range(documents):
        path = root / f"interview{d:03d}.txt"
        path.write_text("\n\n".join(_turns(rng, turns)) + "\n", encoding="utf-8")
        paths.append(path)
    book = root / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    project = root / "project"
    init_project(project, embedder=EMBEDDER, database=database)
    with open_project(project) as store:
        load_project_codebook(store, book)
        ingest_files(store, paths, skip_speakers=["Interviewer"])
        codable = [s for s in store.segments() if s.codable]
        seeds, todo, count = [], [], {}
        for s in codable:
            count[s.document] = count.get(s.document, 0) + 1
            (seeds if count[s.document] <= seeded else todo).append(s)
        labels = {s.id: rng.sample(CODES[:4], rng.choice((1, 1, 2))) for s in seeds}
        store.import_annotations(
            [Annotation(s.id, "ana", CODE_DIMENSION, code) for s in seeds for code in labels[s.id]]
            + [Annotation(s.id, "ana", "stage", rng.choice(STAGES)) for s in seeds],
            source="human")
        store.register_model(MODEL, str(project / "models" / MODEL), {
            "code_threshold": 0.5,
            "certified": {"code": {"threshold": 0.8}, "stage": {"threshold": 0.7}}})
        suggestions = []
        for s in todo:
            near = rng.sample(seeds, 3)
            evidence = tuple(Evidence(e.id, round(rng.uniform(0.3, 0.9), 3), e.text,
                                      tuple(labels[e.id])) for e in near)
            for code in CODES:
                p = round(rng.betavariate(0.6, 1.4), 4)
                suggestions.append(Suggestion(s.id, MODEL, CODE_DIMENSION, code, p, p >= 0.5,
                                              evidence))
            weights = [rng.random() ** 2 for _ in STAGES]
            total = sum(weights)
            top = max(range(len(STAGES)), key=lambda i: weights[i])
            for i, value in enumerate(STAGES):
                p = round(weights[i] / total, 4)
                suggestions.append(Suggestion(s.id, MODEL, "stage", value, p,
                                              i == top and p >= 0.4, evidence))
        store.replace_suggestions(MODEL, suggestions)
    return project
