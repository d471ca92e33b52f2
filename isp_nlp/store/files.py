"""Files written whole or not at all.

Every output isp-nlp writes (exports, reports, model bundles, pre-coded waves) goes
through :func:`atomic_path`: the writer fills a temporary file beside the target, which
is flushed to disk and renamed over it only when the writer succeeds. A failure (a full
disk, a bad value) leaves the old file, or none, and never a ``.tmp`` behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | Path, mode: int | None = None) -> Iterator[Path]:
    """A temporary path to write; it replaces ``target`` when the block succeeds.

    ``mode`` defaults to the target's current permissions, else what the umask gives a
    new file. The temporary file is private (0600) while it is written.
    """
    target = Path(target)
    if mode is None:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | Path, data: bytes, mode: int | None = None) -> None:
    with atomic_path(target, mode) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | Path, text: str, mode: int | None = None) -> None:
    atomic_write_bytes(target, text.encode("utf-8"), mode)
