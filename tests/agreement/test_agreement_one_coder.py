"""`isp-nlp agreement` on a project with one human coder: the model's out-of-fold
suggestions vs that coder, labelled as not a reliability figure, and one line on why
there is no human–human reliability; with two coders, the reliability rows are the
humans' alone (hashing embedder, small projects built in a tmp dir)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from isp_nlp.cli import cli
from isp_nlp.pipeline import train_project
from isp_nlp.project import import_codes, ingest_files, load_project_codebook
from isp_nlp.store.folder import init_project, open_project
from tests.builders.coded_projects import CODEBOOK, EMBEDDER, seeded_project, write_corpus

FAST = ("--resamples", "50", "--seed", "1")


def _trained(root: Path, coders: tuple[str, ...]) -> Path:
    """A project whose imported codes are those of ``coders`` only, trained."""
    project = seeded_project(root, lambda rows: [r for r in rows if r["coder"] in coders])
    with open_project(project) as store:
        train_project(store)
    return project


@pytest.fixture(scope="module")
def one_coder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained(tmp_path_factory.mktemp("one_coder"), ("ana",))


@pytest.fixture(scope="module")
def two_coders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained(tmp_path_factory.mktemp("two_coders"), ("ana", "ben"))


def _run(project: Path, *args: str):
    result = CliRunner().invoke(cli, ["--project", str(project), "agreement", *args, *FAST])
    assert result.exit_code == 0, result.output
    return result


def _oracle(project: Path) -> dict[str, tuple[float, float]]:
    """(percent agreement, sklearn Cohen's kappa) of ana vs the stored out-of-fold
    suggestions, for the stage and each code's presence, on segments both labelled."""
    with open_project(project) as store:
        book = store.codebook()
        assert book is not None
        codes = [c.id for c in book.codes if not any(x.parent == c.id for x in book.codes)]
        human: dict[str, dict[str, set]] = {"stage": {}, "code": {}}
        for a in store.annotations():
            if a.coder == "ana" and a.source == "human":
                human[a.dimension].setdefault(a.segment_id, set())
                if a.label:
                    human[a.dimension][a.segment_id].add(a.label)
        model: dict[str, dict[str, set]] = {"stage": {}, "code": {}}
        for s in store.out_of_fold(store.latest_model()["id"]):
            model[s.dimension].setdefault(s.segment_id, set())
            if s.suggested:
                model[s.dimension][s.segment_id].add(s.label)
    out = {}
    stage = [s for s in human["stage"] if model["stage"].get(s)]
    a = [min(human["stage"][s]) for s in stage]
    b = [min(model["stage"][s]) for s in stage]
    out["stage"] = (sum(x == y for x, y in zip(a, b, strict=True)) / len(a),
                    cohen_kappa_score(a, b))
    seen = [s for s in human["code"] if s in model["code"]]
    for code in codes:
        a = [int(code in human["code"][s]) for s in seen]
        b = [int(code in model["code"][s]) for s in seen]
        kappa = cohen_kappa_score(a, b) if len(set(a) | set(b)) > 1 else float("nan")
        out[f"code {code}"] = (sum(x == y for x, y in zip(a, b, strict=True)) / len(a), kappa)
    return out


def _model_rows(out: str) -> dict[str, list[str]]:
    """Target → the cells of its "ana vs model" row in the table."""
    rows: dict[str, list[str]] = {}
    target = ""
    for line in out.splitlines():
        if line.startswith("  ") and line.rstrip().endswith(":"):
            target = line.strip()[:-1]
        elif line.strip().startswith("ana vs model"):
            rows[target] = line.split()[3:]
    return rows


def _flat(text: str) -> str:
    return " ".join(" ".join(line.split()) for line in text.splitlines())


def test_one_coder_gets_model_vs_coder_not_reliability(one_coder: Path) -> None:
    short = _run(one_coder)
    # by default the pairs of the dimensions and all codes pooled, and where the rest is
    assert set(_model_rows(short.stdout)) == {"stage", "all codes pooled"}
    assert "--detail adds each code (" in _flat(short.stdout)
    for result in (short, _run(one_coder, "--detail")):
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80
        text = _flat(result.stdout)
        assert text.startswith("Human-human reliability: none, one human coder (ana); it "
                               "needs two coders on the same segments. ")
        assert ("Model vs coder ana: how often the out-of-fold suggestions match this "
                "coder; not a reliability figure (one human coder).") in text
        # No coefficient is printed as reliability: every number sits on an "ana vs
        # model" row.
        assert "statistic" not in text and "Human coder pairs" not in text
        assert "Cohen's kappa" not in text and "alpha" not in text and "humans" not in text
    rows = _model_rows(result.stdout)
    oracle = _oracle(one_coder)
    assert set(oracle) <= set(rows) and "stage" in rows and "all codes pooled" in rows
    checked = 0
    for name, (percent, kappa) in oracle.items():
        cells = rows[name]  # percent, kappa, [ci_low, ci_high], pi, units
        assert cells[0] == f"{percent:.3f}", name
        if kappa == kappa:  # defined
            assert cells[1] == f"{kappa:.3f}", name
            checked += kappa < 0.999
    assert checked >= 1  # at least one imperfect, non-trivial kappa was compared
    data = json.loads(_run(one_coder, "--format", "json").stdout)
    assert data["settings"]["coders"] == ["ana", "model"]
    assert {p["kind"] for p in data["pairs"]} == {"model–human"}


def test_two_coders_reliability_is_the_humans_alone(two_coders: Path) -> None:
    text = _flat(_run(two_coders, "--metric", "kappa,alpha").stdout)
    assert "Human-human reliability: 2 coders (ana, ben)" in text
    assert ("Model vs each coder: how often the out-of-fold suggestions match that coder; "
            "not a reliability figure.") in _flat(_run(two_coders, "--detail").stdout)
    humans = json.loads(_run(two_coders, "--no-model", "--metric", "kappa,alpha",
                             "--format", "json").stdout)
    everyone = json.loads(_run(two_coders, "--metric", "kappa,alpha",
                               "--format", "json").stdout)
    stage = humans["dimensions"]["stage"]
    assert stage["alpha"]["value"] != pytest.approx(
        everyone["dimensions"]["stage"]["alpha"]["value"])
    for metric, label in (("kappa", "Cohen's kappa"), ("alpha", "Krippendorff's alpha")):
        est = stage[metric]
        assert ("stage: one label per coder and segment" in text
                and f"humans {est['value']:.3f} [{est['ci_low']:.3f}, {est['ci_high']:.3f}] "
                f"{est['n_units']} {label}" in text)


def test_without_out_of_fold_suggestions_the_table_says_why(tmp_path: Path) -> None:
    """A model whose seeds cannot be cross-validated (or no model) is named, not hidden."""
    project = tmp_path / "bare"
    init_project(project, embedder=EMBEDDER)
    transcripts, coded = write_corpus(tmp_path)
    book = tmp_path / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    with open_project(project) as store:
        load_project_codebook(store, book)
        ingest_files(store, transcripts)
        import_codes(store, coded)
    out = _run(project).output
    assert "Model vs coder: none; the project has no trained model" in out
    with open_project(project) as store:
        train_project(store)
        model = store.latest_model()
        assert model is not None
        store.replace_out_of_fold(model["id"], [])  # as when no fold could run
    out = _run(project).output
    assert "Model vs coder: none; the latest model has no out-of-fold suggestions" in out
    assert "--no-model" not in out and max(map(len, out.splitlines())) <= 80
    assert "Model vs coder: none" not in _run(project, "--no-model").output
