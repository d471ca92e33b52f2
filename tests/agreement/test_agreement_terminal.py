"""`isp-nlp agreement` at an 80-column terminal: the default table is one row per target,
statistic and population ("humans" apart from "humans + model", never one "all" row),
targets left out are one line each reason, and --detail gives each code and coder pair;
JSON and CSV name each estimate's population. On a small project with two human coders
(ben gave no stage) and a trained model, and on a real NVivo export given a second coder.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.cli.agreement import _wrap, skipped_line
from isp_nlp.pipeline import train_project
from isp_nlp.store.folder import open_project
from tests.builders.coded_projects import seeded_project
from tests.builders.paths import require_shared
from tests.builders.tables import cli_ok

FAST = ("--resamples", "50", "--seed", "1")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ana and ben code every turn, only ana gives stages; a model trained on them."""
    root = tmp_path_factory.mktemp("terminal")
    folder = seeded_project(root, lambda rows: [{**r, "stage": ""} if r["coder"] == "ben"
                                                else r for r in rows])
    with open_project(folder) as store:
        train_project(store)
    return folder


def _run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--project", str(project), "agreement", *args, *FAST])
    assert result.exit_code == 0, result.output
    return result


def _flat(text: str) -> str:
    return " ".join(text.split())


def _row(est: dict) -> str:
    return (f"{est['value']:.3f} [{est['ci_low']:.3f}, {est['ci_high']:.3f}] "
            f"{est['n_units']}")


def test_the_default_table_fits_80_columns_with_humans_and_model_apart(project: Path) -> None:
    out = _run(project).stdout
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80 and len(lines) <= 40, out
    flat = _flat(out)
    everyone = json.loads(_run(project, "--format", "json").stdout)
    humans = json.loads(_run(project, "--format", "json", "--no-model").stdout)
    pooled, alone = everyone["overall"], humans["overall"]
    assert pooled["alpha"]["population"] == "humans+model"
    assert alone["alpha"]["population"] == "humans"
    # one row per statistic and population, each labelled in its first column
    assert f"humans {_row(alone['alpha'])} Krippendorff's alpha" in flat
    assert f"humans + model {_row(pooled['alpha'])} Krippendorff's alpha" in flat
    assert f"humans {_row(alone['kappa'])} Cohen's kappa" in flat
    assert (f"humans + model {_row(pooled['kappa'])} mean pairwise Cohen's kappa over 3 "
            "coder pairs") in flat
    assert f"humans {_row(alone['percent'])} percent agreement" in flat
    rows = [ln for ln in lines if ln[:1].isalpha() and " [" in ln]
    assert rows and {ln.split("  ")[0] for ln in rows} == {"humans", "humans + model"}
    assert not any(ln.lower().startswith("all ") and " [" in ln for ln in lines)
    # ben gave no stage: the humans' stage is one line, the humans + model rows stay
    said = [ln for ln in lines if "fewer than 2 coders" in ln]
    assert said == ["stage: not computed for humans, fewer than 2 coders."]
    assert f"humans + model {_row(everyone['dimensions']['stage']['alpha'])}" in flat
    # the codes one by one, the pairs and the other statistics are left to --detail
    assert "code training" not in flat and "ana vs ben" not in flat
    assert "Scott's pi" not in flat.split("--detail adds")[0]
    assert "--detail adds each code (4 codes), each human coder pair, the model vs each coder" \
        in flat


def test_detail_gives_each_code_and_coder_pair_in_80_columns(project: Path) -> None:
    out = _run(project, "--detail").stdout
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    flat = _flat(out)
    data = json.loads(_run(project, "--format", "json").stdout)
    for code in ("training", "coaching", "barriers"):
        assert f"code {code}: presence (0/1) per segment" in flat
        pair = next(p for p in data["pairs"] if p["target"] == code
                    and (p["coder_a"], p["coder_b"]) == ("ben", "model"))
        assert (f"ben vs model {pair['percent']['value']:.3f} "
                f"{pair['kappa']['value']:.3f}") in flat.split(f"code {code}:")[-1]
    assert "Human coder pairs: pair percent kappa kappa CI pi units code training: ana vs " \
        "ben" in flat
    # labels wrapped between whole words only: each reads whole once the lines are joined
    for label in ("mean pairwise Scott's pi over 3 coder pairs",
                  "Krippendorff's alpha, Jaccard distance on code sets",
                  "pairwise percent agreement, pooled over units"):
        assert label in flat
    assert flat.count("fewer than 2 coders") == 1


