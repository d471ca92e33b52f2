"""A project whose every name is hostile to a terminal: code, coder, document and file
names and texts carry an escape sequence, an OSC title sequence, the right-to-left override
(U+202E), a C1 CSI (U+009B) and, where a format allows it, a forged second line.

Built through the CLI (``init``, ``codebook load``, ``ingest``, ``import-codes``,
``train``, ``suggest``); tests get it from the ``hostile`` fixture of tests/cli/conftest.py.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.store.folder import open_project

ESC, OSC, RLO, CSI = "\x1b[2J\x1b[31m", "\x1b]0;pwned\x07", "\u202e", "\x9b2J"
HOSTILE = ESC + OSC + RLO + CSI
FORGED = "\nError: all good"


@dataclass(frozen=True)
class Hostile:
    """The files of the hostile project, built once; each test works on its own copy."""

    root: Path
    project: Path
    codebook: Path
    seed: Path
    transcripts: tuple[Path, ...]


def hostile_codebook() -> dict:
    return {"name": "Hostile " + HOSTILE, "codes": [
        {"id": "themes", "name": "Themes" + OSC + FORGED, "definition": "parent " + ESC},
        {"id": "alpha", "name": "Alpha" + ESC + RLO, "parent": "themes",
         "definition": "about training " + CSI, "examples": ["we ran the workshop" + ESC]},
        {"id": "beta", "name": "Beta" + CSI, "parent": "themes",
         "definition": "about coaching " + RLO, "examples": ["coaching calls every week"]},
    ]}


LINES = ("We ran the workshop and training every week" + ESC,
         "Coaching calls helped the supervisors a lot" + RLO,
         "The training binder was the same everywhere" + CSI,
         "We coached the coaches until they could coach" + OSC)


def hostile_transcript(i: int) -> str:
    return "".join(f"Interviewer: question {k}?\n\nP0{i}: {t} number {k} in document {i}.\n\n"
                   for k, t in enumerate(LINES * 2))


def run(*args: str, project: Path | None = None) -> Result:
    base = ["--project", str(project)] if project is not None else []
    return CliRunner().invoke(cli, [*base, *args])


def build_hostile_project(root: Path) -> Hostile:
    root.mkdir(parents=True, exist_ok=True)
    project = root / "project"
    assert run("init", str(project), "--embedder", "hashing-256").exit_code == 0
    cb = root / "codebook.json"
    cb.write_text(json.dumps(hostile_codebook()), "utf-8")
    docs = []
    for i, name in enumerate(("one" + ESC, "two" + RLO, "three" + OSC + CSI)):
        path = root / f"{name}.txt"
        path.write_text(hostile_transcript(i), "utf-8")
        docs.append(path)
    assert run("codebook", "load", str(cb), project=project).exit_code == 0
    r = run("ingest", *map(str, docs), "--skip-speakers", "Interviewer", project=project)
    assert r.exit_code == 0, r.output
    seed = root / "seed.csv"
    with open_project(project) as store:
        segments = [s for s in store.segments() if s.codable]
    rows = []
    for n, s in enumerate(segments[: 2 * len(segments) // 3]):  # the last third uncoded
        code = "alpha" if "train" in s.text or "workshop" in s.text else "beta"
        other = "beta" if code == "alpha" else "alpha"
        for coder in ("ana" + OSC, "ben" + RLO + FORGED):
            got = other if coder.startswith("ben") and n % 4 == 0 else code
            rows.append({"document": s.document, "segment": s.id, "text": s.text,
                         "coder": coder, "code": got, "stage": ("push", "exchange")[n % 2],
                         "speaker": s.speaker or ""})
    with open(seed, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for args in (("import-codes", str(seed)), ("train", "--folds", "2"), ("suggest",)):
        r = run(*args, project=project)
        assert r.exit_code == 0, r.output
    return Hostile(root, project, cb, seed, tuple(docs))

