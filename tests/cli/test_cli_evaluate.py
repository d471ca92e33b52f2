"""`evaluate` and `next-to-code` through click: output, JSON keys, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from isp_nlp.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_evaluate_json_and_out_file(coded_csvs, tmp_path: Path) -> None:
    train, test = coded_csvs
    out = tmp_path / "proj" / "evaluation.json"
    r = run("evaluate", "--train", str(train), "--test", str(test), "--seed-per-label", "2,4",
            "--repeats", "2", "--embedder", "hashing-256", "--format", "json", "--out", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data == json.loads(out.read_text(encoding="utf-8"))
    assert data["n_test_units"] == 12
    assert set(data["human_human"]) == {"mean_pairwise_kappa", "krippendorff_alpha",
                                        "percent_agreement"}
    assert {"mean_kappa", "krippendorff_alpha_with_model", "macro_f1", "accuracy"} <= set(
        data["model_human"])
    assert [c["seed_per_label"] for c in data["learning_curve"]] == [2, 4]
    assert data["timing"]["fit_predict_seconds_per_repeat"] >= 0


def test_evaluate_table_has_verdict(coded_csvs, tmp_path: Path) -> None:
    train, test = coded_csvs
    r = run("evaluate", "--train", str(train), "--test", str(test), "--embedder", "hashing-256",
            "--cache", str(tmp_path / "cache.sqlite"))
    assert r.exit_code == 0, r.output
    assert "human-human (mean pair)" in r.output and "Verdict: model-human kappa" in r.output
    assert (tmp_path / "cache.sqlite").is_file()


def test_evaluate_folds(coded_csvs) -> None:
    r = run("evaluate", str(coded_csvs[0]), "--folds", "2", "--embedder", "hashing-256",
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["config"]["folds"] == 2


def test_evaluate_errors_are_one_line(coded_csvs, tmp_path: Path) -> None:
    train, test = coded_csvs
    base = ("--embedder", "hashing-256")
    one_line_error(run("evaluate", "--train", str(train), "--test", str(test),
                       "--seed-per-label", "99", *base), "label 'barrier' has 16")
    one_line_error(run("evaluate", "--train", str(train), "--test", str(test),
                       "--seed-per-label", "x", *base), "--seed-per-label")
    bad = tmp_path / "bad.csv"
    bad.write_text("document,text\nd,x\n", encoding="utf-8")
    r = run("evaluate", "--train", str(bad), "--test", str(test), *base)
    assert r.exit_code == 2 and "segment, coder, code" in r.output and "Traceback" not in r.output
    one_line_error(run("evaluate", "--train", str(train), *base), "--train and --test")
    one_line_error(run("evaluate", str(train), *base), "--folds")
    one_line_error(run("evaluate", str(train), "--folds", "9", *base), "between 2 and 4")
    one_line_error(run("evaluate", "--train", str(tmp_path / "nope.csv"), "--test", str(test),
                       *base), "does not exist")


def test_next_to_code(project_copy: Path) -> None:
    r = run("--project", str(project_copy), "next-to-code", "--n", "3", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert len(rows) == 3 and all(row["reason"] for row in rows)
    t = run("--project", str(project_copy), "next-to-code", "--n", "2")
    assert t.exit_code == 0 and t.output.count("score") == 2


def test_next_to_code_without_project(tmp_path: Path) -> None:
    one_line_error(run("--project", str(tmp_path / "none"), "next-to-code"), "no isp-nlp project")


def _codebook(path: Path, labels: tuple[str, ...]) -> Path:
    entries = "\n".join(f"  - id: {lab}\n    name: {lab.title()}\n    definition: \"Talk about "
                        f"{lab}.\"\n    examples:\n      - \"An example of {lab}.\""
                        for lab in labels)
    path.write_text(f"name: toy\ncodes:\n{entries}\n", encoding="utf-8")
    return path


def test_evaluate_with_a_codebook_reports_it(coded_csvs, tmp_path: Path) -> None:
    train, test = coded_csvs
    book = _codebook(tmp_path / "book.yaml", ("barrier", "plan", "support"))
    args = ("evaluate", "--train", str(train), "--test", str(test), "--seed-per-label", "2",
            "--embedder", "hashing-256")
    r = run(*args, "--codebook", str(book), "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["codebook"] == {"path": "book.yaml", "prototype_weight": 0.3}
    assert json.loads(run(*args, "--format", "json").output)["codebook"] is None
    table = run(*args, "--codebook", str(book))
    assert "codebook book.yaml: 30% of each prediction" in table.output


def test_evaluate_codebook_errors_name_the_label(coded_csvs, tmp_path: Path) -> None:
    train, test = coded_csvs
    book = _codebook(tmp_path / "book.yaml", ("barrier", "plan"))
    base = ("evaluate", "--train", str(train), "--test", str(test), "--embedder", "hashing-256",
            "--codebook", str(book))
    one_line_error(run(*base), "book.yaml has no code with the id or name support",
                   "add them to the codebook")
    one_line_error(run(*base, "--multi-label"), "book.yaml has no code with the id or name support")
    staged = run(*base, "--label-column", "stage")  # the codebook's default stage texts
    assert staged.exit_code == 0 and "codebook book.yaml" in staged.output, staged.output
