"""The pseudonym key: the file of every real name with its pseudonym, kind and count.

It is written with file mode 0600 outside the project (:func:`key_path_allowed`) and read
back on the next run or interview wave, so the same people keep the same pseudonyms.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from isp_nlp.coded.safe_csv import restore_cell, safe_csv_text
from isp_nlp.errors import InputFileError
from isp_nlp.interchange.pseudonyms import MAX_NAMES, Plan, fold_name, has_control
from isp_nlp.store.files import atomic_write_text, read_regular

KEY_COLUMNS = ("name", "pseudonym", "kind", "count")
#: A key larger than this is refused before it is read.
MAX_KEY_BYTES = 50 * 1024**2


def read_key_lines(path: str | Path) -> list[tuple[int, dict[str, str]]]:
    """The rows of an existing key file with their line numbers (none when it does not
    exist). Read through :func:`~isp_nlp.store.files.read_regular`: a folder, FIFO or
    device is refused with one line, and so is a key over :data:`MAX_KEY_BYTES`."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return []
    raw = read_regular(path, "the pseudonym key", MAX_KEY_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"the pseudonym key '{path}' is not UTF-8 text; restore it from "
                             "your backup or pass a new --key path") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fields = reader.fieldnames or []
        if not {"name", "pseudonym"} <= set(fields):
            raise InputFileError(f"{path}: line 1 is not a pseudonym key header (expected "
                                 f"{','.join(KEY_COLUMNS)}); pass the key this command wrote")
        out: list[tuple[int, dict[str, str]]] = []
        for row in reader:
            if len(out) >= MAX_NAMES:
                raise InputFileError(f"{path} holds more than {MAX_NAMES:,} rows, beyond what "
                                     "a pseudonym key may hold; pass the key this command wrote")
            values = {k: restore_cell(v or "") for k, v in row.items() if k}
            if has_control(values.get("name", "")) or has_control(values.get("pseudonym", "")):
                raise InputFileError(
                    f"{path}: line {reader.line_num} of the pseudonym key has a control "
                    "character or line break in a name or pseudonym; restore the key from "
                    "your backup")
            out.append((reader.line_num, values))
    except csv.Error as exc:
        raise InputFileError(f"{path}: line {reader.line_num} of the pseudonym key is not "
                             f"valid CSV ({exc}); restore it from your backup") from None
    return out


def read_key(path: str | Path) -> list[dict[str, str]]:
    """The rows of an existing key file (none when it does not exist)."""
    return [row for _, row in read_key_lines(path)]


def key_digest(rows: Sequence[Mapping[str, str]]) -> str:
    """SHA-256 of the key's canonical text: recorded in the project by ``pseudonymise`` so
    an export can check it was given the key of the last run. It reveals nothing that
    cannot be had only by guessing the whole key, every name, pseudonym and count."""
    return hashlib.sha256(key_text(rows).encode("utf-8")).hexdigest()


def key_text(rows: Sequence[Mapping[str, str]]) -> str:
    """The CSV text of the key (formula cells neutralised)."""
    return safe_csv_text(pd.DataFrame([[str(r.get(c, "")) for c in KEY_COLUMNS] for r in rows],
                                      columns=list(KEY_COLUMNS), dtype=object))


def key_rows(plan: Plan, counts: Mapping[str, int],
             previous: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    """The key: every name with its pseudonym, kind and cumulative replacement count.
    Rows of ``previous`` keys that the plan no longer lists are kept, also one that now
    matches like another row (``Zoe`` and ``Zoë``, listed apart by an older isp-nlp)."""
    old = {fold_name(r["name"]): r for r in previous}
    exact = {r["name"]: r for r in previous}
    rows: dict[str, dict[str, str]] = {}
    extra: list[dict[str, str]] = []
    for r in sorted(plan.replacements, key=lambda r: (r.pseudonym, r.name)):
        count = exact.get(r.name, old.get(fold_name(r.name), {})).get("count", "").strip()
        total = (int(count) if count.isdigit() else 0) + counts.get(r.name, 0)
        row = {"name": r.name, "pseudonym": r.pseudonym, "kind": r.kind, "count": str(total)}
        if fold_name(r.name) in rows:  # speaker labels ``JANE`` and ``Jane``
            extra.append(row)
        else:
            rows[fold_name(r.name)] = row
    for kept in previous:
        key = fold_name(kept["name"])
        if key not in rows:
            rows[key] = {c: kept.get(c, "") for c in KEY_COLUMNS}
        elif all(kept["name"] != e["name"] for e in (rows[key], *extra)):
            extra.append({c: kept.get(c, "") for c in KEY_COLUMNS})
    return list(rows.values()) + extra


def key_path_allowed(key: str | Path, project: str | Path) -> bool:
    """False when ``key`` lies inside the project folder."""
    k = Path(key).expanduser().resolve()
    p = Path(project).expanduser().resolve()
    return k != p and p not in k.parents


def write_key(path: str | Path, rows: Sequence[Mapping[str, str]]) -> None:
    """Write the key atomically with file mode 0600 (owner read/write only)."""
    path = Path(path)
    text = key_text(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text, mode=0o600)
