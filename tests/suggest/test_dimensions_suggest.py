"""Single-choice dimensions the user defines: `train` fits, calibrates and certifies one
suggester per codebook dimension (none for ``dimensions: []``), `suggest` stores a value
of each, `evaluate` on the same rows fits the same model, and a model saved before
dimensions asks to be trained again (hashing embedder, fast)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.codebook.load import load_codebook
from isp_nlp.coded.units import embed_units, load_units
from isp_nlp.errors import ModelError
from isp_nlp.pipeline import load_latest_model, make_embedder, suggest_project, train_project
from isp_nlp.project import import_codes, ingest_files, load_project_codebook
from isp_nlp.store.folder import init_project, open_project
from isp_nlp.suggest.bundle import SuggesterModel
from isp_nlp.suggest.evaluate import check_labels, label_prototypes, seed_coder_agreement
from isp_nlp.suggest.study_fit import fit_calibrated, sample_seeds
from isp_nlp.suggest.trust import project_trust, trust_lines

EMBEDDER = "hashing-256"
CODEBOOK = """\
name: two dimensions
dimensions:
  - id: phase
    name: Phase of the work
    ordered: true
    values:
      - {id: early, name: Early, definition: "Planning, a first meeting and a kickoff."}
      - {id: middle, name: Middle, definition: "Rollout, weekly routine and the daily work."}
      - {id: late, name: Late, definition: "Wrapping up, the final report and the handover."}
  - id: valence
    name: Valence
    values:
      - {id: positive, name: Positive, definition: "Glad, pleased, it worked and helped."}
      - {id: negative, name: Negative, definition: "Frustrated, annoyed, it failed and hurt."}
codes:
  - id: planning
    name: Planning
    definition: Planning the work.
  - id: delivery
    name: Delivery
    definition: Doing the work.
