"""``isp-nlp push`` and ``pull``: a project folder moved between SQLite and PostgreSQL
(the verified copy itself is :func:`isp_nlp.store.transfer.copy_database`)."""

from __future__ import annotations

from pathlib import Path

from isp_nlp.errors import ProjectError
from isp_nlp.store import postgres
from isp_nlp.store.backend import table_names
from isp_nlp.store.database import Store
from isp_nlp.store.transfer import (
    DB_NAME,
    Transfer,
    check_new_folder,
    copy_database,
    copy_models,
    write_snapshot,
)

#: What ``push --switch`` renames the SQLite file to (kept, not deleted).
MOVED_SUFFIX = ".pushed"


def push_project(directory: str | Path, url: str, *, switch: bool = False) -> Transfer:
    """Copy the SQLite project in ``directory`` into the empty PostgreSQL database
    ``url`` (verified, all or nothing). ``switch``: then make ``directory`` a folder of
    the PostgreSQL project (``project.url``; ``project.sqlite`` kept beside it as
    ``project.sqlite.pushed``), keeping its ``models/``; while it is copied nobody may
    write to the SQLite project, so nothing written there is left behind."""
    url = postgres.check_url(url)
    folder = Path(directory)
    db = folder / DB_NAME
    pointer = folder / postgres.POINTER_NAME
    if not db.is_file():
        if pointer.is_file():
            raise ProjectError(f"{folder} is already a project on PostgreSQL "
                               f"({postgres.read_pointer(pointer)}); push copies a project "
                               f"kept in {DB_NAME}")
        raise ProjectError(f"no isp-nlp project at {folder}: {DB_NAME} not found; give "
                           "the folder of a project kept in SQLite")
    if switch and pointer.exists():
        raise ProjectError(f"{pointer} exists already; remove it, or push without --switch")
    target = postgres.connect(url)
    try:
        with Store.open(db) as store:  # brings an older project to the current schema
            transfer = copy_database(store.conn, target, postgres.shown(url), hold=switch,
                                     models_from=folder)
            if switch:
                postgres.write_pointer(pointer, url)
                try:
                    db.rename(db.with_name(DB_NAME + MOVED_SUFFIX))
                except OSError:
                    pointer.unlink()
                    raise
    finally:
        target.close()
    (folder / "models").mkdir(exist_ok=True)
    return transfer


# -- pull: a PostgreSQL project to a new SQLite one -------------------------------------
def _source_url(source: str | Path) -> tuple[str, Path | None]:
    """The URL of a PostgreSQL project given as its URL or its folder (and the folder)."""
    text = str(source)
    if text.startswith(("postgresql:", "postgres:")):
        return postgres.check_url(text), None
    folder = Path(source)
    pointer = folder / postgres.POINTER_NAME
    if not pointer.is_file() or (folder / DB_NAME).exists():
        raise ProjectError(f"{folder} is not a project on PostgreSQL (no {pointer.name} "
                           "alone); give its folder or its postgresql:// URL")
    return postgres.read_pointer(pointer), folder


def pull_project(source: str | Path, out: str | Path) -> Transfer:
    """Copy the PostgreSQL project ``source`` (its folder or URL) into a new SQLite
    project folder ``out`` (verified), with the files of the folder's ``models/``."""
    url, folder = _source_url(source)
    out = Path(out)
    check_new_folder(out)
    conn = postgres.connect(url)
    try:
        if "meta" not in table_names(conn):
            raise ProjectError(f"no isp-nlp project in the PostgreSQL database "
                               f"{postgres.shown(url)}; give the URL of a project's database")
        transfer = write_snapshot(conn, out, str(out / DB_NAME))
    finally:
        conn.close()
    copy_models(folder, out)
    return transfer


