"""Every hand-off says whether to trust the model: the statement (isp_nlp.suggest.trust)
and its place first in precode's summary, CSV and .qdpx note, the review header and
`status` (hashing embedder; a certified and an uncertified model of one small project)."""

from __future__ import annotations

import csv
import html
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from isp_nlp.cli import cli
from isp_nlp.pipeline import train_project
from isp_nlp.precode.handoff import CSV_NOTE
from isp_nlp.precode.wave import precode_wave
from isp_nlp.records import Annotation, Segment, Suggestion
from isp_nlp.store.folder import open_project
from isp_nlp.suggest.training_data import merge_labels
from isp_nlp.suggest.trust import (
    MAX_LINES,
    NO_MODEL,
    ModelTrust,
    model_trust,
    trust_lines,
    trust_paragraphs,
)
from tests.builders.coded_projects import coded_project
from tests.builders.paths import SHARED

NS = "{urn:QDA-XML:project:1.0}"
#: The uncertified certificate of issue 20: agreement below the target.
BELOW = {"target": 0.675, "confidence": 0.9, "threshold": None, "n_seeds": 40,
         "n_covered": 0, "coverage": 0.0, "agreement": 0.567, "lower_bound": None,
         "more_seeds_needed": None,
         "reason": "out of fold, the model agrees with the seed coders 56.7% of the time on "
                   "its 30 most confident seed segments, below the target 67.5%: nothing "
                   "can be certified; lower --target-agreement or code more seeds"}


def _fits(lines: list[str], paragraphs: int) -> None:
    """At most 80 columns, and at most MAX_LINES lines per paragraph."""
    assert all(len(line) <= 80 for line in lines), lines
    assert len(lines) <= MAX_LINES * paragraphs, lines


def _joined(lines: list[str]) -> str:
    """Wrapped lines as one text (the wrap's indents gone)."""
    return " ".join(" ".join(lines).split())


# -- the statement, pure ------------------------------------------------------------------
def _seeds(n: int = 40) -> tuple[list[Segment], list[Annotation], list[Suggestion]]:
    """Two coders on ``n`` segments of 4 documents, and out-of-fold suggestions that
    disagree with them on a known share."""
    rng = np.random.default_rng(3)
    segments, annotations, oof = [], [], []
    for i in range(n):
        seg = Segment(f"s{i}", f"doc{i % 4}", i, i, "turn", "P", 0, 5, f"text {i}")
        segments.append(seg)
        truth = "a" if rng.random() < 0.5 else "b"
        stage = ("push", "exchange")[i % 2]
        for coder in ("ann", "bob"):
            label = truth if coder == "ann" or rng.random() < 0.8 else "ab"[truth == "a"]
            annotations.append(Annotation(seg.id, coder, "code", label, "human"))
            annotations.append(Annotation(seg.id, coder, "stage", stage, "human"))
        guess = truth if rng.random() < 0.7 else "ab"[truth == "a"]
        for label in ("a", "b"):
            oof.append(Suggestion(seg.id, "m/cv", "code", label, 0.6, label == guess))
        oof.append(Suggestion(seg.id, "m/cv", "stage", stage if i % 5 else "push", 0.3,
                              False))
    return segments, annotations, oof


