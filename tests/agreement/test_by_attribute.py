"""Agreement split by a document attribute: each value's numbers are the coefficients on
its documents alone (same options, same seed), undefined where that part has fewer than
two coders (never a number from elsewhere), and the same in the CLI, its JSON and the
report."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest

from isp_nlp.agreement.by_attribute import (
    attribute_agreement,
    attribute_rows,
    split_by_attribute,
)
from isp_nlp.agreement.project import project_attribute_agreement, project_tables
from isp_nlp.agreement.reliability import ReliabilityOptions, reliability_report
from isp_nlp.records import NO_VALUE
from isp_nlp.store.folder import open_project, require_codebook
from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.coded_projects import seeded_project

SITES = {"site0": "north", "site1": "north", "site2": "south"}
OPTIONS = ReliabilityOptions(metrics=("alpha", "kappa"), n_resamples=200, seed=0)


def _without_ben_in_site2(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not (r["coder"] == "ben" and r["document"] == "site2")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("by_attribute")
    out = seeded_project(root, _without_ben_in_site2)
    sheet = root / "attributes.csv"
    sheet.write_text("document,site\nsite0,north\nsite1,north\n", encoding="utf-8")
    assert run("attributes", str(sheet), project=out).exit_code == 0
    return out


def _inputs(project: Path):
    with open_project(project) as store:
        tables, documents = project_tables(store, include_model=False)
        dims = require_codebook(store).dimensions
        value_of = {d: v["site"] for d, v in store.attributes().items()}
    return {t: v for t, v in tables.items() if v is not None}, documents, dims, value_of


def test_split_keeps_each_values_documents_and_groups_the_rest(project: Path) -> None:
    tables, documents, _, value_of = _inputs(project)
    parts = split_by_attribute(tables, documents, value_of)
    assert list(parts) == ["north", NO_VALUE]  # site2 has no value
    for value, part in parts.items():
        wanted = {"north": {"site0", "site1"}, NO_VALUE: {"site2"}}[value]
        for target, table in part.items():
            assert {documents[s] for s in table.index} <= wanted
            whole = tables[target]
            assert len(table) == sum(documents[s] in wanted for s in whole.index)


def test_each_value_equals_the_coefficients_on_its_documents_alone(project: Path) -> None:
    tables, documents, dims, value_of = _inputs(project)
    result = attribute_agreement(tables, documents, value_of, attribute="site",
                                 options=OPTIONS, dimensions=dims)
    north = {t: v[[documents[s] in ("site0", "site1") for s in v.index]]
             for t, v in tables.items()}
    alone = reliability_report(north, options=OPTIONS, documents=documents,
                               dimensions=dims)
    assert result.reports["north"].data["dimensions"] == alone.data["dimensions"]
    assert result.reports["north"].data["overall"] == alone.data["overall"]
    assert result.documents == {"north": 2, NO_VALUE: 1}
    # Krippendorff's alpha on the stage of site0 and site1, from the oracle
    stage = north["stage"]
    codes = {v: i for i, v in enumerate(sorted({x for x in stage.stack().dropna()}))}
    data = np.array([[codes.get(x, np.nan) if isinstance(x, str) else np.nan
                      for x in stage[c]] for c in stage.columns], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    got = result.reports["north"].data["dimensions"]["stage"]["alpha"]["value"]
    assert got == pytest.approx(expected, abs=1e-9)


def test_a_value_with_one_coder_is_undefined_with_its_reason(project: Path) -> None:
    tables, documents, dims, value_of = _inputs(project)
    result = attribute_agreement(tables, documents, value_of, attribute="site",
                                 options=OPTIONS, dimensions=dims)
    rows = attribute_rows(result, ("alpha",))
    stage = next(r for r in rows if r.target == "stage")
    north, rest = stage.estimates
    assert north is not None and north["value"] is not None
    assert rest is None and "fewer than 2 coders" in stage.reasons[1]
    assert stage.reasons[0] == ""


def test_cli_table_fits_80_columns_and_says_why_a_cell_is_empty(project: Path) -> None:
    result = run("agreement", "--attribute", "SITE", "--resamples", "200", project=project)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[0].startswith("Agreement by site: Krippendorff's alpha")
    header = next(line for line in lines if "north" in line)
    assert header.split() == ["north", NO_VALUE]
    stage = next(line for line in lines if line.startswith("stage"))
    assert stage.split()[-1] == "–"
    assert any(line.startswith("– undefined, fewer than 2 coders") for line in lines)
    with open_project(project) as store:
        shown = project_attribute_agreement(store, "site", n_resamples=200)
    alpha = shown.reports["north"].data["dimensions"]["stage"]["alpha"]
    assert stage.split()[1] == f"{alpha['value']:.2f}"


def test_cli_json_and_csv_hold_every_value(project: Path) -> None:
    result = run("agreement", "--attribute", "site", "--resamples", "50", "--format", "json",
                 project=project)
    data = json.loads(result.output)
    assert data["attribute"] == "site" and list(data["values"]) == ["north", NO_VALUE]
    assert data["values"]["north"]["documents"] == 2
    assert data["values"]["north"]["humans+model"] is None  # no model trained
    csv = run("agreement", "--attribute", "site", "--resamples", "50", "--format", "csv",
              project=project).output.splitlines()
    assert csv[0].startswith("attribute,attribute_value,target,metric")
    assert {line.split(",")[1] for line in csv[1:]} == {"north", NO_VALUE}


def test_cli_refuses_an_unknown_attribute_with_the_closest_name(project: Path) -> None:
    assert_one_line_error(run("agreement", "--attribute", "sites", project=project),
                          "--attribute 'sites'", "did you mean 'site'")


def test_report_shows_agreement_by_attribute(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run("report", "--out", str(out), project=project).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "Agreement by site: Krippendorff" in html
    assert ("<li>Undefined: stage in (none), all codes pooled in (none): fewer than 2 "
            "coders.</li>") in html
