"""Open a REFI-QDA ``.qdpx`` (a zip) that may be hostile, and read its members safely.

Checks made before anything is read, each a one-line :class:`InputFileError`:

- the file is a zip at all (else say what it looks like: an HTML page, XML, a PDF ...);
- the central directory, counted by :func:`check_zip_directory` from the End Of Central
  Directory records at the file's tail *before* :mod:`zipfile` parses it: at most
  :data:`MAX_MEMBERS` entries in at most :data:`MAX_DIRECTORY_BYTES` bytes (zipfile
  would otherwise build one object per entry of a directory millions long);
- no member path escapes the archive: no ``..`` component, no absolute path
  (``/x``, ``\\\\x``, ``C:x``), no symlink, device, FIFO or socket member (Unix mode in
  the external attributes);
- at most :data:`MAX_MEMBERS` members and :data:`MAX_TOTAL_BYTES` declared uncompressed
  bytes in all (a zip bomb declares small sizes or many members).

Reading a member stops at its declared size and at the bytes still allowed in total,
so a member that inflates beyond what it declares is refused too.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from isp_nlp.errors import InputFileError
from isp_nlp.store.files import format_size

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 2 * 1024**3  # uncompressed, all members together
MAX_MEMBER_BYTES = 512 * 1024**2  # any one member
# 10,000 entries of up to ~1.6 KB each (46-byte header, name, extra fields, comment):
# real exports use a few hundred bytes per entry, and a directory this size is walked in
# well under a second, whereas zipfile spends minutes and gigabytes on millions of entries.
MAX_DIRECTORY_BYTES = 16 * 1024**2
_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


def describe_bytes(head: bytes) -> str:
    """What a file starting with ``head`` looks like, for a "this is not X" message."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return "an empty file"
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:512]:
        return "an HTML web page (perhaps a download page saved instead of the file)"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "an XML or markup file"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (perhaps a .qdpx project; give it the .qdpx suffix)"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return "an image (PNG or JPEG)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive"
    if head.startswith(b"Rar!"):
        return "a RAR archive"
    if head.startswith(b"7z\xbc\xaf"):
        return "a 7-Zip archive"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Microsoft Office file"
    if b"\x00" in head:
        return "a binary file"
    return "a text file"


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why member ``info`` must not be read (escaping path, absolute path, symlink), or None."""
    name = info.filename
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        return f"member '{name}' has an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return f"member '{name}' points outside the archive (a '..' path)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"member '{name}' is a symbolic link"
    for test, kind in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"member '{name}' is {kind}, not a file"
    return None


_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"


@dataclass(frozen=True)
class ZipDirectory:
    """What the End Of Central Directory records of a zip claim, and the entries counted."""

    entries: int
    directory_bytes: int
    counted: int


def check_zip_directory(source: str | Path | BinaryIO, name: str,
                        max_members: int | None = None,
                        max_directory_bytes: int | None = None) -> ZipDirectory | None:
    """Refuse a zip whose central directory is too long, before :mod:`zipfile` parses it.

    Reads the End Of Central Directory record (and the ZIP64 locator and record) from the
    tail of ``source`` (a path, or a seekable binary file left at its position), then walks
    the directory's entry headers without building anything, stopping past
    ``max_members`` (default :data:`MAX_MEMBERS`). ``name`` names the file in messages.
    Raises a one-line :class:`InputFileError` when the entries claimed or counted exceed
    ``max_members`` or the directory exceeds ``max_directory_bytes`` (default
    :data:`MAX_DIRECTORY_BYTES`). Returns None when no end record is found (not a zip:
    zipfile then says so), else what was found.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            return check_zip_directory(handle, name, max_members, max_directory_bytes)
    limit = MAX_MEMBERS if max_members is None else max_members
    cap = MAX_DIRECTORY_BYTES if max_directory_bytes is None else max_directory_bytes
    start = source.tell()
    try:
        return _check_directory(source, name, limit, cap)
    finally:
        source.seek(start)


def _too_many(name: str, entries: int, size: int, limit: int, cap: int) -> InputFileError:
    return InputFileError(
        f"{name} lists {entries:,} members in a zip directory of {size:,} bytes, beyond "
        f"the limits of {limit:,} members and {format_size(cap)}; refusing it (possible zip bomb "
        "or a damaged file); export it again from the program that made it.")


def _check_directory(source: BinaryIO, name: str, limit: int, cap: int
                     ) -> ZipDirectory | None:
    file_size = source.seek(0, os.SEEK_END)
    tail_start = max(0, file_size - (22 + 65535))
    source.seek(tail_start)
    tail = source.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    _, _, _, entries, size, _, _ = struct.unpack("<4H2LH", tail[at + 4:at + 22])
    eocd_pos = tail_start + at
    extra = 0
    locator = eocd_pos - 20
    if locator >= 0:
        source.seek(locator)
        record = source.read(20)
        if record[:4] == _EOCD64_LOCATOR:
            (where,) = struct.unpack("<Q", record[8:16])
            source.seek(where)
            big = source.read(56)
            if len(big) == 56 and big[:4] == _EOCD64:
                _, _, _, count64, size64, _ = struct.unpack("<2L4Q", big[16:56])
                entries, size = max(entries, count64), max(size, size64)
                extra = 56 + 20
    if entries > limit or size > cap:
        raise _too_many(name, entries, size, limit, cap)
    counted = _count_entries(source, eocd_pos - extra - size, size, limit)
    if counted > limit:
        raise _too_many(name, counted, size, limit, cap)
    return ZipDirectory(entries, size, counted)


