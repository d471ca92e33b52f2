"""Pseudonyms for people's names: read names.csv, plan the replacements, apply them.

The functions here are pure apart from reading ``names.csv`` (the key file is
:mod:`isp_nlp.interchange.pseudonym_key`). A :class:`Plan` maps every listed name (and
every speaker label that is not a generic role) to one pseudonym; :func:`apply_plan`
replaces whole-word matches by the rule of :mod:`isp_nlp.interchange.name_match` (case,
accents, apostrophes, hyphens and transliterations do not count), longest names first,
and returns the new text with the :class:`Edit` list that :func:`map_span` uses to
carry code-point offsets (codings, segments, turns, notes) from the old text to the new
one.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isp_nlp.coded.safe_csv import restore_cell
from isp_nlp.errors import InputFileError
from isp_nlp.ingest.controls import CONTROLS
from isp_nlp.ingest.labels import is_known_label
from isp_nlp.interchange.name_match import NameMatcher, name_key
from isp_nlp.records import Edit, OffsetMap
from isp_nlp.store.files import read_regular

KINDS = ("participant", "colleague", "organisation", "place")
#: The bracketed pseudonym prefix of each kind (and of a person of no kind, or detected).
_PREFIX = {"colleague": "Colleague", "organisation": "Organisation", "place": "Place"}
#: Speaker labels kept as they are besides those ingest knows (Interviewer, P07, Speaker 2,
#: I, R, Q, A, ...; see :func:`isp_nlp.ingest.labels.is_known_label`).
GENERIC_SPEAKERS = frozenset({
    "interviewer", "interviewee", "participant", "respondent", "moderator", "facilitator",
    "speaker", "researcher", "host", "guest", "unknown", "all", "both", "group",
    "audience", "interpreter", "translator", "narrator", "note", "notes", "student",
    "teacher", "nurse", "doctor", "patient", "parent", "mother", "father", "child",
    "manager", "staff", "member", "clinician", "coach", "caller", "client", "customer",
    "therapist", "counsellor", "counselor", "trainer", "supervisor", "observer",
    "man", "woman", "male", "female", "voice", "other", "others", "everyone",
})
#: The kind of a person known only from a speaker label: numbered like participants, and
#: matched with the case of the label (so a label ``Mum`` leaves "my mum" alone).
SPEAKER = "speaker"
#: names.csv larger than this is refused before it is read (a few hundred thousand names).
MAX_NAMES_BYTES = 10 * 1024**2
#: Rows of names.csv (and of a key): a study lists tens to a few thousand people and
#: places; past this, planning and matching would take minutes.
MAX_NAMES = 20_000
#: What a name or pseudonym may not hold: control characters, bidi overrides, line breaks.
_NOT_TEXT = re.compile(rf"{CONTROLS.pattern}|[\t\n\r\u2028\u2029]")
_P_NUMBER = re.compile(r"P(\d+)")
_BRACKET_NUMBER = re.compile(r"\[(\w+) (\d+)\]")


@dataclass(frozen=True)
class NameEntry:
    """One row of names.csv (``line`` is its line in the file, 0 when not from a file)."""

    name: str
    pseudonym: str = ""
    kind: str = ""
    person: str = ""
    line: int = 0


@dataclass(frozen=True)
class Replacement:
    """A name, the pseudonym that replaces it, and the person's kind."""

    name: str
    pseudonym: str
    kind: str

    @property
    def exact_case(self) -> bool:
        return self.kind == SPEAKER


@dataclass(frozen=True)
class Plan:
    """Every name to replace, longest first, with its pseudonym."""

    replacements: tuple[Replacement, ...]
    _matcher: NameMatcher | None = field(repr=False, compare=False, default=None)

    def pseudonyms(self) -> set[str]:
        return {r.pseudonym for r in self.replacements}

    def find(self, matched: str) -> Replacement | None:
        """The replacement of ``matched`` when it is, as a whole, one of the names (by the
        same rule as :func:`apply_plan`)."""
        if self._matcher is None:
            return None
        i = self._matcher.whole(matched)
        return None if i is None else self.replacements[i]


