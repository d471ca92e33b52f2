"""A model trained on one machine is the model every coder's machine suggests with: on
PostgreSQL the bundle lives in the database, so a second project folder pointing at the
same database (another machine, an empty cache) suggests, reviews and reports with it;
on SQLite the bundle stays under the project folder's models/ as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.store.folder import open_project
from isp_nlp.store.postgres import POINTER_NAME, read_pointer, write_pointer
from tests.builders.coded_projects import coded_project


def _run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--project", str(project), *args])
    assert result.exit_code == 0, f"{args}: {result.output}"
    assert "Traceback" not in result.output
    return result


def _machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """Act as machine ``name``: its own, empty cache folder."""
    monkeypatch.delenv("ISP_NLP_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / name))
    return tmp_path / name / "isp-nlp"


def test_every_machine_suggests_with_the_model_trained_on_one(
        store_backend: str, database_url: str | None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = _machine(tmp_path, monkeypatch, "trainer")
    project, _, _ = coded_project(tmp_path, leave_out="site2", database=database_url)
    _run(project, "train")
    with open_project(project) as store:
        model_id = store.latest_model()["id"]
    if database_url is None:
        assert (project / "models" / model_id / "weights.npz").is_file()
        assert not trainer.exists()
        elsewhere = project
    else:
        assert not (project / "models").exists()
        assert (next(trainer.glob(f"*/models/{model_id}")) / "weights.npz").is_file()
        elsewhere = tmp_path / "coder" / "project"
        elsewhere.mkdir(parents=True)
        write_pointer(elsewhere / POINTER_NAME, read_pointer(project / POINTER_NAME))
    coder = _machine(tmp_path, monkeypatch, "coder")
    _run(elsewhere, "suggest")
    with open_project(elsewhere) as store:
        assert store.suggested_segments(model_id)
    who = ("--coder", "zoe") if database_url is None else ()  # PostgreSQL: the login
    _run(elsewhere, "review", *who, "--script", "a,r,s,a,q")
    status = json.loads(_run(elsewhere, "status", "--format", "json").output)
    assert status["model"] == model_id
    if database_url is None:
        assert not coder.exists()
    else:
        cached = next(coder.glob(f"*/models/{model_id}"))
        assert {p.name for p in cached.iterdir()} >= {"manifest.json", "weights.npz"}
        (cached / "weights.npz").write_bytes(b"damaged")  # the next command notices
        _run(elsewhere, "suggest")
        assert (cached / "weights.npz").read_bytes()[:2] == b"PK"