def _count_entries(source: BinaryIO, start: int, size: int, limit: int) -> int:
    """Entry headers in the directory at ``start`` (as zipfile walks it), up to ``limit + 1``.

    zipfile reads entries until the directory's *size* is used up, whatever count the end
    record claims; so count them the same way. Stops quietly at anything that is not an
    entry header (zipfile then reports the damage).
    """
    if start < 0:
        return 0
    source.seek(start)
    data = source.read(size)
    pos = counted = 0
    while pos + 46 <= len(data) and counted <= limit:
        if data[pos:pos + 4] != _CENTRAL:
            break
        name_len, extra_len, comment_len = struct.unpack("<3H", data[pos + 28:pos + 34])
        pos += 46 + name_len + extra_len + comment_len
        counted += 1
    return counted


@dataclass
class SafeArchive:
    """A checked zip archive; :meth:`read` a member by name, case-insensitively."""

    path: Path
    archive: zipfile.ZipFile
    members: dict[str, zipfile.ZipInfo] = field(default_factory=dict)
    budget: int = MAX_TOTAL_BYTES

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()

    def find(self, name: str) -> zipfile.ZipInfo | None:
        """The member called ``name`` (``/``-separated, any case), or None."""
        return self.members.get(name.replace("\\", "/").strip("/").casefold())

    def find_nested(self, name: str) -> zipfile.ZipInfo | None:
        """The one member ending in ``/name`` (an export wrapped in a folder), or None."""
        tail = "/" + name.replace("\\", "/").strip("/").casefold()
        found = [info for key, info in self.members.items() if key.endswith(tail)]
        return found[0] if len(found) == 1 else None

    def read(self, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
        """The member's bytes (see :meth:`chunks`)."""
        return b"".join(self.chunks(info, limit))

    def chunks(self, info: zipfile.ZipInfo, limit: int | None = None) -> Iterator[bytes]:
        """The member's bytes a chunk at a time.

        Refused before any byte is inflated when the member declares more than ``limit``
        (default :data:`MAX_MEMBER_BYTES`, and never more), or more than the bytes still
        allowed in all; refused while reading when it inflates past what it declares.
        """
        cap = min(MAX_MEMBER_BYTES, self.budget, MAX_MEMBER_BYTES if limit is None else limit)
        if info.file_size > cap:
            raise InputFileError(
                f"{self.path.name}: member '{info.filename}' is {info.file_size:,} bytes "
                f"uncompressed, beyond the limit of {cap:,} bytes ({format_size(cap)}); refusing "
                "it (possible zip bomb, or a file too large to import).")
        allowed = info.file_size
        size = 0
        try:
            with self.archive.open(info) as handle:
                while True:
                    chunk = handle.read(min(_CHUNK, allowed - size + 1))
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > allowed:
                        raise InputFileError(
                            f"{self.path.name}: member '{info.filename}' inflates beyond "
                            f"the {allowed} bytes it declares; refusing it (possible zip "
                            "bomb).")
                    self.budget -= len(chunk)
                    yield chunk
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            raise InputFileError(
                f"{self.path.name}: member '{info.filename}' is damaged or does not match "
                f"the size it declares ({exc}); refusing it (possible zip bomb); export "
                "the project again from your QDA tool.") from None


def open_archive(path: str | Path, *, what: str = "a REFI-QDA .qdpx") -> SafeArchive:
    """Open ``path`` as a zip after the checks in the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"'{path}' does not exist or is a folder; check the path.")
    check_zip_directory(path, path.name)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        with path.open("rb") as handle:
            head = handle.read(2048)
        raise InputFileError(
            f"{path.name} is not a zip archive, so not {what}: it looks like "
            f"{describe_bytes(head)}; export the project again from your QDA tool.") from None
    infos = archive.infolist()
    total = sum(i.file_size for i in infos)
    if len(infos) > MAX_MEMBERS or total > MAX_TOTAL_BYTES:
        archive.close()
        raise InputFileError(
            f"{path.name} holds {len(infos)} members and {total} bytes uncompressed, beyond "
            f"the limits of {MAX_MEMBERS} members and {format_size(MAX_TOTAL_BYTES)}; "
            "refusing it (possible zip bomb).")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        problem = member_problem(info)
        if problem is not None:
            archive.close()
            raise InputFileError(f"{path.name}: {problem}; refusing the whole archive "
                                 "(a hostile or damaged file).")
        if not info.is_dir():
            members.setdefault(info.filename.replace("\\", "/").strip("/").casefold(), info)
    return SafeArchive(path, archive, members)
