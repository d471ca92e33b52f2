"""`isp-nlp agreement` on a codebook that declares its own dimensions (ordered ``phase``,
unordered ``valence``, no stage): each dimension compared on its own, checked against
the `krippendorff` package and scikit-learn's Cohen's kappa on the same labels; ordinal
level only on the ordered one; a CSV read through a column named by the dimension."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from isp_nlp.cli import cli
from isp_nlp.store.folder import open_project
from tests.builders.dimension_project import PHASES, VALENCES, build

FAST = ("--resamples", "50", "--seed", "1")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dimensions"))


def _run(project: Path, *args: str):
    return CliRunner().invoke(cli, ["--project", str(project), "agreement", *args, *FAST])


def _json(project: Path, *args: str) -> dict:
    result = _run(project, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _stored(project: Path, dimension: str) -> tuple[list[str], list[str]]:
    """ann's and bob's labels of ``dimension`` on the segments both labelled."""
    with open_project(project) as store:
        by: dict[str, dict[str, str]] = {"ann": {}, "bob": {}}
        for a in store.annotations():
            if a.dimension == dimension and a.label:
                by[a.coder][a.segment_id] = a.label
    both = sorted(set(by["ann"]) & set(by["bob"]))
    return [by["ann"][s] for s in both], [by["bob"][s] for s in both]


@pytest.mark.parametrize(("dimension", "values"), [("phase", PHASES), ("valence", VALENCES)])
def test_a_dimension_matches_the_reference_packages(project: Path, dimension: str,
                                                    values: tuple[str, ...]) -> None:
    data = _json(project, "--dimension", dimension, "--metric", "kappa,alpha,percent")
    assert set(data["dimensions"]) == {dimension} and data["codes"] == {}
    ann, bob = _stored(project, dimension)
    est = data["dimensions"][dimension]
    assert est["kappa"]["value"] == pytest.approx(cohen_kappa_score(ann, bob), abs=1e-12)
    codes = {v: i for i, v in enumerate(values)}
    reliability = np.array([[codes[x] for x in ann], [codes[x] for x in bob]], dtype=float)
    alpha = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert est["alpha"]["value"] == pytest.approx(alpha, abs=1e-12)
    assert est["percent"]["value"] == pytest.approx(np.mean(np.array(ann) == np.array(bob)))
    assert est["alpha"]["n_units"] == len(ann) == 36


def test_ordinal_on_the_ordered_dimension_follows_its_scale(project: Path) -> None:
    data = _json(project, "--dimension", "phase", "--level", "ordinal", "--metric", "alpha")
    est = data["dimensions"]["phase"]["alpha"]
    ann, bob = _stored(project, "phase")
    rank = {v: i for i, v in enumerate(PHASES)}  # early < middle < late
    reliability = np.array([[rank[x] for x in ann], [rank[x] for x in bob]], dtype=float)
    alpha = krippendorff.alpha(reliability_data=reliability, level_of_measurement="ordinal")
    assert est["value"] == pytest.approx(alpha, abs=1e-12)
    assert "ordinal phase scale early < middle < late" in est["note"]
    assert "left out" not in est["note"]  # phase has no value outside its scale


def test_ordinal_on_an_unordered_dimension_is_refused(project: Path) -> None:
    result = _run(project, "--dimension", "valence", "--level", "ordinal")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "valence" in result.stderr
    assert "not declared ordered" in result.stderr and "--level nominal" in result.stderr
    interval = _run(project, "--dimension", "phase", "--level", "interval")
    assert interval.exit_code == 2 and interval.stderr.count("\n") == 1
    assert "Phase labels are text" in interval.stderr
    assert "ordinal (early < middle < late)" in interval.stderr


def test_stage_is_refused_naming_the_dimensions(project: Path) -> None:
    result = _run(project, "--dimension", "stage")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "'stage' is not a dimension" in result.stderr
    assert "phase, valence" in result.stderr


def test_every_dimension_is_reported_under_its_name(project: Path) -> None:
    data = _json(project, "--metric", "alpha")
    assert list(data["dimensions"]) == ["phase", "valence"] and "stage" not in data
    table = _run(project, "--metric", "alpha").stdout
    assert "phase: one label per coder and segment" in table
    assert "valence: one label per coder and segment" in table
    assert "stage" not in table and max(len(line) for line in table.splitlines()) <= 80
    codes = _json(project, "--dimension", "code", "--metric", "alpha")
    assert codes["dimensions"] == {}


def _csv(project: Path, path: Path, phase_of=lambda value: value) -> Path:
    """The project's annotations as a coded-segments CSV with phase and valence columns."""
    with open_project(project) as store:
        segments = {s.id: s for s in store.segments()}
        rows: dict[tuple[str, str], dict[str, str]] = {}
        for a in store.annotations():
            seg = segments[a.segment_id]
            row = rows.setdefault((a.segment_id, a.coder), {
                "document": seg.document, "segment": seg.id, "text": seg.text,
                "coder": a.coder, "code": "", "phase": "", "valence": ""})
            if a.dimension == "code":
                row["code"] = a.label or ""
            else:
                row[a.dimension] = phase_of(a.label) if a.dimension == "phase" else a.label
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["document", "segment", "text", "coder", "code",
                                                "phase", "valence"])
        writer.writeheader()
        writer.writerows(rows.values())
    return path


def test_a_csv_column_named_by_the_dimension(project: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = _csv(project, tmp_path / "coded.csv", str.upper)  # spellings are normalised
    held = _json(project, "--dimension", "phase", "--metric", "kappa,alpha")
    mapped = _json(project, str(path), "--label-column", "phase", "--metric", "kappa,alpha")
    assert mapped["dimensions"]["phase"] == held["dimensions"]["phase"]
    everything = _json(project, str(path), "--metric", "alpha")
    assert set(everything["dimensions"]) == {"phase", "valence"}
    monkeypatch.chdir(tmp_path)  # a CSV without a project: the column as written
    alone = CliRunner().invoke(cli, ["agreement", str(_csv(project, tmp_path / "b.csv")),
                                     "--label-column", "phase", "--metric", "kappa",
                                     "--format", "json", *FAST])
    assert alone.exit_code == 0, alone.output
    ann, bob = _stored(project, "phase")
    value = json.loads(alone.stdout)["dimensions"]["phase"]["kappa"]["value"]
    assert value == pytest.approx(cohen_kappa_score(ann, bob), abs=1e-12)
    missing = CliRunner().invoke(cli, ["agreement", str(path), "--label-column", "mood"])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert "has no column 'mood'" in missing.stderr


def test_an_unknown_value_in_the_csv_names_line_dimension_and_values(
        project: Path, tmp_path: Path) -> None:
    path = _csv(project, tmp_path / "bad.csv", lambda v: "latish" if v == "late" else v)
    result = _run(project, str(path))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "has phase 'latish' (did you mean 'late'?)" in result.output
    assert "early, middle, late" in result.output and "Line " in result.output
