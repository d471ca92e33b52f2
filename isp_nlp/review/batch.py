"""Batch triage: the review queue as a table to fill in, and the filled table recorded.

For coders who prefer a spreadsheet to the terminal review. :func:`triage_table` gives
one row per pending suggestion of the latest model (the queue ``isp-nlp review`` shows,
in the same order), with empty ``decision``, ``codes`` and per-dimension columns to fill.
:func:`record_decisions` checks every filled row first and records nothing if any is
wrong; then each row goes through a :class:`~isp_nlp.review.session.ReviewSession`, the
path ``review --script`` takes. Rows are matched by ``item_key``, so a table exported
before a retrain still applies to the suggestions it named (looked up among the
suggestions stored for the model the row names). A row whose item this coder already
settled is not recorded again.

No file formats here: :mod:`isp_nlp.interchange.triage_sheet` reads and writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from isp_nlp.errors import AlreadyDecided, ImportCodesError, IspNlpError
from isp_nlp.records import Codebook
from isp_nlp.review.items import ItemDetails, build_review_items
from isp_nlp.review.queue import FINAL_ACTIONS, SORTERS, ReviewItem, pending
from isp_nlp.review.session import ACTIONS, ReviewSession, check_value
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.store.folder import require_codebook

BASE_COLUMNS = ("item_key", "model", "document", "segment", "speaker", "text",
                "suggested_codes")
DECISION = "decision"
CODES = "codes"
SUGGESTED = "suggested_"


def columns(codebook: Codebook) -> tuple[str, ...]:
    """The table's header: what was suggested, then what the coder fills in."""
    dims = codebook.dimension_ids
    return (*BASE_COLUMNS, *(SUGGESTED + d for d in dims), DECISION, CODES, *dims)


def _suggested_codes(item: ReviewItem) -> str:
    chosen = set(item.suggested_codes)
    return ", ".join(f"{code} ({p:.2f})" for code, p in item.codes if code in chosen)


def _suggested_value(item: ReviewItem, dimension: str) -> str:
    got = item.value(dimension)
    return "" if got is None else f"{got[0]} ({got[1]:.2f})"


def triage_table(store: Store, coder: str, *, order: str = "uncertain"
                 ) -> tuple[tuple[str, ...], list[list[object]]]:
    """(header, rows): one row per suggestion still pending for ``coder`` (or for nobody
    in particular when ``coder`` is empty), in review order."""
    codebook = require_codebook(store)
    decided = DecisionLog(store).decided(coder) if coder else {}
    items = pending(SORTERS[order](build_review_items(store, coder, decided)), decided)
    dims = codebook.dimension_ids
    rows: list[list[object]] = []
    for item in items:
        seg = item.segment
        rows.append([item.key, item.model_id, seg.document, seg.index, seg.speaker or "",
                     seg.text, _suggested_codes(item),
                     *(_suggested_value(item, d) for d in dims),
                     "", "", *("" for _ in dims)])
    return columns(codebook), rows


@dataclass
class TriageSummary:
    """What :func:`record_decisions` did, by outcome."""

    accepted: int = 0
    rejected: int = 0
    relabelled: int = 0
    skipped: int = 0
    left: int = 0  # rows with an empty decision
    already: int = 0  # rows whose item this coder had settled before
    recorded: list[str] = field(default_factory=list)  # item keys recorded now

    def line(self) -> str:
        return (f"{self.accepted} accepted, {self.rejected} rejected, {self.relabelled} "
                f"relabelled, {self.skipped} skipped, {self.left} left, {self.already} "
                "already decided")


@dataclass(frozen=True)
class _Row:
    line: int
    action: str
    item: ReviewItem
    codes: tuple[str, ...]
    values: dict[str, str]


def _model_entry(store: Store, model_id: str) -> dict | None:
    latest = store.latest_model()
    if latest is not None and latest["id"] == model_id:
        return latest
    return store.model(model_id)


class _Items:
    """Review items by key, built per model on first need (every item, decided or not)."""

    def __init__(self, store: Store, coder: str) -> None:
        self.store, self.coder = store, coder
        self._by_model: dict[str, dict[str, ReviewItem]] = {}
        self._latest = _latest_id(store)  # read once, not once per row

    def find(self, key: str, model_id: str) -> ReviewItem | None:
        models = [m for m in (model_id, self._latest) if m]
        for model in dict.fromkeys(models):
            if model not in self._by_model:
                entry = _model_entry(self.store, model)
                self._by_model[model] = {} if entry is None else {
                    i.key: i for i in build_review_items(self.store, self.coder, model=entry,
                                                         keep_coded=True)}
            if key in self._by_model[model]:
                return self._by_model[model][key]
        return None


def _latest_id(store: Store) -> str:
    latest = store.latest_model()
    return "" if latest is None else str(latest["id"])


