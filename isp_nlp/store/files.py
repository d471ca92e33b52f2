"""Files written whole or not at all.

Every user-named input file is read through :func:`read_regular` (regular files only,
size checked before reading, FIFOs never block). Every output isp-nlp writes (exports,
reports, model bundles, pre-coded waves, backups) goes through :func:`atomic_path`, which
first refuses anything but a regular file or a new path (:func:`check_output`); the writer
fills a temporary file beside the target, which is flushed to disk and renamed over it
only when the writer succeeds. A failure (a full disk, a bad value) leaves the old
file, or none, and never a ``.tmp`` behind.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from isp_nlp.errors import InputFileError


def check_output(target: str | Path, what: str = "the output") -> Path:
    """``target`` as a Path, refused unless it is a regular file or a new path in a folder.

    Devices, pipes, sockets, folders and symlinks leading to any of those are refused
    before anything is created (``os.replace`` would swap a device such as /dev/null for
    a regular file, and opening a FIFO blocks); so is a path whose folder does not exist.
    ``what`` names the path in the message (``--out``, ``the report``).
    """
    target = Path(target)
    try:
        info = target.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InputFileError(f"{what} {target} cannot be checked ({exc.strerror or exc}); "
                             "give the path of a file to write.") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{what} {target} is {_kind(info.st_mode)}, not a file; give "
                             "the path of a file to write.")
    folder = target.parent
    if not folder.is_dir():
        missing = "is not a folder" if folder.exists() else "does not exist"
        raise InputFileError(f"{what} {target} cannot be written: its folder {folder} "
                             f"{missing}; create the folder or give another path.")
    return target


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


@contextmanager
def atomic_path(target: str | Path, mode: int | None = None, what: str = "the output"
                ) -> Iterator[Path]:
    """A temporary path to write; it replaces ``target`` when the block succeeds.

    ``target`` must pass :func:`check_output` (checked before anything is created, and
    again just before the rename). ``mode`` defaults to the target's current
    permissions, else what the umask gives a new file. The temporary file is private
    (0600) while it is written.
    """
    target = check_output(target, what)
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
        check_output(target, what)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | Path, data: bytes, mode: int | None = None,
                       what: str = "the output") -> None:
    with atomic_path(target, mode, what) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | Path, text: str, mode: int | None = None,
                      what: str = "the output") -> None:
    atomic_write_bytes(target, text.encode("utf-8"), mode, what)


def read_regular(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, which the user named as a ``what``.

    The file is opened without blocking (a FIFO never hangs) and checked on the open
    descriptor: a folder, device, pipe or socket is refused, and so is a file larger than
    ``max_bytes``, before any byte is read. A file that grows past the limit while it is
    read (``/proc`` files report size 0) is refused too. Each refusal is one
    :class:`~isp_nlp.errors.InputFileError` naming the file and the fix.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError(f"{what} '{path}' does not exist; check the path and "
                             "spelling.") from None
    except PermissionError:
        raise InputFileError(f"{what} '{path}' cannot be read (permission denied); check "
                             "its permissions.") from None
    except OSError as exc:
        raise InputFileError(f"{what} '{path}' cannot be opened ({exc.strerror or exc}); "
                             "check the path.") from None
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputFileError(f"{what} '{path}' is a folder; give the path of a file.")
        raise InputFileError(f"{what} '{path}' is not a regular file (a device, pipe or "
                             "socket); give the path of a saved file.")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > max_bytes:
            raise InputFileError(_too_large(path, what, info.st_size, max_bytes, exact=True))
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise InputFileError(f"{what} '{path}' cannot be read ({exc.strerror or exc}); "
                                 "check that it is a saved file.") from None
    if len(data) > max_bytes:
        raise InputFileError(_too_large(path, what, len(data), max_bytes))
    return data


def _too_large(path: Path, what: str, size: int, max_bytes: int, *, exact: bool = False
               ) -> str:
    more = "" if exact else " or more"
    return (f"{what} '{path.name}' is {size:,} bytes{more}, beyond the limit of "
            f"{max_bytes:,} bytes ({format_size(max_bytes)}); check that it is the right "
            "file, or split it.")


def format_size(n: int) -> str:
    """``n`` bytes as people say it: 20 MB, 1.5 GB (powers of 1,024)."""
    if n >= 1024**3:
        return f"{n / 1024**3:.3g} GB"
    if n >= 1024**2:
        return f"{n / 1024**2:.3g} MB"
    return f"{n / 1024:.3g} KB" if n >= 1024 else f"{n} bytes"
