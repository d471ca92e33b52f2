"""A project folder: its database (``project.sqlite`` and ``models/``, or
``project.url`` naming a PostgreSQL database that holds the models too); create it,
open it, and read what every command needs first (the codebook)."""

from __future__ import annotations

import os
from pathlib import Path

from isp_nlp.errors import ProjectError
from isp_nlp.records import Codebook
from isp_nlp.store.database import DB_NAME, Store, project_db
from isp_nlp.store.postgres import POINTER_NAME, check_url, read_pointer, write_pointer
from isp_nlp.store.team import setup_if_possible

EMBEDDERS = ("minilm", "hashing-256")
DEFAULT_EMBEDDER = "minilm"
PROJECT_ENV = "ISP_NLP_PROJECT"
#: A PostgreSQL URL (no password) that ``isp-nlp init`` stores new projects in.
DATABASE_ENV = "ISP_NLP_DATABASE"


def default_project_dir() -> Path:
    return Path(os.environ.get(PROJECT_ENV) or ".")


def init_project(directory: str | Path, *, embedder: str = DEFAULT_EMBEDDER,
                 database: str | None = None) -> Path:
    """Create a project folder with its database; return the database path.

    ``database``: a ``postgresql://`` URL without a password; the project's tables go
    there and the folder keeps the URL in ``project.url`` (default: ``project.sqlite``
    in the folder)."""
    if embedder not in EMBEDDERS:
        raise ProjectError(
            f"unknown embedder '{embedder}'; expected one of {', '.join(EMBEDDERS)}"
        )
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ProjectError(f"{directory} exists and is not a folder; choose another path")
    db = project_db(directory)
    if database is not None:
        url = check_url(database)
        if db.name == DB_NAME and db.exists():
            raise ProjectError(f"{directory} already holds a project stored in {DB_NAME}; "
                               "choose a new folder for a project on PostgreSQL")
        if db.name == POINTER_NAME and read_pointer(db) != url:
            raise ProjectError(f"{directory} already holds a project stored at "
                               f"{read_pointer(db)}; choose a new folder for another database")
        directory.mkdir(parents=True, exist_ok=True)
        db = directory / POINTER_NAME
        wrote = not db.exists()
        if wrote:
            write_pointer(db, url)
        try:
            with Store.create(db) as store:
                if store.get_setting("embedder") is None:
                    store.set_setting("embedder", embedder)
                setup_if_possible(store)  # the creating role owns the project
        except BaseException:
            if wrote:  # a server that cannot be reached leaves no pointer to a wrong URL
                db.unlink()
            raise
        return db  # no models/: the project's models are in the database
    existed = db.exists()
    with Store.create(db) as store:
        if not existed:
            store.set_setting("embedder", embedder)
    (directory / "models").mkdir(exist_ok=True)
    return db


def open_project(directory: str | Path) -> Store:
    return Store.open(project_db(directory))


def require_codebook(store: Store) -> Codebook:
    codebook = store.codebook()
    if codebook is None:
        raise ProjectError(
            "the project has no codebook yet; load one with `isp-nlp codebook load FILE.yaml`"
        )
    return codebook

