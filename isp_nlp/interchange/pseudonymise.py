"""Pseudonymise a project's transcripts before anything leaves the machine.

:func:`pseudonymise_project` reads names.csv (and the key of an earlier run, so people
keep their pseudonyms across runs and interview waves), plans the replacements with the
project's speaker labels, rewrites every document in one transaction
(:meth:`isp_nlp.store.database.Store.rewrite_documents`), records which documents are
pseudonymised (setting ``pseudonymised_documents``, a JSON list, the SHA-256 of the key
and ``pseudonymised_at``) and writes the key outside the project folder (mode 0600).
The report names documents and pseudonyms only, never a real name; names never found
are reported by their names.csv lines. :func:`key_names` reads that key back for
``export --pseudonymised-only``, which looks for its names in everything it would write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isp_nlp.embed import text_key
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.interchange.name_detect import detect_person_names, load_pipeline
from isp_nlp.interchange.name_match import NameMatcher
from isp_nlp.interchange.pseudonym_key import (
    key_digest,
    key_path_allowed,
    key_rows,
    read_key,
    read_key_lines,
    write_key,
)
from isp_nlp.interchange.pseudonyms import (
    SPEAKER,
    Plan,
    apply_plan,
    fold_name,
    name_counts,
    plan_pseudonyms,
    read_names,
    replace_names,
)
from isp_nlp.store.database import Store
from isp_nlp.store.registry import now
from isp_nlp.store.rewrite import NewText

DOCUMENTS_SETTING = "pseudonymised_documents"
TIME_SETTING = "pseudonymised_at"
#: document → text_key of its text when pseudonymised, so a document replaced later
#: (``ingest --replace``) under the same name no longer counts as pseudonymised.
TEXTS_SETTING = "pseudonymised_text_sha256"
#: SHA-256 of the key the last run wrote (:func:`key_digest`), so an export checks its key.
KEY_SETTING = "pseudonymised_key_sha256"
_SEPARATORS = re.compile(r"[_\-.]+")


@dataclass(frozen=True)
class DocumentReport:
    """Replacements made in one document, by pseudonym (``label`` hides a document
    whose own name holds a listed name)."""

    label: str
    replacements: int
    by_pseudonym: dict[str, int]


@dataclass(frozen=True)
class PseudonymReport:
    """What one run did; only ``key`` holds real names."""

    documents: tuple[DocumentReport, ...]
    people: int
    changed: dict[str, int]
    named_documents: int  # documents whose name holds a listed name (not renamed)
    detected: int
    stale_models: bool  # trained models (files under models/) hold texts from before
    key_path: Path
    key: tuple[dict[str, str], ...] = field(repr=False, default=())
    #: names.csv lines of names never found in any transcript, in this run or before
    unfound_lines: tuple[int, ...] = ()

    def as_dict(self, *, show_key: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "documents": [{"document": d.label, "replacements": d.replacements,
                           "by_pseudonym": d.by_pseudonym} for d in self.documents],
            "people": self.people, "changed": self.changed,
            "named_documents": self.named_documents, "detected": self.detected,
            "stale_models": self.stale_models,
            "unfound_names": {"count": len(self.unfound_lines),
                              "lines": list(self.unfound_lines)},
            "key": str(self.key_path),
        }
        if show_key:
            out["key_rows"] = list(self.key)
        return out


def pseudonymised_documents(store: Store) -> list[str]:
    """The documents pseudonymised and unchanged since (for ``--pseudonymised-only``)."""
    listed = json.loads(store.get_setting(DOCUMENTS_SETTING) or "[]")
    hashes = json.loads(store.get_setting(TEXTS_SETTING) or "{}")
    texts = store.transcript_texts()
    return [d for d in listed if d in texts and hashes.get(d) == text_key(texts[d])]


def _holds_name(plan: Plan, document: str) -> bool:
    """True when the document's name (underscores, dashes, dots as spaces) holds a name."""
    spaced = _SEPARATORS.sub(" ", document)
    return replace_names(plan, spaced) != spaced


