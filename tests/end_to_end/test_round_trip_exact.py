"""Issue 20 item 3: export → import into a fresh project keeps every table exactly.

Unlike test_refi_round_trip.py beside it (which compares what the Store API returns,
without ids, dates or the log, and for our own project only asks for a superset), this compares
the project databases row by row (tests/builders/tables.py): GUIDs, created_at times,
provenance, "no code" labels, code positions, notes and the review decision log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from isp_nlp.records import Note
from isp_nlp.review.run import project_review
from isp_nlp.store.folder import open_project
from tests.builders.paths import SHARED, require_shared
from tests.builders.tables import cli_ok, project_tables, same_project_lines

#: Every project export in ../shared (a .qde is one without its archive); a placeholder
#: where the folder is absent, which the test skips with the reason.
EXPORTS = sorted(p.name for p in (SHARED / "refi-qda").glob("*.qd[pe]*")
                 if p.suffix in (".qdpx", ".qde")) or ["(../shared absent)"]


def export_and_import(a: Path) -> Path:
    """``export`` project ``a`` beside it as A.qdpx and ``import`` that into a fresh B."""
    b, out = a.parent / "B", a.parent / "A.qdpx"
    cli_ok("--project", a, "export", "--out", out)
    cli_ok("import", out, "--init", b, "--embedder", "hashing-256")
    return b


@pytest.mark.shared_data
@pytest.mark.parametrize("name", EXPORTS)
def test_a_shared_export_survives_export_and_import_exactly(name: str, tmp_path: Path) -> None:
    source = require_shared("refi-qda", name)
    a = tmp_path / "A"
    cli_ok("import", source, "--init", a, "--embedder", "hashing-256")
    b = export_and_import(a)
    held = project_tables(a)
    assert held["codes"], f"{name}: the import kept no codes, so the comparison is empty"
    lines = same_project_lines(a, b)
    assert not lines, f"{name}: A and B differ\n" + "\n".join(lines)


# --------------------------------------------------------------------- our own project

CODEBOOK = """\
name: round trip
codes:
  - id: support
    name: Support
    definition: Any support for practice; coded itself where no child fits.
    include: District support.
    exclude: Pay.
    examples: ["The district backed us."]
    color: "#46AA00"
  - id: training
    name: Training
    parent: support
    definition: Courses, slides and curricula.
    examples: ["We ran a course with slides.", "A binder of lectures."]
  - id: coaching
    name: Coaching
    parent: support
    definition: Ongoing coaching and feedback on the job.
    color: "#0000FF"
  - id: barriers
    name: Barriers
    definition: Obstacles such as turnover and no time.
"""
TOPICS = {
    "training": "We ran a course with slides and a binder for the classroom lecture",
    "coaching": "The coach gave weekly feedback and we practised together with the supervisor",
    "barriers": "Staff turnover and the caseload left no time, everyone felt burnout",
    "support": "The district backed us and support for practice mattered a lot",
    "": "The weather was fine and the coffee near the office parking was good",
}
STAGE_OF = {"training": "push", "coaching": "exchange", "barriers": "push_pull",
            "support": "push", "": "none"}
ORDER = ("training", "coaching", "barriers", "support", "")
#: A turn past astral characters (one code point each, two UTF-16 units).
ASTRAL = "Music 𝄞 and smiles 😀😀, then the coach gave feedback on the support plan"


def _turn(d: int, t: int) -> tuple[str, str]:
    """(topic, text) of turn ``t`` of document ``d``."""
    topic = ORDER[(t + d) % len(ORDER)]
    text = ASTRAL if (d, t) == (0, 1) else f"{TOPICS[topic]} (turn {t} of {d})."
    return topic, text


def _write_inputs(root: Path) -> tuple[Path, list[Path], Path]:
    """Codebook, two transcripts (12 turns each) and a seed-code CSV: ana codes turns 0-8
    of both documents (the parent code too, two codes on one turn, "no code" on small
    talk); ben codes turns 0-5 of the first only, marking every third "no code"."""
    book = root / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    paths, rows = [], ["document,segment,text,coder,code,stage"]

    def row(doc: str, text: str, coder: str, code: str, stage: str) -> None:
        rows.append(f'{doc},,"{text}",{coder},{code},{stage}')

    for d in range(2):
        doc = f"site{d}"
        lines = []
        for t in range(12):
            topic, text = _turn(d, t)
            lines.append(f"{'INT' if t % 2 else 'P01'}: {text}")
            if t <= 8:
                code = "coaching" if (d, t) == (0, 1) else topic
                row(doc, text, "ana", code, STAGE_OF[code])
                if (d, t) == (1, 2):
                    row(doc, text, "ana", "training", STAGE_OF[code])
            if d == 0 and t <= 5:
                code = "" if t % 3 == 0 else topic
                row(doc, text, "ben", code, STAGE_OF[code])
        path = root / f"{doc}.txt"
        path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    coded = root / "coded.csv"
    coded.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return book, paths, coded


def _build(root: Path) -> Path:
    """A project as a team builds it: codebook, transcripts, seed codes, a model, a
    review (accept, reject, relabel, accept, undo, skip), a consensus and two notes (one
    as a QDA tool gives it, one with the API's defaults)."""
    root.mkdir(parents=True)
    book, paths, coded = _write_inputs(root)
    a = root / "A"
    cli_ok("init", a, "--embedder", "hashing-256")
    cli_ok("--project", a, "codebook", "load", book)
    cli_ok("--project", a, "ingest", *paths)
    cli_ok("--project", a, "import-codes", coded)
    cli_ok("--project", a, "train", "--folds", "2")
    cli_ok("--project", a, "suggest")
    with open_project(a) as store:
        session = project_review(store, "cy", order="document")
        assert session.total >= 5, f"only {session.total} review items"
        session.accept()
        session.reject()
        session.relabel(["coaching", "support"], "exchange")
        session.accept()
        assert session.undo() is not None
        session.skip()
        seg = next(s for s in store.segments() if s.document == "site0" and s.index == 1)
        word = seg.start + seg.text.index("coach")
        store.add_notes([
            Note(title="Memo 😀", text="Coaching after the clef 𝄞.", coder="ana",
                 guid="7d0f7f4e-1c1b-4b43-9a55-2f0a3c5e9b11", document="site0",
                 start=word, end=word + 5, created_at="2024-05-03T09:00:00Z"),
            Note(title="Project memo", text="Written through the API with its defaults."),
        ])
    cli_ok("--project", a, "resolve", "--segment", "site0#0", "--codes", "training",
           "--stage", "push")
    return a


def test_our_own_project_survives_export_and_import_exactly(tmp_path: Path) -> None:
    a = _build(tmp_path / "built")
    held = project_tables(a)
    # the build really holds what the comparison is meant to cover
    assert {r[1] for r in held["log_decisions"]} == {"accept", "reject", "relabel", "undo",
                                                     "skip"}
    sources = {r[4] for r in held["annotations"]}
    assert {"human", "assisted", "consensus"} <= sources, sources
    assert any(r[3] is None and r[1] == "ben" for r in held["annotations"])  # "no code"
    assert any(r[4] == "support" for r in held["codes"] if r[0] == "code")  # a parent code
    assert len(held["notes"]) == 2
    b = export_and_import(a)
    lines = same_project_lines(a, b)
    assert not lines, "A and B differ\n" + "\n".join(lines)
