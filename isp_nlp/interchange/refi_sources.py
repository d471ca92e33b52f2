"""Find the text of a REFI-QDA source: inside the archive, and on disk only where allowed.

A project file comes from a stranger, so its paths must not read the importer's disk:

- ``internal://x.txt`` and a bare ``x.txt``: the archive's ``sources/`` folder (any case),
  or the archive root; for a bare ``.qde``, the ``sources/`` folder beside it;
- ``relative://`` and ``absolute://`` paths, and bare paths not found as above, are read
  only from the folder the user names with ``--sources-dir DIR``: under DIR, under the
  project's ``basePath`` when that lies inside DIR, or the file's name in DIR.

On disk, a file is read only when, with every symbolic link resolved, it lies inside the
allowed folder, is a regular file and ends in ``.txt``; anything else is *left out* with
the reason, and the import lists it. Sizes: :data:`MAX_SOURCE_BYTES`, as a transcript.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from isp_nlp.ingest.decode import MAX_TRANSCRIPT_BYTES
from isp_nlp.ingest.safe_zip import SafeArchive
from isp_nlp.store.files import read_regular

#: A source's text, in the archive or on disk: the limit of a transcript at ingest.
MAX_SOURCE_BYTES = MAX_TRANSCRIPT_BYTES
_FIX = "pass --sources-dir DIR to read such files"


@dataclass(frozen=True)
class Found:
    """A source's bytes, or why not: ``left_out`` when a file was deliberately not read."""

    raw: bytes | None
    why: str = ""
    left_out: bool = False


def _tail(path: str) -> str:
    return re.split(r"[/\\]", path)[-1]


@dataclass
class SourceFinder:
    """Looks up source files (see the module docstring)."""

    name: str  # the project file's name, for messages
    archive: SafeArchive | None
    folder: Path  # the folder holding the project file
    base_path: str = ""
    sources_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def in_archive(self, rel: str) -> bytes | None:
        if self.archive is None:
            return None
        for candidate in (f"sources/{rel}", rel):
            info = self.archive.find(candidate)
            if info is not None:
                return self.archive.read(info, MAX_SOURCE_BYTES)
        info = self.archive.find_nested(f"sources/{rel}")  # an export wrapped in a folder
        return None if info is None else self.archive.read(info, MAX_SOURCE_BYTES)

    def find(self, written: str) -> Found:
        """The bytes at ``written`` (a REFI path), or None and why."""
        scheme, sep, rest = written.partition("://")
        if not sep:
            scheme, rest = "", written
        scheme = scheme.lower()
        rel = rest.lstrip("/") if scheme != "absolute" else rest
        if scheme not in ("", "internal", "relative", "absolute"):
            return Found(None, f"{written} uses an unknown path scheme '{scheme}://'")
        if scheme != "absolute":
            data = self.in_archive(rel)
            if data is not None:
                return Found(data)
            if self.archive is None and scheme in ("", "internal"):
                found = _in_folder(self.folder / "sources", [rel],
                                   "the sources/ folder beside the .qde")
                if found.raw is not None or found.left_out:
                    return found
                if scheme == "internal":
                    return Found(None, f"{written} is not in the sources/ folder beside "
                                 "the .qde")
            elif scheme == "internal":
                return Found(None, f"{written} is not in the archive")
        if self.sources_dir is None:
            kind = f"{scheme}:// path" if scheme else "path"
            where = ("the archive" if self.archive is not None
                     else "the sources/ folder beside the .qde")
            return Found(None, f"{kind} outside {where}; {_FIX}", left_out=True)
        candidates = [rest if scheme == "absolute" else rel]
        if scheme != "absolute" and self.base_path:
            candidates.append(str(Path(self.base_path) / rel))
        candidates.append(_tail(rest))
        return _in_folder(self.sources_dir, candidates, f"--sources-dir {self.sources_dir}")


def _in_folder(folder: Path, candidates: list[str], label: str) -> Found:
    """The first candidate (relative to ``folder``, or absolute) that is a regular ``.txt``
    file inside ``folder`` once links are resolved; else why not."""
    try:
        root = folder.resolve(strict=True)
    except OSError:
        return Found(None, f"{candidates[0]} is not in {label} (no such folder)")
    refused = ""
    for candidate in candidates:
        if not candidate:
            continue
        path = _case_insensitive(folder / candidate)
        if path is None:
            continue
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            refused = f"{candidate} leads outside {label} (a symbolic link or '..'); refused"
            continue
        if not resolved.is_file() or resolved.is_symlink():
            refused = f"{candidate} in {label} is not a regular file; refused"
            continue
        if resolved.suffix.lower() != ".txt":
            refused = f"{candidate} in {label} is not a .txt file; refused"
            continue
        return Found(read_regular(resolved, "source file", MAX_SOURCE_BYTES))
    if refused:
        return Found(None, refused, left_out=True)
    return Found(None, f"{candidates[0]} is not in {label}")


def _case_insensitive(path: Path) -> Path | None:
    """``path`` itself, or an entry in its folder whose name differs only in case."""
    if os.path.lexists(path):
        return path
    parent = path.parent
    if not parent.is_dir():
        found = _case_insensitive(parent) if parent != parent.parent else None
        if found is None or not found.is_dir():
            return None
        parent = found
    wanted = path.name.casefold()
    try:
        return next((p for p in parent.iterdir() if p.name.casefold() == wanted), None)
    except OSError:
        return None
