"""`isp-nlp agreement --level` on one variable (single-label codings) vs per-code presence."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli

#: Krippendorff (2011), reliability data: 4 coders x 12 units, '.' = missing.
KRIPPENDORFF = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
FIELDS = ["document", "segment", "text", "coder", "code", "stage"]


def _matrix() -> np.ndarray:
    return np.array([[np.nan if v == "." else float(v) for v in row.split()]
                     for row in KRIPPENDORFF.values()])


def _write(path: Path, matrix: np.ndarray, coders: list[str]) -> Path:
    """One row per (unit, coder) with a value; no stage column is filled."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for coder, row in zip(coders, matrix, strict=True):
            for unit, value in enumerate(row, 1):
                if not np.isnan(value):
                    writer.writerow({"document": "d", "segment": str(unit), "text": "",
                                     "coder": coder, "code": str(int(value)), "stage": ""})
    return path


def _run(*args: str) -> tuple[dict, str]:
    result = CliRunner().invoke(cli, ["agreement", *args, "--format", "json",
                                      "--resamples", "50", "--seed", "1"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


@pytest.mark.parametrize("level", list(PUBLISHED))
def test_krippendorff_2011_levels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  level: str) -> None:
    monkeypatch.chdir(tmp_path)  # no project here
    path = _write(tmp_path / "k.csv", _matrix(), list(KRIPPENDORFF))
    data, err = _run(str(path), "--metric", "alpha", "--level", level)
    value = data["code"]["alpha"]["value"]
    assert round(value, 3) == PUBLISHED[level]
    assert value == pytest.approx(
        krippendorff.alpha(reliability_data=_matrix(), level_of_measurement=level))
    assert data["settings"]["single_label"] is True and data["settings"]["level"] == level
    assert f"agreement on that one variable ({level} level)" in err
    assert "stage" not in data["dimensions"]  # nobody coded a stage: no stage row


def test_krippendorff_2011_ac1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "k.csv", _matrix(), list(KRIPPENDORFF))
    data, _ = _run(str(path), "--metric", "ac1")
    assert round(data["code"]["ac1"]["value"], 4) == 0.7754


def test_ratings_1_to_5_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 6, size=60)
    matrix = np.clip(truth + rng.integers(-1, 2, size=(3, 60)), 1, 5).astype(float)
    path = _write(tmp_path / "r.csv", matrix, ["r1", "r2", "r3"])
    data, _ = _run(str(path), "--metric", "alpha", "--level", "interval")
    assert data["code"]["alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval"))
    # --single-label gives the same on data that is single-valued anyway.
    forced, _ = _run(str(path), "--metric", "alpha", "--level", "interval", "--single-label")
    assert forced["code"]["alpha"]["value"] == data["code"]["alpha"]["value"]


def test_interval_on_multi_label_is_refused(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "multi.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for unit in range(1, 6):
            for coder in ("A", "B"):
                for code in ("1", "2"):
                    writer.writerow({"document": "d", "segment": str(unit), "text": "",
                                     "coder": coder, "code": code, "stage": ""})
    result = CliRunner().invoke(cli, ["agreement", str(path), "--level", "interval"])
    assert result.exit_code == 2
    assert "--level interval applies to one variable whose values are numbers" in result.stderr
    assert "--single-label" in result.stderr and result.stderr.count("\n") == 1
    forced = CliRunner().invoke(cli, ["agreement", str(path), "--single-label"])
    assert forced.exit_code == 2 and "codes, but --single-label needs one value" in forced.stderr
    nominal, _ = _run(str(path), "--metric", "alpha")
    assert set(nominal["codes"]) == {"1", "2"} and "stage" not in nominal["dimensions"]
    assert nominal["settings"]["single_label"] is False


def test_text_codes_at_interval_are_refused(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "text.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for unit in range(1, 6):
            for coder in ("A", "B"):
                writer.writerow({"document": "d", "segment": str(unit), "text": "",
                                 "coder": coder, "code": "low" if unit % 2 else "high",
                                 "stage": "push"})
    result = CliRunner().invoke(cli, ["agreement", str(path), "--level", "interval"])
    assert result.exit_code == 2 and "is not one" in result.stderr
    data, _ = _run(str(path), "--metric", "alpha")
    assert data["code"]["alpha"]["value"] == pytest.approx(1.0)
    assert "stage" in data["dimensions"]  # the stage was coded, so it has its row


def test_mean_pairwise_kappa_is_over_units_both_coded(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pair's Cohen's kappa on the units both coded (sklearn), averaged with equal
    weight over the pairs where it is defined; the table says over how many."""
    from sklearn.metrics import cohen_kappa_score

    monkeypatch.chdir(tmp_path)
    # E codes only unit 11, which A and B left out and C, D coded 1: E's pairs are undefined
    e = np.full(12, np.nan)
    e[10] = 1.0
    matrix = np.vstack([_matrix(), e])
    coders = [*KRIPPENDORFF, "E"]
    path = _write(tmp_path / "k.csv", matrix, coders)
    data, _ = _run(str(path), "--metric", "kappa")
    kappas = []
    for i in range(4):
        for j in range(i + 1, 4):
            both = ~np.isnan(matrix[i]) & ~np.isnan(matrix[j])
            kappas.append(cohen_kappa_score(matrix[i, both], matrix[j, both]))
    assert data["code"]["kappa"]["value"] == pytest.approx(np.mean(kappas), abs=1e-12)
    undefined = [p for p in data["pairs"] if p["kappa"]["value"] is None]
    assert len(data["pairs"]) == 10 and {"E"} == {p["coder_b"] for p in undefined}
    table = CliRunner().invoke(cli, ["agreement", str(path), "--metric", "kappa",
                                     "--resamples", "50", "--seed", "1"])
    text = " ".join(" ".join(line.split()) for line in table.stdout.splitlines())
    value = f"{data['code']['kappa']['value']:.3f}"
    assert f"{value} [" in text and "mean pairwise Cohen's kappa over 6 of 10 coder pairs" in text
    assert "Single-variable mode (detected: each coder gives each unit exactly one code)" in text


def test_weighted_labels_name_their_weights(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "k.csv", _matrix(), list(KRIPPENDORFF))
    table = CliRunner().invoke(cli, ["agreement", str(path), "--level", "ordinal",
                                     "--single-label", "--detail", "--resamples", "50",
                                     "--seed", "1"])
    assert table.exit_code == 0, table.output
    text = " ".join(" ".join(line.split()) for line in table.stdout.splitlines())
    assert text.startswith("Single-variable mode (--single-label): agreement on that one "
                           "variable (ordinal level).")
    assert "code: one ordinal variable, 5 categories (1, 2, 3, 4, 5)" in text
    assert "0.815 [" in text and "Krippendorff's alpha (ordinal)" in text
    assert "mean pairwise Cohen's kappa over 6 coder pairs, linear weights" in text
    assert "Fleiss' kappa, linear weights" in text
