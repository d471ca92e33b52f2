"""`isp-nlp agreement FILE.csv` on the real AnnoMI codes reproduces the human–human
agreement the shared README states for the 10-annotator transcripts, and labels it as
exactly what it is (sklearn and the `krippendorff` package are the oracles)."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from isp_nlp.cli import cli
from tests.builders.paths import require_shared

#: What ../shared/README.md states: (speaker, column) → (utterances, kappa, alpha, labels).
STATED = {
    "main_therapist_behaviour": ("therapist", 216, 0.737, 0.737,
                                 ["other", "question", "reflection", "therapist_input"]),
    "client_talk_type": ("client", 212, 0.470, 0.467, ["change", "neutral", "sustain"]),
}
TEN_CODER_TRANSCRIPTS = ["7", "27", "55", "56", "66", "109", "130"]


@pytest.fixture(scope="module")
def annomi() -> list[dict[str, str]]:
    path = require_shared("data", "annomi", "AnnoMI-full.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _coded_csv(rows: list[dict[str, str]], column: str, out: Path) -> dict[str, dict]:
    """Write one row per (utterance, annotator) of the transcripts every annotator coded,
    for ``column`` (speaker's utterances, 'n/a' left out); return utterance → coder → value."""
    annotators: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        annotators[r["transcript_id"]].add(r["annotator_id"])
    everyone = len(set().union(*annotators.values()))
    ten = sorted((t for t, a in annotators.items() if len(a) == everyone), key=int)
    assert everyone == 10 and ten == TEN_CODER_TRANSCRIPTS  # as the README says
    speaker = STATED[column][0]
    values: dict[str, dict[str, str]] = defaultdict(dict)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["document", "segment", "text", "coder", "code"])
        for r in rows:
            if r["transcript_id"] in ten and r["interlocutor"] == speaker \
                    and r[column] not in ("", "n/a"):
                coder = f"annotator_{r['annotator_id']}"
                unit = f"annomi_{r['transcript_id']}#{r['utterance_id']}"
                assert coder not in values[unit]  # one value per (utterance, annotator)
                values[unit][coder] = r[column]
                writer.writerow([f"annomi_{r['transcript_id']}", r["utterance_id"], "", coder,
                                 r[column]])
    return values


def _oracle(values: dict[str, dict[str, str]], labels: list[str]) -> tuple[float, float, int]:
    """Mean over coder pairs of sklearn's Cohen's kappa on the units both coded,
    Krippendorff's alpha (nominal) and the number of pairs."""
    coders = sorted({c for v in values.values() for c in v})
    kappas = []
    for a, b in combinations(coders, 2):
        both = [v for v in values.values() if a in v and b in v]
        kappas.append(cohen_kappa_score([v[a] for v in both], [v[b] for v in both]))
    index = {lab: i for i, lab in enumerate(labels)}
    data = np.array([[index[v[c]] if c in v else np.nan for v in values.values()]
                     for c in coders])
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    return float(np.mean(kappas)), float(alpha), len(kappas)


@pytest.mark.parametrize("column", list(STATED))
def test_agreement_reproduces_the_stated_annomi_kappa(annomi, tmp_path: Path,
                                                      column: str) -> None:
    _, n_units, kappa, alpha, labels = STATED[column]
    path = tmp_path / f"{column}.csv"
    values = _coded_csv(annomi, column, path)
    assert len(values) == n_units and all(len(v) == 10 for v in values.values())
    base = ["--project", str(tmp_path / "no-project"), "agreement", str(path),
            "--resamples", "50", "--seed", "1"]

    result = CliRunner().invoke(cli, [*base, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "Single-variable mode (detected: each coder gives each unit exactly one code)" \
        in result.stderr
    data = json.loads(result.stdout)
    assert data["settings"]["single_label"] is True and data["settings"]["categories"] == labels
    est = data["code"]
    assert round(est["kappa"]["value"], 3) == kappa and est["kappa"]["n_units"] == n_units
    assert round(est["alpha"]["value"], 3) == alpha and est["alpha"]["n_units"] == n_units
    mean_kappa, oracle_alpha, n_pairs = _oracle(values, labels)
    assert n_pairs == 45
    assert est["kappa"]["value"] == pytest.approx(mean_kappa, abs=1e-12)
    assert est["alpha"]["value"] == pytest.approx(oracle_alpha, abs=1e-12)
    pairs = [p["kappa"]["value"] for p in data["pairs"] if p["target"] == "code"]
    assert len(pairs) == 45 and est["kappa"]["value"] == pytest.approx(np.mean(pairs))

    table = CliRunner().invoke(cli, base)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = " ".join(" ".join(line.split()) for line in lines)
    assert text.startswith("Single-variable mode (detected: each coder gives each unit "
                           "exactly one code): agreement on that one variable (nominal level).")
    assert "Human-human reliability: 10 coders (annotator_0," in text
    assert (f"code: one nominal variable, {len(labels)} categories ({', '.join(labels)})"
            in text)
    # each number beside its exact name (the label may wrap onto the next line)
    assert re.search(rf"{kappa:.3f} \[[-0-9.]+, [-0-9.]+\] {n_units} mean pairwise "
                     r"Cohen's kappa over 45 coder pairs ", text), text
    assert re.search(rf"{alpha:.3f} \[[-0-9.]+, [-0-9.]+\] {n_units} Krippendorff's "
                     r"alpha ", text), text
    assert "Model" not in text  # no project, no model