def pseudonymise_project(
    store: Store,
    project_dir: str | Path,
    names_csv: str | Path | None,
    key_path: str | Path,
    *,
    detect_names: bool = False,
    load_nlp: Callable[[], Any] = load_pipeline,
) -> PseudonymReport:
    """Replace people's names in every document of ``store`` (see the module docstring).

    ``names_csv`` may be None with ``detect_names``. Running it twice with the same
    names.csv and key changes nothing the second time.
    """
    key_path = Path(key_path)
    if not key_path_allowed(key_path, project_dir):
        raise ProjectError(
            f"the key {key_path} is inside the project folder {project_dir}; the key holds the "
            "real names, so keep it elsewhere (e.g. an encrypted drive) and pass that --key")
    entries = read_names(names_csv) if names_csv is not None else []
    previous = read_key(key_path)
    if names_csv is None and not detect_names and not previous:
        raise ProjectError(f"nothing to pseudonymise with: {key_path} holds no key yet; pass "
                           "--names names.csv, --detect-names, or the key of an earlier run")
    texts = store.transcript_texts()
    detected: Sequence[str] = ()
    if detect_names:
        detected = [name for name, _ in detect_person_names(texts.values(), load_nlp())]
    plan = plan_pseudonyms(entries, store.document_speakers(),
                           previous=previous,
                           detected=detected)
    new_texts: dict[str, NewText] = {}
    totals: dict[str, int] = {}
    reports: list[DocumentReport] = []
    pseudonym_of = {r.name: r.pseudonym for r in plan.replacements}
    named = 0
    for i, (document, text) in enumerate(texts.items(), start=1):
        new_text, edits = apply_plan(plan, text)
        new_texts[document] = NewText(new_text, edits)
        counts = name_counts(edits)
        by_pseudonym: dict[str, int] = {}
        for name, n in counts.items():
            totals[name] = totals.get(name, 0) + n
            by_pseudonym[pseudonym_of[name]] = by_pseudonym.get(pseudonym_of[name], 0) + n
        hidden = _holds_name(plan, document)
        named += hidden
        reports.append(DocumentReport(
            label=f"document {i} (its name holds a listed name)" if hidden else document,
            replacements=len(edits), by_pseudonym=dict(sorted(by_pseudonym.items()))))
    rows = key_rows(plan, totals, previous)
    found = {fold_name(r["name"]) for r in rows if r.get("count", "").strip() not in ("", "0")}
    unfound = tuple(sorted(e.line for e in entries if e.line and fold_name(e.name) not in found))
    documents = sorted(texts)
    digest = key_digest(rows)
    with store.transaction():
        changed = store.rewrite_documents(new_texts, lambda s: replace_names(plan, s))
        if (pseudonymised_documents(store) != documents or any(changed.values())
                or store.get_setting(KEY_SETTING) != digest):
            store.set_setting(DOCUMENTS_SETTING, json.dumps(documents, ensure_ascii=False))
            store.set_setting(TEXTS_SETTING, json.dumps(
                {d: text_key(t.text) for d, t in new_texts.items()}, ensure_ascii=False))
            store.set_setting(KEY_SETTING, digest)
            store.set_setting(TIME_SETTING, now())
        if rows != previous:
            write_key(key_path, rows)  # last: if it fails, the project is left as it was
    return PseudonymReport(
        documents=tuple(reports), people=len(plan.pseudonyms()), changed=changed,
        named_documents=named, detected=len(detected),
        stale_models=bool(changed["documents"]) and store.latest_model() is not None,
        key_path=key_path, key=tuple(rows), unfound_lines=unfound)


# -- checking an export --------------------------------------------------------------------
#: A letter next to a digit, or an underscore, dash or dot: split before looking for names
#: in names of things (``jane_doe2.txt`` holds ``jane``).
_GLUE = re.compile(r"[_\-.]+|(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


@dataclass(frozen=True)
class KeyNames:
    """The names of the last run's key, to check what an export would write."""

    path: Path
    matcher: NameMatcher
    lines: tuple[int, ...]  # key file line of each name

    def line_in(self, text: str, *, split: bool = False) -> int | None:
        """The key line of the first name found in ``text`` (``split``: also between
        letters and digits, underscores, dashes and dots, for names of things)."""
        found = self.matcher.first(_GLUE.sub(" ", text) if split else text)
        return None if found is None else self.lines[found.index]


def key_names(store: Store, project_dir: str | Path, key_path: str | Path) -> KeyNames:
    """The names of the key the last ``pseudonymise`` run wrote; refused when the key is
    inside the project, missing, or not that run's key (see :data:`KEY_SETTING`)."""
    key_path = Path(key_path)
    if not key_path_allowed(key_path, project_dir):
        raise ProjectError(
            f"the key {key_path} is inside the project folder {project_dir}; the key holds the "
            "real names, so move it out of the project before sharing and pass that --key")
    recorded = store.get_setting(KEY_SETTING)
    if not recorded:
        raise ProjectError("the project does not record which key its last pseudonymise run "
                           "wrote; run `isp-nlp pseudonymise --key KEY` again, then export")
    lines = read_key_lines(key_path)
    if not lines:
        raise InputFileError(f"the pseudonym key '{key_path}' does not exist or lists no "
                             "names; pass the --key that `isp-nlp pseudonymise` wrote")
    if key_digest([row for _, row in lines]) != recorded:
        raise ProjectError(
            f"the key {key_path} is not the one the last `isp-nlp pseudonymise` run wrote "
            "(its contents differ); pass that key, or run pseudonymise again with this one")
    names = [row.get("name", "") for _, row in lines]
    exact = [row.get("kind", "") == SPEAKER for _, row in lines]
    return KeyNames(key_path, NameMatcher(names, exact), tuple(line for line, _ in lines))
