"""A study whose codebook declares its own dimension (`phase: early / middle / late`, no
stage) runs end to end from the command line: init, codebook load, ingest, import-codes
with a `phase` column, train, suggest, review, agreement, pathways, report, export .qdpx
and import it back (issue 21, item 1)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.store.database import Store

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "corpora" / "isp-demo"
#: The demo's stages, read as phases of the work (none: no phase given).
PHASE_OF = {"push": "early", "push_pull": "middle", "exchange": "late", "none": ""}

PHASE_BOOK = """\
name: Phase study
dimensions:
  - id: phase
    name: Phase of the work
    ordered: true
    pathway: true
    values:
      - {id: early, name: Early, definition: Training delivered to people.}
      - {id: middle, name: Middle, definition: Support tailored to what people ask.}
      - {id: late, name: Late, definition: Working things out together.}
"""


def _run(project: Path, *args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], input=input,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo corpus recoded as a phase study: its codes, its stages as phases."""
    root = tmp_path_factory.mktemp("phase")
    demo_book = yaml.safe_load((DEMO / "codebook.yaml").read_text(encoding="utf-8"))
    book = root / "phase.yaml"
    book.write_text(PHASE_BOOK + yaml.safe_dump({"codes": demo_book["codes"]},
                                                allow_unicode=True), encoding="utf-8")
    coded = root / "phase_codes.csv"
    with (DEMO / "seed_codes.csv").open(encoding="utf-8", newline="") as src, \
            coded.open("w", encoding="utf-8", newline="") as out:
        rows = csv.DictReader(src)
        fields = ["phase" if f == "stage" else f for f in rows.fieldnames or ()]
        writer = csv.DictWriter(out, fields)
        writer.writeheader()
        for row in rows:
            row["phase"] = PHASE_OF[row.pop("stage")]
            writer.writerow(row)
    project = root / "project"
    _run(root, "init", str(project), "--embedder", "hashing-256")
    _run(project, "codebook", "load", str(book))
    _run(project, "ingest", *map(str, sorted((DEMO / "transcripts").iterdir())))
    _run(project, "import-codes", str(coded))
    _run(project, "train")
    _run(project, "suggest")
    return {"root": root, "project": project, "book": book, "coded": coded}


def test_the_codebook_has_the_phase_and_no_stage(study: dict[str, Path]) -> None:
    out = _run(study["project"], "codebook", "show").output
    assert "Phase of the work" in out and "push_pull" not in out
    with Store.open(study["project"] / "project.sqlite") as store:
        book = store.codebook()
        assert book is not None and book.dimension_ids == ("phase",)
        dims = {a.dimension for a in store.annotations()}
        assert dims == {"code", "phase"}


def test_train_and_suggest_give_phase_suggestions(study: dict[str, Path]) -> None:
    with Store.open(study["project"] / "project.sqlite") as store:
        model = store.latest_model()
        assert model is not None
        dims = {s.dimension for s in store.suggestions(model["id"], with_evidence=False)}
    assert dims == {"code", "phase"}
    status = _run(study["project"], "status").output
    assert "Phase of the work" in status and "stage" not in status.lower()


def test_review_asks_for_the_phase_only(study: dict[str, Path]) -> None:
    out = _run(study["project"], "review", "--coder", "zoe", "--script", "a,a,q").output
    assert "stage" not in out.lower()
    with Store.open(study["project"] / "project.sqlite") as store:
        assisted = [a for a in store.annotations() if a.coder == "zoe"]
    assert assisted and {a.dimension for a in assisted} <= {"code", "phase"}


def test_agreement_on_the_phase(study: dict[str, Path]) -> None:
    out = _run(study["project"], "agreement", "--dimension", "phase", "--format",
               "json").output
    data = json.loads(out)
    assert "phase" in data["dimensions"]
    refused = CliRunner().invoke(cli, ["--project", str(study["project"]), "agreement",
                                       "--dimension", "stage"])
    assert refused.exit_code == 2 and "phase" in refused.output


def test_pathways_follow_the_phase(study: dict[str, Path]) -> None:
    out = _run(study["project"], "pathways").output
    assert "early" in out.lower() or "Early" in out
    assert "push" not in out.lower()


def test_the_report_speaks_of_the_phase(study: dict[str, Path]) -> None:
    report = study["root"] / "report.html"
    _run(study["project"], "report", "--out", str(report))
    html = report.read_text(encoding="utf-8")
    assert "Phase of the work" in html and "push_pull" not in html


def test_export_and_import_back_keep_the_phase(study: dict[str, Path]) -> None:
    qdpx = study["root"] / "phase.qdpx"
    _run(study["project"], "export", "--out", str(qdpx))
    again = study["root"] / "again"
    said = _run(study["root"], "import", str(qdpx), "--init", str(again), "--embedder",
                "hashing-256").output
    assert "isCodable" not in said  # the phase's parent code is the dimension, no warning
    with Store.open(study["project"] / "project.sqlite") as a, \
            Store.open(again / "project.sqlite") as b:
        assert b.codebook() is not None
        assert b.codebook().dimensions == a.codebook().dimensions
        def rows(store: Store) -> list[tuple]:
            return sorted((x.segment_id, x.coder, x.dimension, x.label or "", x.source)
                          for x in store.annotations())

        assert rows(b) == rows(a)