def test_uncertified_statement_says_why_with_seed_size_and_labelled_kappa() -> None:
    segments, annotations, oof = _seeds()
    seeds = merge_labels(segments, annotations)
    manifest = {"certified": {"code": BELOW}, "code_labels": ["a", "b"],
                "dimension_classes": {"stage": ["exchange", "push"]}, "n_code_segments": 40,
                "n_value_segments": {"stage": 40}, "dimension_names": {"stage": "Stage"}}
    trust = model_trust("m", manifest, seeds, oof)
    code, stage = trust.dimensions
    assert not trust.certified and not code.certified and code.more_seeds_needed is None
    assert code.seed_segments == 40 and code.seed_coders == ("ann", "bob")
    assert trust.documents == 4 and code.cv_segments == 40
    # per code, mean over the two coders, then over the codes: as sklearn computes it
    by = {(a.segment_id, a.coder): a.label for a in annotations if a.dimension == "code"}
    model = {s.segment_id: s.label for s in oof if s.dimension == "code" and s.suggested}
    ids = [s.id for s in segments]
    expected = np.mean([np.mean([cohen_kappa_score([by[i, c] == lab for i in ids],
                                                   [model[i] == lab for i in ids])
                                 for c in ("ann", "bob")]) for lab in ("a", "b")])
    assert code.cv_kappa == pytest.approx(expected)
    first = {s.segment_id: s.label for s in oof if s.dimension == "stage"}
    coded = [("push", "exchange")[k % 2] for k in range(40)]  # both coders
    assert stage.cv_kappa == pytest.approx(cohen_kappa_score(coded, [first[i] for i in ids]))
    assert stage.target is None and "--target-agreement" in stage.reason
    lines = trust_lines(trust)
    _fits(lines, len(trust_paragraphs(trust)))
    text = _joined(lines)
    assert text.startswith("Model m: not certified; seed: 40 coded segments by 2 coders "
                           "in 4 documents.")
    assert "Codes: not certified: out-of-fold agreement 56.7% (most confident seeds) is " \
           "below the 67.5% target; no amount of extra coding settles it" in text
    assert (f"Out-of-fold Cohen's kappa vs seed coders (folds grouped by document): codes "
            f"{code.cv_kappa:.2f} (mean per code), stage {stage.cv_kappa:.2f} (first "
            "choice).") in text
    assert ModelTrust.from_dict(trust.to_dict()) == trust


def test_no_model_and_a_model_without_out_of_fold_suggestions() -> None:
    assert trust_lines(ModelTrust(None)) == [NO_MODEL]
    segments, annotations, _ = _seeds(12)
    more = {**BELOW, "agreement": None, "more_seeds_needed": 17}
    trust = model_trust("m", {"certified": {"code": more}, "code_labels": ["a", "b"]},
                        merge_labels(segments, annotations), [])
    (code,) = trust.dimensions
    assert code.cv_kappa is None and code.seed_segments == 12 and trust.documents == 4
    text = _joined(trust_lines(trust))
    assert "codes not cross-validated" in text
    assert "12 seed segments are too few to test the 67.5% target; at least 17 more coded " \
           "segments are needed" in text
    elsewhere = model_trust("m", {"certified": {"code": more}, "code_labels": ["a", "b"],
                                  "n_code_segments": 12}, merge_labels([], []), [])
    assert "seed: 12 coded segments (its coders are not in this project)" in _joined(
        trust_lines(elsewhere))