def fold_name(name: str) -> str:
    """The comparison form of a name (:func:`isp_nlp.interchange.name_match.name_key`):
    case, accents, apostrophes, hyphens and spacing do not count."""
    return name_key(name)


def _clean(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).split())


# -- names.csv ---------------------------------------------------------------------------
def read_names(path: str | Path) -> list[NameEntry]:
    """Read and check names.csv: columns ``name`` and optional ``pseudonym``, ``kind``
    (participant | colleague | organisation | place) and ``person`` (rows with the same
    ``person`` are one person, e.g. ``Jane Doe`` and ``Jane``)."""
    path = Path(path)
    raw = read_regular(path, "names file", MAX_NAMES_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{path} is not UTF-8 text; save the names file as UTF-8 CSV "
                             "and try again") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().casefold() for h in (reader.fieldnames or [])]
    if "name" not in header:  # the columns found are not shown: line 1 may be a name
        raise InputFileError(f"{path}: line 1 has no 'name' column; the first line must be "
                             "a header such as name,pseudonym,kind")
    reader.fieldnames = header
    entries: list[NameEntry] = []
    seen: dict[str, int] = {}
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise InputFileError(f"{path}: line {reader.line_num} is not valid CSV ({exc}); save "
                             "the names file as CSV and try again") from None
    if len(rows) > MAX_NAMES:
        raise InputFileError(f"{path} lists {len(rows):,} rows, beyond the {MAX_NAMES:,} a "
                             "names file may hold; check that it is the right file")
    for line, row in rows:
        values = {k: restore_cell((v or "").strip()) for k, v in row.items() if k}
        if not any(values.values()):
            continue
        for column in ("name", "pseudonym"):
            if has_control(values.get(column, "")):
                raise InputFileError(
                    f"{path}: line {line} has a control character or line break in its "
                    f"{column}; a {column} is plain text on one line: correct that cell")
        name = _clean(values.get("name", ""))
        if not name:
            raise InputFileError(f"{path}: line {line} has an empty name; fill it in or "
                                 "delete the row")
        kind = values.get("kind", "").casefold()
        if kind and kind not in KINDS:
            raise InputFileError(f"{path}: line {line} has kind '{kind}'; expected one of "
                                 f"{', '.join(KINDS)} or empty")
        key = fold_name(name)
        if not any(c.isalnum() for c in key):
            raise InputFileError(f"{path}: line {line} has a name without letters; fill it "
                                 "in or delete the row")
        if key in seen:
            raise InputFileError(
                f"{path}: line {line} repeats the name on line {seen[key]} (names match "
                "whatever their case, accents, apostrophes and hyphens); list each name once")
        seen[key] = line
        entries.append(NameEntry(name=name, pseudonym=_clean(values.get("pseudonym", "")),
                                 kind=kind, person=values.get("person", ""), line=line))
    return entries


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character, a bidi override or a line break."""
    return _NOT_TEXT.search(text) is not None


# -- the plan ------------------------------------------------------------------------------
def is_generic_speaker(speaker: str) -> bool:
    """True for role labels kept as they are (Interviewer, Speaker 2, P07, Q, A, ...)."""
    s = " ".join(speaker.split())
    return is_known_label(s) or s.casefold() in GENERIC_SPEAKERS or (
        _BRACKET_NUMBER.fullmatch(s) is not None)


def _same_person(a: str, b: str) -> bool:
    """True when one name's words are all words of the other (``Jane`` of ``Jane Doe``)."""
    wa, wb = set(fold_name(a).split()), set(fold_name(b).split())
    return wa <= wb or wb <= wa


