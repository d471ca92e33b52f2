"""CSV injection: every CSV export neutralises formula cells, and our readers undo it."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.coded.read import read_coded_csv, write_coded_csv
from isp_nlp.coded.safe_csv import TRIGGERS, neutralise_cell, neutralise_frame, restore_cell
from tests.builders.paths import CORPUS, PACKAGE

TEXTS = ("=SUM(A1) how did it start?", "+1 for the webinars.", "- a bullet we sent out",
         "@admin said so.")
TRANSCRIPT = "".join(f"{'Interviewer' if i % 2 == 0 else 'P01'}: {t}\n\n"
                     for i, t in enumerate(TEXTS))
CODED = (
    "document,segment,text,coder,code,stage\n"
    f"t,,{TEXTS[0]},ana,didactic_training,push\n"
    f"t,,{TEXTS[1]},ana,technical_assistance,push_pull\n"
    f"t,,{TEXTS[2]},ana,,exchange\n"
    f"t,,{TEXTS[3]},ana,didactic_training,push\n"
    f"t,,{TEXTS[0]},@bob,didactic_training,exchange\n"
    f"t,,{TEXTS[1]},@bob,didactic_training,push_pull\n"
    f"t,,{TEXTS[2]},@bob,technical_assistance,exchange\n"
    f"t,,{TEXTS[3]},@bob,didactic_training,push\n"
)


def run(*args: str, project: Path | None = None):
    argv = (["--project", str(project)] if project else []) + list(args)
    return CliRunner().invoke(cli, argv)


def _project(root: Path, coded: str | None = CODED) -> Path:
    project = root / "proj"
    transcript = root / "t.txt"
    transcript.write_text(TRANSCRIPT, encoding="utf-8")
    assert run("init", str(project), "--embedder", "hashing-256").exit_code == 0
    assert run("codebook", "load", str(CORPUS / "codebook.yaml"), project=project).exit_code == 0
    assert run("ingest", str(transcript), project=project).exit_code == 0
    if coded is not None:
        (root / "coded.csv").write_text(coded, encoding="utf-8")
        r = run("import-codes", str(root / "coded.csv"), project=project)
        assert r.exit_code == 0, r.output
    return project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _project(tmp_path)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# --------------------------------------------------------------------------- the cell rule


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_text_beginning_with_a_trigger_gets_an_apostrophe_and_comes_back(trigger: str) -> None:
    text = f"{trigger}HYPERLINK(\"http://x\")"
    assert neutralise_cell(text) == "'" + text
    assert restore_cell(neutralise_cell(text)) == text


@pytest.mark.parametrize("value", [-0.12, -3, 0, 1.5, None, True])
def test_numbers_and_missing_values_are_left_alone(value: object) -> None:
    assert neutralise_cell(value) is value


def test_nan_stays_nan() -> None:
    assert math.isnan(neutralise_cell(float("nan")))


@pytest.mark.parametrize("text", ["", "'", "plain", "'plain", "a=b", "''=x", " =x"])
def test_other_cells_are_unchanged_both_ways(text: str) -> None:
    assert neutralise_cell(text) == text
    assert restore_cell(text) == text


def test_a_frame_keeps_numeric_columns_numeric() -> None:
    frame = pd.DataFrame({"=who": ["=a", "b", None], "value": [-0.12, 0.5, float("nan")],
                          "n": [-1, 2, 3]})
    out = neutralise_frame(frame)
    assert list(out.columns) == ["'=who", "value", "n"]
    assert out["'=who"].tolist()[:2] == ["'=a", "b"] and out["'=who"].isna().tolist()[2]
    assert out["value"].dtype == frame["value"].dtype and out["value"].iloc[0] == -0.12
    assert out["n"].tolist() == [-1, 2, 3]
    assert frame["=who"].tolist()[0] == "=a"  # the input is not changed


def test_the_coded_csv_writer_round_trips_tab_and_carriage_return(tmp_path: Path) -> None:
    texts = [f"{t}x, y" for t in TRIGGERS]
    frame = pd.DataFrame({"document": "d", "segment": "", "text": texts, "coder": "ana",
                          "code": "c", "stage": "", "speaker": "", "start": None, "end": None})
    path = write_coded_csv(frame, tmp_path / "c.csv")
    raw = path.read_bytes()
    for t in TRIGGERS:
        assert b"'" + t.encode() + b"x, y" in raw
    # the reader strips cells, so compare without surrounding whitespace
    assert [r.text for r in read_coded_csv(path)] == [t.strip() for t in texts]


def test_every_csv_writer_goes_through_safe_csv() -> None:
    offenders = [f"{p.relative_to(PACKAGE.parent)}:{n}"
                 for p in sorted(PACKAGE.rglob("*.py")) if p.name != "safe_csv.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\.to_csv\(|csv\.writer|csv\.DictWriter|to_excel\(", line)]
    assert offenders == [], "write CSV with isp_nlp.coded.safe_csv: " + ", ".join(offenders)


# --------------------------------------------------------------------------- the commands


def test_export_codes_escapes_and_import_codes_round_trips(project: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    r = run("export-codes", str(out), project=project)
    assert r.exit_code == 0, r.output
    raw = out.read_bytes()
    for text in TEXTS:
        assert b",'" + text.encode() + b"," in raw
    assert b",'@bob," in raw and b",ana," in raw
    rows = _rows(raw.decode("utf-8"))
    assert all(re.fullmatch(r"\d+", row["start"]) and re.fullmatch(r"\d+", row["end"])
               for row in rows)

    again = tmp_path / "again"
    again.mkdir()
    other = _project(again, coded=None)
    r = run("import-codes", str(out), project=other)
    assert r.exit_code == 0, r.output
    assert "@bob" in r.output and "'@bob" not in r.output
    back = tmp_path / "back.csv"
    assert run("export-codes", str(back), project=other).exit_code == 0
    assert back.read_bytes() == raw
    assert sorted({row.text for row in read_coded_csv(back)}) == sorted(TEXTS)


def test_agreement_reads_an_exported_csv_back(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert run("export-codes", str(out), project=project).exit_code == 0
    r = run("agreement", str(out), "--format", "json", "--resamples", "20",
            project=tmp_path / "nowhere")
    assert r.exit_code == 0, r.output
    pairs = json.loads(r.stdout)["pairs"]
    assert {p["coder_a"] for p in pairs} | {p["coder_b"] for p in pairs} == {"@bob", "ana"}


def test_agreement_csv_escapes_names_but_not_numbers(project: Path) -> None:
    r = run("agreement", "--format", "csv", "--no-model", "--resamples", "50",
            project=project)
    assert r.exit_code == 0, r.output
    rows = _rows(r.stdout)
    assert {row["coder_a"] for row in rows if row["coder_a"]} == {"'@bob"}
    numbers = [row[c] for row in rows for c in ("value", "ci_low", "ci_high") if row[c]]
    assert numbers and all(float(v) == float(v) for v in numbers)  # all parse as numbers
    assert any(v.startswith("-") for v in numbers)  # negatives written as numbers
    kappa = next(row for row in rows if row["target"] == "code:technical_assistance"
                 and row["metric"] == "kappa")
    assert float(kappa["value"]) < 0 and not kappa["value"].startswith("'")


def test_disagreements_csv_and_sheet_escape_and_resolve_reads_them(project: Path,
                                                                  tmp_path: Path) -> None:
    printed = run("disagreements", "--format", "csv", project=project)
    assert printed.exit_code == 0, printed.output
    sheet = tmp_path / "sheet.csv"
    r = run("disagreements", "--out", str(sheet), project=project)
    assert r.exit_code == 0, r.output
    raw = sheet.read_bytes().decode("utf-8")
    assert raw == printed.stdout
    header = raw.splitlines()[0]
    assert "'@bob_codes" in header and "'@bob_stage" in header
    rows = _rows(raw)
    assert {row["text"] for row in rows} >= {"'" + TEXTS[0], "'" + TEXTS[2]}
    assert all(re.fullmatch(r"\d+", row["index"]) for row in rows)
    bullet = next(row for row in rows if row["text"] == "'" + TEXTS[2])
    assert bullet["ana_codes"] == "'-"  # "no code" is neutralised too
    # copying a coder's cell into the consensus keeps its meaning: "'-" is "no code"
    bullet["consensus_codes"] = bullet["ana_codes"]
    bullet["consensus_stage"] = "exchange"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    sheet.write_text(buffer.getvalue(), encoding="utf-8")
    r = run("resolve", str(sheet), project=project)
    assert r.exit_code == 0, r.output
    after = json.loads(run("disagreements", "--format", "json", project=project).output)
    resolved = next(d for d in after if d["text"] == TEXTS[2])
    assert resolved["consensus"] == {"codes": [], "stage": "exchange"}