def test_json_and_csv_name_who_each_estimate_covers(project: Path) -> None:
    data = json.loads(_run(project, "--format", "json").stdout)
    estimates = [e for metrics in (*data["dimensions"].values(), *data["codes"].values(),
                                   data["overall"]) for e in metrics.values()]
    assert {e["population"] for e in estimates} == {"humans+model"}
    assert {(p["kind"], p["population"]) for p in data["pairs"]} == {
        ("human–human", "humans"), ("model–human", "humans+model")}
    rows = list(csv.DictReader(_run(project, "--format", "csv").stdout.splitlines()))
    assert {(r["coder_a"] == "ana" and r["coder_b"] == "ben", r["population"])
            for r in rows if r["coder_a"]} == {(True, "humans"), (False, "humans+model")}
    alone = json.loads(_run(project, "--format", "json", "--no-model").stdout)
    assert {e["population"] for m in alone["codes"].values() for e in m.values()} == {
        "humans"}


def test_detail_is_for_the_table(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--project", str(project), "agreement", "--detail",
                                      "--format", "json"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: --detail applies to the table; --format json always holds every row, so "
        "drop --detail."]


def test_left_out_targets_are_one_line_and_words_are_never_broken() -> None:
    codes = [f"code_{i}" for i in range(118)]
    line = skipped_line(codes, codes=True, reason="fewer than 2 coders")
    assert line == ["118 codes (code_0, code_1, and 116 more): not computed, fewer than 2 "
                    "coders."]
    assert skipped_line(["funding"], codes=True, reason="every coding is label 0",
                        perfect=True) == [
        "1 code (funding): never applied, so each statistic is 1.000 or undefined."]
    long = skipped_line(["x" * 90], codes=True, reason="fewer than 2 coders",
                        who="humans + model")
    assert len(long) == 1  # the count and the reason, without the name that cannot fit
    word = "w" * 95
    assert _wrap(f"a {word} b") == ["a", word, "b"]


# --------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_a_real_nvivo_export_gives_a_short_table(tmp_path: Path) -> None:
    """The NVivo 12.7 export (one coder, 124 codes in its codebook) with a second coder who
    changed some codes: the default table stays within 80 columns and 40 lines, and
    --detail within 80 columns, the codes nobody applied on one line."""
    source = require_shared("refi-qda", "nvivo-mac-12.7-export.qdpx")
    project = tmp_path / "nvivo"
    cli_ok("import", source, "--init", project, "--embedder", "hashing-256")
    alone = _run(project).stdout
    assert max(map(len, alone.splitlines())) <= 80 and len(alone.splitlines()) <= 40
    assert "Human-human reliability: none, one human coder" in alone
    export = tmp_path / "codes.csv"
    cli_ok("--project", project, "export-codes", export)
    with export.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = sorted({r["code"] for r in rows if r["code"]})
    rng = random.Random(4)
    second = [{**r, "coder": "dora", "provenance": "",
               "code": rng.choice(codes) if r["code"] and rng.random() < 0.15 else r["code"]}
              for r in rows]
    with (tmp_path / "dora.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(second)
    cli_ok("--project", project, "import-codes", tmp_path / "dora.csv")
    out = _run(project).stdout
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80 and len(lines) <= 40, out
    assert "Human-human reliability: 2 coders (dora, floriansipos)" in out
    assert any(ln.startswith("humans ") and "Krippendorff's alpha" in ln for ln in lines)
    never = [ln for ln in lines if "never applied" in ln]
    assert len(never) == 1 and never[0].split()[1].startswith("codes")
    detail = _run(project, "--detail").stdout
    assert max(map(len, detail.splitlines())) <= 80
    assert len(detail.splitlines()) > len(lines)
