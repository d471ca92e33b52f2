"""A project folder: its database (``project.sqlite``) and ``models/``; create it, open
it, and read what every command needs first (the codebook)."""

from __future__ import annotations

import os
from pathlib import Path

from isp_nlp.errors import ProjectError
from isp_nlp.records import Codebook
from isp_nlp.store.database import Store, project_db

EMBEDDERS = ("minilm", "hashing-256")
DEFAULT_EMBEDDER = "minilm"
PROJECT_ENV = "ISP_NLP_PROJECT"


def default_project_dir() -> Path:
    return Path(os.environ.get(PROJECT_ENV) or ".")


def init_project(directory: str | Path, *, embedder: str = DEFAULT_EMBEDDER) -> Path:
    """Create a project folder with its database; return the database path."""
    if embedder not in EMBEDDERS:
        raise ProjectError(
            f"unknown embedder '{embedder}'; expected one of {', '.join(EMBEDDERS)}"
        )
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ProjectError(f"{directory} exists and is not a folder; choose another path")
    db = project_db(directory)
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
