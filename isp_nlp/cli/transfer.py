"""`isp-nlp push` and `pull`: move a project between SQLite and PostgreSQL, verified."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import echo_wrapped
from isp_nlp.store.moves import pull_project, push_project
from isp_nlp.store.postgres import shown
from isp_nlp.store.transfer import Transfer


def _copied(transfer: Transfer, where: str) -> str:
    return (f"Copied {transfer.total} rows of {len(transfer.rows)} tables to {where} in "
            f"{transfer.seconds:.1f} s; every table's row count and the coded-data "
            f"checksum (sha256 {transfer.checksum[:16]}…) match the source.")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("url")
@click.option("--switch", is_flag=True,
              help="Then make DIRECTORY open the PostgreSQL copy (project.url; "
                   "project.sqlite is kept as project.sqlite.pushed). Nobody may write "
                   "to the project while it is pushed.")
def push(directory: Path, url: str, switch: bool) -> None:
    """Copy the SQLite project in DIRECTORY into the empty PostgreSQL database URL.

    All or nothing, verified by every table's row count and a checksum of the coded
    data. Without --switch the folder stays a SQLite project, and the next step to
    work on the copy is printed.
    """
    transfer = push_project(directory, url, switch=switch)
    echo_wrapped(_copied(transfer, shown(url)))
    if transfer.model_files:
        echo_wrapped(f"The files of its models ({transfer.model_files}) are in the database "
                     "too, so every coder's machine sees them.")
    if transfer.missing_models:
        echo_wrapped(f"Model(s) {', '.join(transfer.missing_models)} had no files under "
                     f"{directory / 'models'}, so they were not copied; run `isp-nlp train` "
                     "on the copy to make a model there.")
    if switch:
        echo_wrapped(f"{directory} now opens the project on PostgreSQL; its SQLite file "
                     "is kept as project.sqlite.pushed.")
    else:
        echo_wrapped(f"{directory} is still the SQLite project. To work on the copy, run "
                     f"`isp-nlp init NEW_FOLDER --database {shown(url)}` (or push into a "
                     "new empty database with --switch).")


@click.command()
@click.argument("source")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def pull(source: str, out: Path) -> None:
    """Copy the PostgreSQL project SOURCE (its folder or postgresql:// URL) into a new
    SQLite project folder OUT (for archiving or offline work), verified as push is."""
    transfer = pull_project(source, out)
    echo_wrapped(_copied(transfer, str(out)))
