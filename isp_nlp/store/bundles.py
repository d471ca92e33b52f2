"""The files of a trained model bundle on disk: reading a bundle folder, writing one
atomically, checking it against the checksums the database holds, and the per-machine
cache a project on PostgreSQL materialises its models into.

A project in ``project.sqlite`` keeps each bundle under ``models/<model id>/`` in its
folder. A project on PostgreSQL keeps the files in the ``model_files`` table, so every
coder's machine sees the same models; :meth:`isp_nlp.store.registry.ModelTables.model_bundle`
writes them into :func:`cache_root` ``/<database key>/models/<model id>/`` and reuses that
folder while every file still matches its sha256 (a damaged or partial copy is written
again). The cache is per machine and disposable: deleting it costs one download.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from isp_nlp.errors import ProjectError

#: Overrides where the model cache lives (default ``$XDG_CACHE_HOME/isp-nlp``).
CACHE_ENV = "ISP_NLP_CACHE"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check_model_id(model_id: str) -> str:
    """``model_id``, or ProjectError when it cannot name a folder of its own."""
    if not _SAFE_ID.fullmatch(model_id):
        raise ProjectError(f"model id {model_id!r} cannot name a folder; expected letters, "
                           "digits, '.', '_' and '-'")
    return model_id


def read_folder(directory: Path) -> dict[str, bytes]:
    """The plain files directly in ``directory``, by name (a bundle has no subfolders)."""
    files = {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}
    if not files:
        raise ProjectError(f"{directory} holds no model files")
    return files


def write_folder(target: Path, files: Mapping[str, bytes]) -> Path:
    """Make ``target`` a folder holding exactly ``files``, atomically: written beside it
    and renamed into place, so a reader sees the old folder or the whole new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, content in files.items():
            if Path(name).name != name or name.startswith("."):
                raise ProjectError(f"model file name {name!r} is not a plain file name")
            with (partial / name).open("wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
        try:
            os.replace(partial, target)
        except OSError:  # target exists (and is not empty): move it aside first
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            os.replace(target, aside / target.name)
            os.replace(partial, target)
            shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def intact(folder: Path, expected: Mapping[str, str]) -> bool:
    """Whether ``folder`` holds every file of ``expected`` (name → sha256) unchanged."""
    try:
        return all(sha256((folder / name).read_bytes()) == digest
                   for name, digest in expected.items())
    except OSError:
        return False


def cache_root() -> Path:
    """Where this machine caches the models of projects on PostgreSQL:
    ``$ISP_NLP_CACHE``, else ``$XDG_CACHE_HOME/isp-nlp``, else ``~/.cache/isp-nlp``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "isp-nlp"


def database_folder(identity: str) -> Path:
    """The cache folder of the database ``identity`` (server, port, database name)."""
    return cache_root() / hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
