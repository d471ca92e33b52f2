"""The whole command-line loop on a project stored on PostgreSQL: init --database,
ingest, codebook, seed codes, train, suggest, a scripted review, agreement and report."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from isp_nlp.cli import cli
from isp_nlp.store.backend import POSTGRES, dialect
from isp_nlp.store.folder import open_project
from isp_nlp.store.postgres import POINTER_NAME
from tests.builders.demo_subset import DOCUMENTS, seed_codes
from tests.builders.paths import CORPUS


def test_the_whole_loop_runs_on_postgres(pg_url: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(cli, ["--project", str(project), *args])
        assert result.exit_code == 0, f"{args}: {result.output}"
        assert "Traceback" not in result.output
        return result

    init = runner.invoke(cli, ["init", str(project), "--embedder", "hashing-256",
                               "--database", pg_url])
    assert init.exit_code == 0, init.output
    assert (project / POINTER_NAME).is_file() and not (project / "project.sqlite").exists()
    transcripts = [p for p in sorted((CORPUS / "transcripts").iterdir())
                   if p.stem in DOCUMENTS]
    run("ingest", *map(str, transcripts), "--skip-speakers", "Interviewer")
    run("codebook", "load", str(CORPUS / "codebook.yaml"))
    run("import-codes", str(seed_codes(tmp_path / "seed.csv")))
    run("train")
    run("suggest")
    run("review", "--script", "a,a,r,s,a,u,a,q")  # as the connection's user
    run("agreement")
    run("report", "--out", str(tmp_path / "report.html"))
    assert (tmp_path / "report.html").stat().st_size > 1000
    run("status")
    with open_project(project) as store:
        assert dialect(store.conn) == POSTGRES
        assert len(store.transcripts()) == len(DOCUMENTS)
        actions = [r[0] for r in store.conn.execute(
            "SELECT action FROM log WHERE coder = ? ORDER BY id", ("postgres",))]
        assert actions.count("undo") == 1 and "accept" in actions
    names = tmp_path / "names.csv"
    names.write_text("name,pseudonym\nTimeliness,Promptness\nInterviewer,Asker\n",
                     encoding="utf-8")
    run("pseudonymise", "--names", str(names), "--key", str(tmp_path / "key.csv"))
    with open_project(project) as store:
        text = store.transcript_text("isp01_child_welfare_coach") or ""
        assert "Promptness" in text and "Timeliness" not in text
        assert store.annotations() and store.latest_model() is not None
    run("check")
    run("agreement")
