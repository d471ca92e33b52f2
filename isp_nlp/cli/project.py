"""`isp-nlp init`, `status`, `check`, `backup` and `demo`: create, inspect, verify, copy and
demonstrate a project."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.agreement.corrections import project_correction_rate
from isp_nlp.cli.common import FORMATS, InputError, echo_wrapped, emit, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.project import project_status
from isp_nlp.store.folder import DATABASE_ENV, init_project
from isp_nlp.store.postgres import POINTER_NAME, read_pointer
from isp_nlp.store.transfer import coded_checksum, row_counts
from isp_nlp.suggest.trust import project_trust, trust_lines


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--embedder", type=click.Choice(["minilm", "hashing-256"]), default="minilm",
              show_default=True, help="Embedding model (hashing-256 is a fast test embedder).")
@click.option("--database", envvar=DATABASE_ENV, default=None, metavar="URL",
              help="Keep the project on a PostgreSQL server: a postgresql://HOST/DATABASE "
                   "URL without a password (libpq finds that in ~/.pgpass, a service file or "
                   f"PGPASSWORD); also ${DATABASE_ENV}. Default: project.sqlite in the folder.")
def init(directory: Path, embedder: str, database: str | None) -> None:
    """Create a project folder with its SQLite database (or on a PostgreSQL server)."""
    db = init_project(directory, embedder=embedder, database=database or None)
    if db.name == POINTER_NAME:
        click.echo(f"Project ready: {directory} (stored at {read_pointer(db)})")
    else:
        click.echo(f"Project ready: {db}")


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def status(ctx, fmt: str) -> None:
    """Show what the project holds and whether to trust its latest model."""
    store = open_store(ctx)
    trust = project_trust(store)
    rate = project_correction_rate(store)
    if fmt == "json":
        emit({**project_status(store), "trust": trust.to_dict(),
              "corrections": rate.to_dict()}, fmt)
        return
    emit(project_status(store), fmt)
    click.echo("Model:")
    for line in trust_lines(trust, width=78):
        click.echo(f"  {one_line(line)}")
    if rate.overall.decided:
        echo_wrapped(f"Corrections: {rate.overall.sentence()}.")
        for coder, c in rate.by_coder.items():
            echo_wrapped(one_line(f"  {coder}: {c.sentence()}."))


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="isp-nlp-demo",
              show_default=True, help="Folder for the demo project and report.")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Demo corpus folder (default: the bundled corpora/isp-demo).")
@click.option("--embedder", type=click.Choice(["minilm", "hashing-256"]), default="minilm",
              show_default=True)
def demo(out: Path, corpus: Path | None, embedder: str) -> None:
    """Run the whole pipeline on the bundled synthetic corpus; print the report path."""
    from isp_nlp.demo import run_demo

    path = run_demo(out, corpus=corpus, embedder=embedder, echo=click.echo)
    click.echo(str(path))


@click.command()
@click.pass_context
def check(ctx) -> None:
    """Verify the project database: integrity (SQLite's check, or foreign keys on
    PostgreSQL), schema version, every table and column; print row counts and the
    coded-data checksum (equal on a pushed or pulled copy)."""

    store = open_store(ctx)
    problems = store.check()
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    if problems:
        raise InputError(f"{store.path} has {len(problems)} problem(s), listed above; restore "
                         "it from a backup (`isp-nlp backup` makes one)")
    click.echo(f"{store.path}: OK (integrity ok, schema version {store.schema_version()})")
    counts = row_counts(store.conn)
    echo_wrapped(f"{sum(counts.values())} rows in {len(counts)} tables; coded-data checksum "
                 f"sha256 {coded_checksum(store.conn)}")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup(ctx, directory: Path) -> None:
    """Copy the project into a new folder DIRECTORY: a consistent copy of the database
    (SQLite online backup, safe while others work; a project on PostgreSQL is written
    as a verified SQLite snapshot, as `pull` does) and the trained models."""

    written = open_store(ctx).backup(directory)
    click.echo(f"Backed up the project to {written.parent}")