# -- every hand-off -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A seed project (two of three transcripts coded by two coders) and a wave folder
    holding the third transcript."""
    root = tmp_path_factory.mktemp("trust")
    path, _, _ = coded_project(root, leave_out="site2")
    wave = root / "wave"
    wave.mkdir()
    (wave / "site2.txt").write_text((root / "site2.txt").read_text("utf-8"), "utf-8")
    return path, wave


def _handoffs(seed: Path, wave: Path, out: Path, target: float) -> dict[str, list[str]]:
    """Train at ``target``, pre-code the wave, and read the first lines of each hand-off."""
    with open_project(seed) as store:
        train_project(store, target_agreement=target)
    outcome = precode_wave(wave, seed, out)
    page = (out / "summary.html").read_text("utf-8")
    body = page.split("<body>", 1)[1]
    assert body.lstrip().startswith('<section class="trust"'), body[:200]
    section = body.split("</section>", 1)[0]
    summary = [html.unescape(re.sub(r"<[^>]+>", "", p)).strip()
               for p in re.findall(r"<p>(.*?)</p>", section)]
    assert summary[0].startswith("Trust: ")
    summary[0] = summary[0].removeprefix("Trust: ")
    with (out / "suggestions.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    notes = [r[0] for r in rows if r[0].startswith(CSV_NOTE)]
    assert rows[:len(notes)] == [[n] for n in notes] and rows[len(notes)][0] == "document"
    with zipfile.ZipFile(out / "wave.qdpx") as z:
        qde = z.read("project.qde")
    root = ET.fromstring(qde)
    (note,) = root.iter(NS + "Note")
    users = {u.get("guid"): u.get("name") for u in root.iter(NS + "User")}
    assert users[note.get("creatingUser")] == f"isp-nlp model {outcome.model_id}"
    schema = SHARED / "refi-qda" / "Project.xsd"
    if schema.is_file():
        import xmlschema

        xmlschema.XMLSchema(str(schema)).validate(qde.decode("utf-8"))
    runner = CliRunner()
    review = runner.invoke(cli, ["--project", str(out), "review", "--coder", "zoe",
                                 "--script", "q"])
    status = runner.invoke(cli, ["--project", str(out), "status"])
    seed_status = runner.invoke(cli, ["--project", str(seed), "status"])
    assert review.exit_code == status.exit_code == seed_status.exit_code == 0
    model_at = status.output.splitlines().index("Model:")
    seed_at = seed_status.output.splitlines().index("Model:")
    return {"summary": summary, "csv": [n.removeprefix(CSV_NOTE) for n in notes],
            "note": (note.findtext(NS + "PlainTextContent") or "").split("\n\n"),
            "review": review.output.splitlines()[:8],
            "status": [s.strip() for s in status.output.splitlines()[model_at + 1:]],
            "seed status": [s.strip() for s in seed_status.output.splitlines()[seed_at + 1:]],
            "precode": [outcome.model_id]}


def test_an_uncertified_model_says_so_first_in_every_handoff(seeded, tmp_path: Path) -> None:
    seed, wave = seeded
    got = _handoffs(seed, wave, tmp_path / "out", target=0.95)
    model_id = got.pop("precode")[0]
    for where, lines in got.items():
        text = _joined(lines)
        assert text.startswith(f"Model {model_id}"), (where, text)
        head = _joined(lines[:2])
        assert "not certified; seed: 28 coded segments by 2 coders in 2 documents" in head, \
            (where, head)
        assert "Out-of-fold Cohen's kappa vs seed coders (2 folds grouped by document): " \
               "codes" in text, (where, text)
        assert "Codes: not certified: 28 seed segments are too few to test the 95.0% " \
               "target; at least 17 more coded segments are needed." in text, (where, text)
    said = CliRunner().invoke(cli, ["precode", str(wave), "--from", str(seed), "--out",
                                    str(tmp_path / "again")])
    assert said.exit_code == 0, said.output
    assert said.stdout.startswith(f"Model {model_id} (from seed project project): not "
                                  "certified;")
    assert all(len(line) <= 80 for line in said.stdout.splitlines()
               if not line.startswith("Wrote "))  # the paths of this machine's tmp folder
    assert "(from seed project project)" in _joined(got["review"])
    assert "(from seed project" not in _joined(got["seed status"])
    assert all(len(line) <= 80 for line in got["review"])


def test_a_certified_model_says_so_with_its_threshold(seeded, tmp_path: Path) -> None:
    seed, wave = seeded
    got = _handoffs(seed, wave, tmp_path / "out", target=0.5)
    got.pop("precode")
    for where, lines in got.items():
        text = _joined(lines)
        assert re.search(r"Model \w+ \(from seed project project\): certified; seed: 28 "
                         r"coded segments", text) or where == "seed status", (where, text)
        found = re.search(r"Codes: certified at confidence >= (\d\.\d\d) \(covers (\S+)% of "
                          r"seeds\): out of fold, (\S+)% of those agree with the seed coders "
                          r"\(target 50\.0% with 90% confidence\)\.", text)
        assert found, (where, text)
        assert "not certified" not in text
    with open_project(seed) as store:
        cert = store.latest_model()["manifest"]["certified"]["code"]
    assert found.group(1) == f"{cert['threshold']:.2f}"
    assert found.group(3) == f"{100 * cert['agreement']:.1f}"


def test_a_project_without_a_model_says_so(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--project", str(project), "status"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-2:] == ["Model:", f"  {NO_MODEL}"]
    assert "run `isp-nlp train`" in NO_MODEL