def plan_pseudonyms(
    entries: Sequence[NameEntry],
    speakers: Sequence[str] = (),
    *,
    previous: Sequence[Mapping[str, str]] = (),
    detected: Sequence[str] = (),
) -> Plan:
    """The replacement plan for the names of ``entries``, the ``speakers`` (in order of
    first appearance; generic roles are skipped) and ``detected`` names.

    ``previous`` (rows name, pseudonym, kind of an earlier key) keeps earlier choices and
    names, so a later run or a new interview wave gives the same people the same
    pseudonyms. A name without a pseudonym gets ``P01``… (speakers and participants),
    ``[Colleague 1]``, ``[Organisation 1]``, ``[Place 1]`` or ``[Person 1]`` by kind.
    Error messages name lines, never the names themselves.
    """
    groups: list[list[NameEntry]] = []
    by_person: dict[str, int] = {}
    by_pseudonym: dict[str, int] = {}
    for e in entries:  # group the rows into people: same ``person``, or a shared pseudonym
        gid: int | None = by_person.get(e.person.casefold()) if e.person else None
        if e.pseudonym:
            other = by_pseudonym.get(e.pseudonym.casefold())
            if other is not None and other != gid:
                if gid is None and any(_same_person(e.name, o.name) for o in groups[other]):
                    gid = other
                else:
                    raise InputFileError(
                        f"line {e.line} gives the pseudonym '{e.pseudonym}' of another person "
                        f"(line {groups[other][0].line}); give each person their own "
                        "pseudonym, or the same 'person' value if the two names are one person")
        if gid is None:
            groups.append([])
            gid = len(groups) - 1
        groups[gid].append(e)
        if e.person:
            by_person.setdefault(e.person.casefold(), gid)
        if e.pseudonym:
            by_pseudonym.setdefault(e.pseudonym.casefold(), gid)
    group_of = {fold_name(e.name): i for i, g in enumerate(groups) for e in g}
    before = {fold_name(r.get("name", "")): r for r in previous if r.get("name")}

    def add(entry: NameEntry, gid: int | None = None) -> int:
        if gid is None:
            groups.append([])
            gid = len(groups) - 1
        groups[gid].append(entry)
        group_of[fold_name(entry.name)] = gid
        return gid

    for key, r in before.items():  # names of the earlier key keep their pseudonyms
        p = _clean(r.get("pseudonym", ""))
        if key in group_of or not p:
            continue
        gid = by_pseudonym.get(p.casefold())
        if gid is not None and not any(
                _clean(before.get(fold_name(e.name), {}).get("pseudonym", "")) == p
                or _same_person(e.name, r["name"]) for e in groups[gid]):
            raise InputFileError(
                f"line {groups[gid][0].line} gives the pseudonym '{p}', which the key gives to "
                "another person; choose another pseudonym or a new key")
        gid = add(NameEntry(name=_clean(r["name"]), pseudonym=p, kind=r.get("kind", "")), gid)
        by_pseudonym.setdefault(p.casefold(), gid)
    speaker_groups: list[int] = []
    for s in map(_clean, speakers):  # speakers no row lists are people of their own
        if not s or is_generic_speaker(s) or s in by_pseudonym or s.casefold() in by_pseudonym:
            continue
        gid = group_of.get(fold_name(s))
        if gid is None:
            gid = add(NameEntry(name=s, kind=SPEAKER))
        elif all(e.kind == SPEAKER and e.name != s for e in groups[gid]):
            groups[gid].append(NameEntry(name=s, kind=SPEAKER))  # ``JANE`` beside ``Jane``
        if gid not in speaker_groups:
            speaker_groups.append(gid)
    for d in map(_clean, detected):
        if d and fold_name(d) not in group_of and not is_generic_speaker(d):
            add(NameEntry(name=d, kind="detected"))
    used = {e.pseudonym.casefold() for g in groups for e in g if e.pseudonym}
    used |= {_clean(r.get("pseudonym", "")).casefold() for r in before.values()}
    counters: dict[str, int] = {}

    def generate(prefix: str) -> str:
        while True:
            counters[prefix] = counters.get(prefix, 0) + 1
            n = counters[prefix]
            value = f"P{n:02d}" if prefix == "P" else f"[{prefix} {n}]"
            if value.casefold() not in used:
                used.add(value.casefold())
                return value

    order = speaker_groups + [i for i in range(len(groups)) if i not in speaker_groups]
    replacements: list[Replacement] = []
    for i in order:
        group = groups[i]
        earlier = [before[fold_name(e.name)] for e in group if fold_name(e.name) in before]
        kinds = [e.kind for e in group] + [r.get("kind", "") for r in earlier]
        kind = next((k for k in kinds if k and k != SPEAKER), "")
        if not kind and (i in speaker_groups or SPEAKER in kinds):
            kind = "participant"
        pseudonym = next((e.pseudonym for e in group if e.pseudonym), "") or next(
            (_clean(r.get("pseudonym", "")) for r in earlier if r.get("pseudonym")), "")
        if not pseudonym:
            pseudonym = generate("P" if kind == "participant" else _PREFIX.get(kind, "Person"))
        replacements += [Replacement(e.name, pseudonym, e.kind if e.kind == SPEAKER else kind)
                         for e in group]
    plan = make_plan(replacements)
    lines = {fold_name(e.name): e for g in groups for e in g}
    for rep in plan.replacements:  # a pseudonym holding a name would change on every run
        _, edits = apply_plan(plan, rep.pseudonym)
        if edits:  # named by lines, never by the pseudonym (it may be a listed name too)
            raise InputFileError(
                f"the pseudonym of {_where(lines.get(fold_name(rep.name)))} contains the name "
                f"of {_where(lines.get(fold_name(edits[0].name)))}, so it would be replaced "
                "again on the next run; choose a pseudonym that is not a name")
    return plan


