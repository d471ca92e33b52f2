"""`isp-nlp agreement` on projects and on coded-segments CSV files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli

FAST = ("--resamples", "200", "--seed", "1")


def run(*args: str, project: Path):
    return CliRunner().invoke(cli, ["--project", str(project), "agreement", *args])


def _json(*args: str, project: Path) -> dict:
    result = run(*args, "--format", "json", *FAST, project=project)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["document", "segment", "text", "coder", "code",
                                                "stage", "start", "end"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in writer.fieldnames})
    return path


def test_project_json_structure(demo_project: Path) -> None:
    data = _json(project=demo_project)
    assert set(data) == {"settings", "dimensions", "codes", "overall", "pairs"}
    assert data["settings"]["coders"][-1] == "model"
    assert set(data["dimensions"]["stage"]) == {"percent", "kappa", "pi", "fleiss", "alpha", "ac1",
                                              "bp"}
    est = data["dimensions"]["stage"]["alpha"]
    assert set(est) == {"value", "ci_low", "ci_high", "n_units", "n_coders", "note",
                        "population"}
    assert est["ci_low"] < est["value"] < est["ci_high"] and est["n_coders"] == 3
    assert est["population"] == "humans+model"  # the model counted, and said so
    assert {"alpha_masi", "alpha_jaccard"} <= set(data["overall"])
    kinds = {p["kind"] for p in data["pairs"]}
    assert kinds == {"human–human", "model–human"}
    # Same stage alpha as the report's agreement (humans + model).
    from isp_nlp.agreement.project import project_agreement
    from isp_nlp.store.folder import open_project

    with open_project(demo_project) as store:
        alphas = project_agreement(store).alphas
    row = alphas[(alphas["target"] == "stage") & (alphas["coders"] == "humans+model")].iloc[0]
    assert est["value"] == pytest.approx(row["alpha"])


def test_project_options_filter(demo_project: Path) -> None:
    data = _json("--no-model", "--metric", "alpha,ac1", "--label-column", "stage",
                 project=demo_project)
    assert data["settings"]["coders"] == ["ana", "ben"]
    assert set(data["dimensions"]["stage"]) == {"alpha", "ac1"} and data["codes"] == {}
    assert data["pairs"] == []  # no pair metric requested
    docs = _json("--by", "document", "--coders", "ana,model", "--metric", "kappa",
                 project=demo_project)
    assert docs["settings"]["by"] == "document"
    assert [(p["coder_a"], p["coder_b"]) for p in docs["pairs"]][0] == ("ana", "model")
    assert docs["dimensions"]["stage"]["kappa"]["n_coders"] == 2
    ordinal = _json("--label-column", "stage", "--level", "ordinal", "--metric", "alpha",
                    project=demo_project)
    assert "'none' left out" in ordinal["dimensions"]["stage"]["alpha"]["note"]


def test_table_and_csv_output(demo_project: Path) -> None:
    table = run("--metric", "kappa", "--detail", *FAST, project=demo_project)
    assert table.exit_code == 0 and "95% CI" in table.output and "ana vs ben" in table.output
    out = run("--format", "csv", "--metric", "ac1", "--ci", "0.9", *FAST, project=demo_project)
    header = out.output.splitlines()[0]
    assert header == ("target,metric,coder_a,coder_b,value,ci_low,ci_high,n_units,n_coders,"
                      "note,population")
    # AC1 has no pair rows: every row counts the model, and says so
    assert {line.rsplit(",", 1)[1] for line in out.output.splitlines()[1:]} == {
        "humans+model"}
    assert "90% CI" in run("--metric", "ac1", "--ci", "0.9", *FAST, project=demo_project).output


def test_file_mode_without_project(tmp_path: Path) -> None:
    # Wikipedia's Cohen example as code presence: 20 both, 5 A only, 10 B only, 15 neither.
    rows = []
    pattern = [(1, 1)] * 20 + [(1, 0)] * 5 + [(0, 1)] * 10 + [(0, 0)] * 15
    for i, (a, b) in enumerate(pattern):
        doc = f"doc{i % 5}"
        rows.append({"document": doc, "segment": f"s{i}", "coder": "A", "code": "x" * a,
                     "stage": "push" if a else "exchange"})
        rows.append({"document": doc, "segment": f"s{i}", "coder": "B", "code": "x" * b,
                     "stage": "push" if b else "exchange"})
    path = _write(tmp_path / "coded.csv", rows)
    data = _json(str(path), project=tmp_path / "no-project")
    assert data["codes"]["x"]["kappa"]["value"] == pytest.approx(0.4)
    assert data["codes"]["x"]["percent"]["value"] == pytest.approx(0.7)
    assert data["dimensions"]["stage"]["kappa"]["value"] == pytest.approx(0.4)
    assert data["codes"]["x"]["kappa"]["n_units"] == 50
    by_doc = _json(str(path), "--by", "document", project=tmp_path / "no-project")
    assert by_doc["codes"]["x"]["kappa"]["value"] == pytest.approx(0.4)


def test_file_mode_units_by_offsets_and_text(tmp_path: Path) -> None:
    rows = [
        {"document": "d", "coder": "A", "code": "x", "start": "0", "end": "5"},
        {"document": "d", "coder": "B", "code": "x", "start": "0", "end": "5"},
        {"document": "d", "coder": "A", "code": "", "text": "Hello  there"},
        {"document": "d", "coder": "B", "code": "x", "text": "Hello there"},
    ]
    data = _json(_write(tmp_path / "c.csv", rows).as_posix(), project=tmp_path)
    assert data["codes"]["x"]["percent"]["n_units"] == 2
    assert data["codes"]["x"]["percent"]["value"] == pytest.approx(0.5)


def test_project_mode_with_csv_maps_spans_by_overlap(project_copy: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    assert CliRunner().invoke(cli, ["--project", str(project_copy), "export-codes",
                                    str(export)]).exit_code == 0
    with export.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = [r for r in rows if r["coder"] in ("ana", "ben")]
    shifted = []
    for i, row in enumerate(rows):
        start, end = int(row["start"]), int(row["end"])
        row = {**row, "segment": "", "text": ""}
        if i % 3 == 0:  # a little off: still covers the segment by more than half
            row["start"], row["end"] = str(start + 2), str(end + 3)
        if i == 1:  # 1 of 4 characters inside the segment, the rest between turns: dropped
            row["start"], row["end"] = str(end - 1), str(end + 3)
        shifted.append(row)
    path = _write(tmp_path / "shifted.csv", shifted)
    result = run(str(path), "--format", "json", *FAST, project=project_copy)
    assert result.exit_code == 0, result.output
    assert "by span overlap (>= 50 %), 1 dropped" in result.stderr
    assert f"{(len(rows) + 2) // 3} by span overlap" in result.stderr
    assert "overlaps no segment by 50% or more (best 25%)" in result.stderr
    data = json.loads(result.stdout)
    assert data["settings"]["coders"] == ["ana", "ben", "model"]
    pair = next(p for p in data["pairs"] if p["target"] == "stage"
                and (p["coder_a"], p["coder_b"]) == ("ana", "ben"))
    assert pair["kappa"]["n_units"] >= 150


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--metric", "cohen"), "--metric 'cohen' is not known"),
        (("--ci", "95"), "--ci is 95.0; expected a level between 0 and 1"),
        (("--coders", "zed"), "--coders names 'zed', who has no codings here"),
        (("--label-column", "stage", "--level", "interval"), "Stage labels are text"),
        (("missing.csv",), "missing.csv"),
    ],
)
def test_errors_are_one_line_exit_2(demo_project: Path, args: tuple, message: str) -> None:
    result = run(*args, project=demo_project)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_csv_without_units_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", [{"document": "d", "coder": "A", "code": "x"}])
    result = run(str(path), project=tmp_path)
    assert result.exit_code == 2
    assert "Line 2 of the coded CSV has no segment id, offsets or text" in result.stderr


def test_project_mode_matches_the_report(demo_project: Path) -> None:
    from isp_nlp.agreement.project import project_agreement
    from isp_nlp.store.folder import open_project

    with open_project(demo_project) as store:
        report = project_agreement(store, n_resamples=200, seed=1)  # the FAST settings
    everyone = _json(project=demo_project)
    humans = _json("--no-model", project=demo_project)
    assert report.settings["coders"] == humans["settings"]["coders"] == ["ana", "ben"]
    for metric in ("percent", "kappa", "fleiss", "alpha", "ac1"):
        assert (report.estimates("humans+model", "stage")[metric]
                == everyone["dimensions"]["stage"][metric])
        assert report.estimates("humans", "overall")[metric] == humans["overall"][metric]
    code = next(iter(everyone["codes"]))
    assert report.estimates("humans", code) == {
        m: e for m, e in humans["codes"][code].items() if m in report.settings["metrics"]}
    pairs = {(p["target"], p["coder_a"], p["coder_b"]): p["kappa"] for p in everyone["pairs"]}
    for row in report.pairs.itertuples():
        assert row.kappa == pytest.approx(pairs[(row.target, row.coder_a, row.coder_b)]["value"])
        assert row.ci_low == pytest.approx(pairs[(row.target, row.coder_a, row.coder_b)]["ci_low"])


def test_a_large_agreement_shows_a_progress_bar(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"document": "d", "segment": f"s{i}", "coder": c, "code": "x" * (i % 2),
             "stage": "push"} for i in range(20) for c in ("A", "B")]
    path = _write(tmp_path / "coded.csv", rows)
    quiet = run(str(path), "--resamples", "10", project=tmp_path / "none")
    assert quiet.exit_code == 0 and "Agreement" not in quiet.stderr
    import importlib  # the package's `agreement` attribute is the command, not the module

    monkeypatch.setattr(importlib.import_module("isp_nlp.cli.agreement"), "LARGE", 0)
    shown = run(str(path), "--resamples", "10", project=tmp_path / "none")
    assert shown.exit_code == 0 and "Agreement" in shown.stderr  # the bar (a label off a tty)
    assert shown.stdout == quiet.stdout