"""
PHASE_WORDS = {"early": "planning meeting kickoff first schedule draft",
               "middle": "rollout weekly routine daily ongoing practice",
               "late": "wrapping final report handover closing ending"}
VALENCE_WORDS = {"positive": "glad pleased worked helped great happy",
                 "negative": "frustrated annoyed failed hurt awful sad"}
CODE_OF = {"early": "planning", "middle": "delivery", "late": "delivery"}


def _corpus(root: Path, *, dimensions: str = CODEBOOK) -> tuple[list[Path], Path, Path]:
    """Three transcripts of 18 turns, every turn coded by two coders (bob differs on
    some): a code, a phase and a valence, each told by its own words."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    transcripts, rows = [], []
    for d in range(3):
        doc = f"site{d}"
        lines = []
        for t in range(18):
            phase = list(PHASE_WORDS)[(t + d) % 3]
            valence = list(VALENCE_WORDS)[(t // 2 + d) % 2]
            words = PHASE_WORDS[phase].split() + VALENCE_WORDS[valence].split()
            text = " ".join(rng.choice(words) for _ in range(10)).capitalize() + f" turn {t}."
            speaker = "P01" if t % 2 == 0 else "P02"
            lines.append(f"{speaker}: {text}")
            for coder in ("ana", "bob"):
                p, v = phase, valence
                if coder == "bob" and t % 7 == 0:
                    p = "late" if phase != "late" else "early"
                if coder == "bob" and t % 5 == 0:
                    v = "positive" if valence == "negative" else "negative"
                rows.append([doc, "", text, coder, CODE_OF[phase], p, v, speaker])
        path = root / f"{doc}.txt"
        path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        transcripts.append(path)
    coded = root / "coded.csv"
    with coded.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["document", "segment", "text", "coder", "code", "phase", "valence",
                         "speaker"])
        writer.writerows(rows)
    book = root / "codebook.yaml"
    book.write_text(dimensions, encoding="utf-8")
    return transcripts, coded, book


def _project(root: Path, *, codebook: str = CODEBOOK, seeds: Path | None = None
             ) -> tuple[Path, Path, Path]:
    transcripts, coded, book = _corpus(root, dimensions=codebook)
    init_project(root / "project", embedder=EMBEDDER)
    with open_project(root / "project") as store:
        load_project_codebook(store, book)
        ingest_files(store, transcripts)
        import_codes(store, seeds or coded)
    return root / "project", coded, book


@pytest.fixture(scope="module")
def two_dimensions(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("two_dimensions")
    path, coded, book = _project(root)
    with open_project(path) as store:
        result = train_project(store)
        model = load_latest_model(store)
    return path, coded, book, result, model


def test_train_fits_and_certifies_each_dimension_by_its_id(two_dimensions) -> None:
    _, _, _, r, model = two_dimensions
    assert list(model.dimensions) == ["phase", "valence"] == r["dimensions"]
    assert "stage" not in model.dimensions and r["skipped"] == {}
    assert model.value_classes("phase") == ["early", "late", "middle"]
    assert model.dimension("valence").labels == ["positive", "negative"]
    assert set(r["certified"]) == {"code", "phase", "valence"}
    assert set(model.certified) == {"code", "phase", "valence"}
    assert set(r["thresholds"]) == set(r["thresholds_from_cv"]) == set(r["temperatures"]) \
        == {"phase", "valence"}
    assert r["thresholds"] == model.thresholds
    for dim in ("phase", "valence"):
        cert = model.certified[dim]
        assert cert["n_seeds"] == 54 and 0.5 < cert["target"] < 1.0
        if cert["threshold"] is not None:
            assert model.thresholds[dim] == cert["threshold"]
    assert model.manifest["dimension_names"] == {"phase": "Phase of the work",
                                                 "valence": "Valence"}


def test_status_states_each_dimension_by_its_name(two_dimensions) -> None:
    path, _, _, _, _ = two_dimensions
    with open_project(path) as store:
        trust = project_trust(store)
    assert [d.dimension for d in trust.dimensions] == ["code", "phase", "valence"]
    assert [d.title for d in trust.dimensions] == ["Codes", "Phase of the work", "Valence"]
    assert all(d.cv_kappa is not None and d.seed_segments == 54 for d in trust.dimensions)
    lines = trust_lines(trust)
    text = " ".join(line.strip() for line in lines)
    assert "phase of the work " in text and "Valence: " in text and "stage" not in text
    assert all(len(line) <= 80 for line in lines)
    out = CliRunner().invoke(cli, ["--project", str(path), "status"])
    assert out.exit_code == 0 and "Phase of the work: " in out.output, out.output


def test_suggest_stores_a_value_of_every_dimension(two_dimensions, tmp_path: Path) -> None:
    path, coded, book, _, _ = two_dimensions
    # a copy with one document left uncoded, so suggest has segments to score
    lines = coded.read_text(encoding="utf-8").splitlines()
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("\n".join([lines[0], *[r for r in lines[1:] if not r.startswith("site2,")]])
                     + "\n", encoding="utf-8")
    project, _, _ = _project(tmp_path / "left_out", seeds=seeds)
    with open_project(project) as store:
        train_project(store)
        r = suggest_project(store)
        model = load_latest_model(store)
        rows = store.suggestions(model.model_id)
    assert r["segments"] == 18 and r["dimensions"] == ["phase", "valence"]
    assert set(r["abstained"]) == set(r["thresholds"]) == {"phase", "valence"}
    assert {"stage_abstained", "has_stage", "stage_threshold"}.isdisjoint(r)
    by_dim: dict[str, list] = {}
    for s in rows:
        by_dim.setdefault(s.dimension, []).append(s)
    assert set(by_dim) == {"code", "phase", "valence"}
    assert len(by_dim["phase"]) == len(by_dim["valence"]) == 18
    assert {s.label for s in by_dim["phase"]} <= {"early", "middle", "late"}
    assert {s.label for s in by_dim["valence"]} <= {"positive", "negative"}
    for dim in ("phase", "valence"):
        cut = model.thresholds[dim]
        assert r["abstained"][dim] == sum(not s.suggested for s in by_dim[dim])
        assert all(s.suggested == (s.probability >= cut) for s in by_dim[dim])
        assert all(e.labels and e.labels[0] in model.dimension(dim).labels
                   for s in by_dim[dim] for e in s.evidence)


def test_cli_suggest_prints_each_dimension_by_its_name(two_dimensions, tmp_path: Path) -> None:
    path, coded, _, _, _ = two_dimensions
    lines = coded.read_text(encoding="utf-8").splitlines()
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("\n".join([lines[0], *[r for r in lines[1:] if not r.startswith("site0,")]])
                     + "\n", encoding="utf-8")
    project, _, _ = _project(tmp_path / "cli", seeds=seeds)
    runner = CliRunner()
    trained = runner.invoke(cli, ["--project", str(project), "train"])
    assert trained.exit_code == 0, trained.output
    assert "Phase of the work: certified threshold" in trained.output \
        or "Phase of the work: no certified threshold" in trained.output
    assert all(len(line) <= 80 or len(line.split()) == 1  # a long path stays whole
               for line in trained.output.splitlines()
               if line.startswith(("Phase of the work:", "Valence:", "Codes:", "  ")))
    out = runner.invoke(cli, ["--project", str(project), "suggest", "--value-threshold", "1"])
    assert out.exit_code == 0, out.output
    with open_project(project) as store:
        model_id = store.latest_model()["id"]
        rows = store.suggestions(model_id, with_evidence=False)
    text = out.output.splitlines()
    for name, dim in (("Phase of the work", "phase"), ("Valence", "valence")):
        open_ = [s for s in rows if s.dimension == dim and not s.suggested]
        assert all(s.probability < 1.0 for s in open_)  # --value-threshold 1 for both
        assert f"{name}: abstained on {len(open_)}" in text
    assert all(len(line) <= 80 for line in text if "abstained" in line)
    old = runner.invoke(cli, ["--project", str(project), "suggest", "--stage-threshold", "0.5"])
    assert old.exit_code == 2 and "--stage-threshold" in old.output


def test_a_dimension_with_one_value_coded_is_skipped_by_its_name(tmp_path: Path) -> None:
    transcripts, coded, book = _corpus(tmp_path)
    with coded.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["valence"] = "positive"
    seeds = tmp_path / "one_valence.csv"
    with seeds.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    init_project(tmp_path / "project", embedder=EMBEDDER)
    with open_project(tmp_path / "project") as store:
        load_project_codebook(store, book)
        ingest_files(store, transcripts)
        import_codes(store, seeds)
    out = CliRunner().invoke(cli, ["--project", str(tmp_path / "project"), "train"])
    assert out.exit_code == 0, out.output
    assert "Valence: not trained: 54 segments coded with 1 distinct value(s) ['positive']; " \
           "at least 2 distinct values are needed." in " ".join(out.output.split())
    with open_project(tmp_path / "project") as store:
        assert list(load_latest_model(store).dimensions) == ["phase"]


def test_a_codebook_without_dimensions_trains_codes_only(tmp_path: Path) -> None:
    none = "name: codes only\ndimensions: []\ncodes:" + CODEBOOK.split("codes:", 1)[1]
    assert load_codebook(_corpus(tmp_path / "check", dimensions=none)[2]).dimensions == ()
    project, _, _ = _project(tmp_path, codebook=none)
    with open_project(project) as store:
        r = train_project(store)
        model = load_latest_model(store)
        s = suggest_project(store)
    assert model.dimensions == {} and r["dimensions"] == [] and r["thresholds"] == {}
    assert set(r["certified"]) <= {"code"} and model.code_estimator is not None
    assert s["dimensions"] == [] and s["abstained"] == {}


def test_a_model_saved_before_dimensions_refuses_to_load(two_dimensions,
                                                         tmp_path: Path) -> None:
    path, _, _, r, _ = two_dimensions
    folder = Path(r["path"])
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["format_version"] == 5
    old = tmp_path / "old"
    old.mkdir()
    for name in ("manifest.json", "weights.npz"):
        (old / name).write_bytes((folder / name).read_bytes())
    (old / "config.json").write_text(json.dumps({**config, "format_version": 4}),
                                     encoding="utf-8")
    with pytest.raises(ModelError) as info:
        SuggesterModel.load(old)
    message = str(info.value)
    assert message.endswith("run `isp-nlp train` again.") and "\n" not in message
    assert message.count(". ") == 0  # one plain sentence


@pytest.mark.parametrize("dimension", ["phase", "valence"])
def test_train_and_evaluate_give_the_same_certificates_per_dimension(two_dimensions,
                                                                     dimension: str) -> None:
    """One fit -> calibrate -> certify for a user dimension: evaluate on the same coded
    rows, codebook and target ships the same calibration, threshold and certificate."""
    _, coded, book, _, model = two_dimensions
    embedder = make_embedder(EMBEDDER)
    units = embed_units(load_units(coded, label_column=dimension,
                                   dimension=load_codebook(book).dimension(dimension)),
                        embedder)
    labels = sorted(check_labels(units, units)[0])
    protos = label_prototypes(book, units, embedder, dimension=dimension)
    idx = sample_seeds(units, None, np.random.default_rng(0), labels)
    ev, _ = fit_calibrated(units, idx, labels, prototypes=protos,
                           target=seed_coder_agreement([units]), dimension=dimension)
    assert ev.certified[dimension] == model.certified[dimension]
    shipped, measured = model.dimension(dimension), ev.dimension(dimension)
    assert measured.classes == shipped.classes
    assert measured.threshold == shipped.threshold
    assert measured.temperature == pytest.approx(shipped.temperature, rel=1e-6)
    assert (measured.prior_weights is None) == (shipped.prior_weights is None)
    if shipped.prior_weights is not None:
        np.testing.assert_allclose(measured.prior_weights, shipped.prior_weights, rtol=1e-9)
