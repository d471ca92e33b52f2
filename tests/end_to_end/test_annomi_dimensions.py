"""AnnoMI as a project with two single-choice dimensions (therapist behaviour, client talk
type) and no codes: the model–human kappa the project reports for each dimension is the
one `isp-nlp evaluate` gives on the equivalent coded CSV (issue 21, item 1).

Real data: the transcripts one annotator coded alone (annotator 2: 12 transcripts,
594 utterances) from ../shared/data/annomi/AnnoMI-full.csv; hashing embedder.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.store.database import Store
from tests.builders.paths import require_shared

ANNOTATOR = "2"
#: dimension id → (AnnoMI column, speaker whose utterances carry it)
DIMENSIONS = {"behaviour": ("main_therapist_behaviour", "therapist"),
              "talk_type": ("client_talk_type", "client")}
BOOK = """\
name: AnnoMI (MITI-style)
dimensions:
  - id: behaviour
    name: Therapist behaviour
    values:
      - {id: question, name: Question, definition: The therapist asks for information.}
      - {id: reflection, name: Reflection, definition: The therapist mirrors what the client said.}
      - {id: therapist_input, name: Therapist input, definition: "Information, advice or options."}
      - {id: other, name: Other, definition: Any other therapist utterance.}
  - id: talk_type
    name: Client talk type
    values:
      - {id: change, name: Change talk, definition: The client argues for change.}
      - {id: neutral, name: Neutral, definition: Neither for nor against change.}
      - {id: sustain, name: Sustain talk, definition: The client argues against change.}
"""
FOLDS = "5"


def _run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--project", str(project), *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _utterances() -> dict[str, list[dict[str, str]]]:
    """The utterances of each transcript annotator 2 coded alone, in order."""
    path = require_shared("data", "annomi", "AnnoMI-full.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    annotators: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        annotators[r["transcript_id"]].add(r["annotator_id"])
    mine = {t for t, a in annotators.items() if a == {ANNOTATOR}}
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in sorted((r for r in rows if r["transcript_id"] in mine),
                    key=lambda r: (int(r["transcript_id"]), int(r["utterance_id"]))):
        out[f"annomi_{r['transcript_id']}"].append(r)
    return out


@pytest.fixture(scope="module")
def annomi(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The project, and the coded CSV it imported: one row per utterance with its segment
    id, both dimension columns (empty where the utterance's speaker does not carry one)
    and the previous utterance as previous_text, the context the project gives it."""
    utterances = _utterances()
    root = tmp_path_factory.mktemp("annomi")
    (root / "transcripts").mkdir()
    for document, rows in utterances.items():
        lines = [f"{r['interlocutor'].capitalize()}: {' '.join(r['utterance_text'].split())}"
                 for r in rows]
        (root / "transcripts" / f"{document}.txt").write_text("\n\n".join(lines) + "\n",
                                                              encoding="utf-8")
    book = root / "annomi.yaml"
    book.write_text(BOOK, encoding="utf-8")
    project = root / "project"
    _run(root, "init", str(project), "--embedder", "hashing-256")
    _run(project, "codebook", "load", str(book))
    _run(project, "ingest", *map(str, sorted((root / "transcripts").iterdir())))
    with Store.open(project / "project.sqlite") as store:
        segments: dict[str, list] = defaultdict(list)
        for seg in store.segments():
            segments[seg.document].append(seg)
    coded = root / "annomi_coded.csv"
    with coded.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["document", "segment", "text", "coder", "code", *DIMENSIONS,
                         "speaker", "previous_text"])
        for document, rows in utterances.items():
            segs = sorted(segments[document], key=lambda s: s.index)
            assert len(segs) == len(rows)  # one segment per utterance
            previous = ""
            for r, seg in zip(rows, segs, strict=True):
                assert seg.text == " ".join(r["utterance_text"].split())
                values = [r[col] if r["interlocutor"] == who and r[col] not in ("", "n/a")
                          else "" for col, who in DIMENSIONS.values()]
                writer.writerow([document, seg.id, seg.text, f"annotator_{ANNOTATOR}", "",
                                 *values, seg.speaker, previous])
                previous = seg.text
    _run(project, "import-codes", str(coded))
    _run(project, "train", "--folds", FOLDS)
    return {"root": root, "project": project, "coded": coded, "book": book,
            "n": sum(map(len, utterances.values()))}


def test_the_project_holds_both_dimensions_on_every_utterance(annomi: dict) -> None:
    assert annomi["n"] == 594
    with Store.open(annomi["project"] / "project.sqlite") as store:
        book = store.codebook()
        assert book is not None and book.codes == ()
        assert book.dimension_ids == tuple(DIMENSIONS)
        by_dim: dict[str, int] = defaultdict(int)
        for a in store.annotations():
            by_dim[a.dimension] += a.label is not None
    assert by_dim["behaviour"] + by_dim["talk_type"] == 594 - by_dim["missing"]
    assert by_dim["behaviour"] > 250 and by_dim["talk_type"] > 250


@pytest.mark.parametrize("dimension", list(DIMENSIONS))
def test_model_human_kappa_is_the_one_evaluate_gives(annomi: dict, dimension: str) -> None:
    """`train` states each dimension's out-of-fold kappa with the coders (folds over the
    segments coded for that dimension); `evaluate` on the CSV the project imported, with
    the same folds and codebook, gives the same model–human (mean coder) kappa."""
    with Store.open(annomi["project"] / "project.sqlite") as store:
        model = store.latest_model()
    assert model is not None
    stated = model["manifest"]["model_human"][dimension]
    assert stated["coders"] == 1 and stated["segments"] > 250
    evaluated = json.loads(_run(annomi["root"], "evaluate", str(annomi["coded"]), "--folds",
                                FOLDS, "--label-column", dimension, "--embedder",
                                "hashing-256", "--codebook", str(annomi["book"]),
                                "--format", "json").output)
    assert evaluated["n_test_units"] == stated["segments"]
    assert evaluated["model_human"]["mean_kappa"] == pytest.approx(stated["mean_kappa"],
                                                                   abs=1e-9)
    assert 0.1 < stated["mean_kappa"] < 0.9  # a real model, not a constant


def test_train_states_each_dimension_by_its_name(annomi: dict) -> None:
    out = _run(annomi["project"], "train", "--folds", FOLDS).output
    assert "Therapist behaviour: out-of-fold kappa with the coders" in out
    assert "Client talk type: out-of-fold kappa with the coders" in out
    assert "Codes are suggested" not in out  # the codebook has no codes
    assert all(len(line) <= 80 for line in out.splitlines()[1:])