def _position(header: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, name in enumerate(header):
        out.setdefault(name.strip().lower(), i)
    return out


def check_rows(store: Store, coder: str, header: Sequence[str],
               rows: Sequence[tuple[int, Sequence[str]]]) -> tuple[list[_Row], int, list[str]]:
    """(the filled rows, resolved; rows left empty; problems as ``line N, column C: ...``)."""
    codebook = require_codebook(store)
    where = _position(header)
    problems: list[str] = []
    for needed in ("item_key", DECISION):
        if needed not in where:
            problems.append(f"line 1: the header has no {needed!r} column; export the "
                            "suggestions again with `isp-nlp export-suggestions`.")
    if problems:
        return [], 0, problems
    items = _Items(store, coder)
    out: list[_Row] = []
    left = 0
    seen: dict[str, int] = {}

    def cell(cells: Sequence[str], name: str) -> str:
        i = where.get(name)
        return "" if i is None or i >= len(cells) else str(cells[i]).strip()

    for line, cells in rows:
        action = cell(cells, DECISION).lower()
        if not action:
            left += 1
            continue
        bad = len(problems)
        if action not in ACTIONS:
            problems.append(f"line {line}, column decision: {action!r} is not a decision; "
                            f"write one of {', '.join(ACTIONS)}.")
        key = cell(cells, "item_key")
        item = items.find(key, cell(cells, "model")) if key else None
        if item is None:
            problems.append(f"line {line}, column item_key: the project holds no suggestion "
                            f"with item key {key[:16] or '(empty)'!r}; export again.")
        elif key in seen:
            problems.append(f"line {line}, column item_key: the item of line {seen[key]} "
                            "appears again; keep one row per item.")
        else:
            seen[key] = line
        codes: tuple[str, ...] = ()
        values: dict[str, str] = {}
        if action == "relabel":
            codes = tuple(dict.fromkeys(c.strip() for c in cell(cells, CODES).split(",")
                                        if c.strip()))
            for code in codes:
                if code not in codebook.code_ids:
                    problems.append(
                        f"line {line}, column codes: {code!r} is not a code id of codebook "
                        f"{codebook.name!r}; use ids such as "
                        f"{', '.join(codebook.code_ids[:5])}.")
            for dim in codebook.dimension_ids:
                try:
                    value = check_value(codebook, dim, cell(cells, dim), "use one of those")
                except IspNlpError as exc:
                    problems.append(f"line {line}, column {dim}: {exc}")
                    continue
                if value is not None:
                    values[dim] = value
        if len(problems) == bad and item is not None:
            out.append(_Row(line, action, item, codes, values))
    return out, left, problems


def record_decisions(store: Store, coder: str, header: Sequence[str],
                     rows: Sequence[tuple[int, Sequence[str]]], *, name: str = "the file"
                     ) -> TriageSummary:
    """Record every filled row of ``rows`` (``(line number, cells)`` under ``header``)
    as ``coder``'s review decision; all or nothing: any bad row raises
    :class:`~isp_nlp.errors.ImportCodesError` listing them all, and nothing is recorded."""
    if not isinstance(coder, str) or not coder.strip():
        raise IspNlpError(f"The coder name {coder!r} is empty; expected a non-empty name "
                          "such as 'alice'; pass it with --coder NAME.")
    coder = coder.strip()
    checked, left, problems = check_rows(store, coder, header, rows)
    if problems:
        count = f"{len(problems)} problems" if len(problems) > 1 else "a problem"
        raise ImportCodesError(f"{name} has {count}, so nothing was recorded; "
                               f"first: {problems[0]}", problems)
    recorder = DecisionLog(store)
    codebook = require_codebook(store)
    summary = TriageSummary(left=left)
    details = ItemDetails(store)  # the decision keeps the evidence shown, as in review
    with store.transaction():  # the whole file or nothing, even if a write fails
        decided = recorder.decided(coder)
        for row in checked:
            before = decided.get(row.item.key)
            if before in FINAL_ACTIONS or (before == "skip" and row.action == "skip"):
                summary.already += 1
                continue
            session = ReviewSession([row.item], recorder, coder, codebook, details=details)
            try:
                if row.action == "accept":
                    session.accept()
                elif row.action == "reject":
                    session.reject()
                elif row.action == "relabel":
                    session.relabel(row.codes, row.values)
                else:
                    session.skip()
            except AlreadyDecided:
                summary.already += 1
                continue
            decided[row.item.key] = row.action
            summary.recorded.append(row.item.key)
            attr = {"accept": "accepted", "reject": "rejected", "relabel": "relabelled",
                    "skip": "skipped"}[row.action]
            setattr(summary, attr, getattr(summary, attr) + 1)
    return summary