def _where(entry: NameEntry | None) -> str:
    """Where a name comes from, for messages that must not show it."""
    if entry is not None and entry.line:
        return f"names file line {entry.line}"
    if entry is not None and entry.kind == SPEAKER:
        return "a speaker label"
    return "a name from the key or --detect-names"


def make_plan(replacements: Iterable[Replacement]) -> Plan:
    """A :class:`Plan` over ``replacements`` (sorted longest name first)."""
    ordered = tuple(sorted(replacements, key=lambda r: (-len(r.name), fold_name(r.name))))
    if not ordered:
        return Plan(replacements=())
    matcher = NameMatcher([r.name for r in ordered], [r.exact_case for r in ordered])
    return Plan(replacements=ordered, _matcher=matcher)


# -- applying it -------------------------------------------------------------------------
def apply_plan(plan: Plan, text: str) -> tuple[str, tuple[Edit, ...]]:
    """Replace every listed name in ``text``; return the new text and the edits made."""
    if plan._matcher is None:
        return text, ()
    parts: list[str] = []
    edits: list[Edit] = []
    pos = shift = 0
    for m in plan._matcher.finditer(text):
        r = plan.replacements[m.index]
        parts.append(text[pos:m.start])
        parts.append(r.pseudonym)
        start = m.start + shift
        edits.append(Edit(m.start, m.end, start, start + len(r.pseudonym), r.name))
        shift += len(r.pseudonym) - (m.end - m.start)
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts), tuple(edits)


def replace_names(plan: Plan, text: str) -> str:
    """``text`` with every listed name replaced."""
    return apply_plan(plan, text)[0]


def map_span(edits: Sequence[Edit], start: int, end: int) -> tuple[int, int]:
    """The new ``(start, end)`` of the old span ``start:end`` (see :class:`OffsetMap`)."""
    return OffsetMap(edits).span(start, end)


def name_counts(edits: Iterable[Edit]) -> dict[str, int]:
    """Replacements per plan name."""
    out: dict[str, int] = {}
    for e in edits:
        out[e.name] = out.get(e.name, 0) + 1
    return out
