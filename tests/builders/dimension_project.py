"""A small project whose codebook declares its own dimensions and no stage: ``phase``
(early < middle < late, ordered, the pathway one) and ``valence`` (positive/negative,
unordered), coded by two coders through the store API (hashing embedder, no model)."""

from __future__ import annotations

import random
from pathlib import Path

from isp_nlp.project import ingest_files, load_project_codebook
from isp_nlp.records import Annotation
from isp_nlp.store.folder import init_project, open_project

PHASES = ("early", "middle", "late")
VALENCES = ("positive", "negative")
CODEBOOK = """\
name: phases
codes:
  - {id: support, name: Support, definition: Help given.}
  - {id: barrier, name: Barrier, definition: Something in the way.}
dimensions:
  - id: phase
    name: Phase
    ordered: true
    pathway: true
    values:
      - {id: early, name: Early}
      - {id: middle, name: Middle}
      - {id: late, name: Late}
  - id: valence
    name: Valence
    values:
      - {id: positive, name: Positive}
      - {id: negative, name: Negative}
"""
FLAT = """\
name: flat
codes:
  - {id: support, name: Support}
dimensions: []
"""


def labels(n: int, seed: int = 3) -> dict[str, list[tuple[str, str, str, str]]]:
    """Per coder (ann, bob): (phase, valence, code) of segment i; bob differs now and then.
    Phases climb through each document: early, then middle, then late."""
    rng = random.Random(seed)
    out: dict[str, list] = {"ann": [], "bob": []}
    for i in range(n):
        phase = PHASES[min(2, (i % 12) // 4)]
        valence = VALENCES[rng.random() < 0.5]
        code = ("support", "barrier")[i % 2]
        out["ann"].append((phase, valence, code))
        b_phase = PHASES[rng.randrange(3)] if rng.random() < 0.25 else phase
        b_valence = VALENCES[rng.random() < 0.5] if rng.random() < 0.3 else valence
        out["bob"].append((b_phase, b_valence, code if rng.random() < 0.8 else "support"))
    return out


def build(root: Path, codebook: str = CODEBOOK, documents: int = 3, turns: int = 12) -> Path:
    """``root/project`` with the codebook, ``documents`` transcripts of ``turns`` turns and
    both coders' labels on every codable segment (in document order)."""
    project = root / "project"
    init_project(project, embedder="hashing-256")
    files = []
    for d in range(documents):
        path = root / f"p{d}.txt"
        path.write_text("\n".join(f"P{d}: Turn {t} of participant {d} talks about work."
                                  for t in range(turns)) + "\n", encoding="utf-8")
        files.append(path)
    book = root / "codebook.yaml"
    book.write_text(codebook, encoding="utf-8")
    with open_project(project) as store:
        load_project_codebook(store, book)
        ingest_files(store, files)
        segments = store.segments(codable_only=True)
        given = labels(len(segments))
        dims = store.codebook().dimension_ids
        for coder, rows in given.items():
            anns = []
            for seg, (phase, valence, code) in zip(segments, rows, strict=True):
                anns.append(Annotation(seg.id, coder, "code", code))
                if "phase" in dims:
                    anns.append(Annotation(seg.id, coder, "phase", phase))
                if "valence" in dims:
                    anns.append(Annotation(seg.id, coder, "valence", valence))
            store.import_annotations(anns, source=f"test:{coder}")
    return project
