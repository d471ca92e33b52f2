"""A parent code coders applied themselves (as NVivo, ATLAS.ti and qc allow) is a code in
its own right: train learns it, suggest can propose it, agreement reports it, export
writes it under its place in the hierarchy (hashing embedder, no shared data)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from isp_nlp.cli import cli
from isp_nlp.pipeline import suggest_project, train_project
from isp_nlp.store.folder import open_project
from tests.builders.coded_projects import seeded_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both coders code every 'coaching' turn at the parent, 'strategies', instead."""

    def at_parent(rows: list[dict]) -> list[dict]:
        return [{**r, "code": "strategies"} if r["code"] == "coaching" else r for r in rows]

    return seeded_project(tmp_path_factory.mktemp("parent"), at_parent)


def test_train_suggest_agreement_and_export_keep_the_parent(project: Path,
                                                            tmp_path: Path) -> None:
    with open_project(project) as store:
        trained = train_project(store, folds=3)
        assert "strategies" in trained["code_labels"]  # coded at the parent: learnt
        assert "coaching" in trained["code_labels"]    # a leaf nobody applied: zero-shot
        assert "strategies" not in trained["zero_shot_codes"]
        suggest_project(store)
        # every turn is coded, so look at the out-of-fold suggestions on them
        oof = [s for s in store.out_of_fold(trained["model_id"])
               if s.dimension == "code" and s.label == "strategies" and s.suggested]
        assert len(oof) >= 5
    runner = CliRunner()
    result = runner.invoke(cli, ["--project", str(project), "agreement", "--format", "json",
                                 "--no-model", "--resamples", "50"])
    assert result.exit_code == 0, result.output
    assert "strategies" in json.loads(result.output)["codes"]
    out = tmp_path / "parent.qdpx"
    result = runner.invoke(cli, ["--project", str(project), "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        qde = archive.read("project.qde").decode("utf-8")
    assert qde.count('name="Strategies"') == 1 and 'name="Training"' in qde
