"""Codebook checking: every problem in a codebook dict as one plain sentence.

Also the default stage dimension (for codebooks without ``dimensions:``) and the
spelling normalisation of dimension values, which checking, loading and the
coded-segment readers share. :mod:`isp_nlp.codebook.load` builds the Codebook once this passes.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

from isp_nlp.errors import did_you_mean
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, STAGES, Code, Dimension

TOP_KEYS = ("name", "codes", "dimensions", "stage")
CODE_KEYS = ("id", "name", "parent", "definition", "include", "exclude", "examples", "color",
             "exclusive")
STAGE_KEYS = ("id", "name", "definition", "include", "exclude", "examples", "color")
DIMENSION_KEYS = ("id", "name", "definition", "ordered", "pathway", "values")
VALUE_KEYS = ("id", "name", "definition", "include", "exclude", "examples", "color", "unordered")
#: Names a dimension may not take: the code dimension and the coded-segments CSV's own
#: columns (a dimension is a column of that CSV, named by its id).
RESERVED_DIMENSION_IDS = (CODE_DIMENSION, "document", "segment", "text", "coder", "speaker",
                          "start", "end", "provenance", "none")
#: A dimension id: it names a CSV column and a command-line value, so no spaces.
DIMENSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
TEXT_FIELDS = ("definition", "include", "exclude")
#: Levels a code may sit below the top (a top-level code is level 1). A REFI-QDA export
#: writes nested codes as nested XML, which Python serialises recursively and cannot write
#: near its recursion limit (about 1,000, less under a deep call stack); no real codebook
#: nests beyond a dozen levels.
MAX_CODE_DEPTH = 100
#: Codes a codebook may hold: real codebooks have tens to a few thousand; beyond this the
#: file is not a codebook a team codes with (and every later step would crawl).
MAX_CODES = 50_000
#: A code colour as REFI-QDA tools exchange it: ``#RRGGBB`` (``#RGB`` is read too).
COLOR = re.compile(r"#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})")

_STAGE_DEFAULTS = {
    "push": ("Push", "One-directional, didactic dissemination of knowledge, such as training."),
    "push_pull": ("Push-pull", "Tailored, multi-level capacity building that responds to demand."),
    "exchange": ("Exchange", "Co-creation through trusting, reciprocal relationships."),
    "none": ("None", "No stage is evident."),
}
DEFAULT_STAGES: tuple[Code, ...] = tuple(
    Code(sid, name, definition=text, dimension=STAGE_DIMENSION)
    for sid, (name, text) in _STAGE_DEFAULTS.items()
)
_DEFAULT_STAGE_BY_ID = {s.id: s for s in DEFAULT_STAGES}


def stage_dimension(values: Sequence[Code] = DEFAULT_STAGES) -> Dimension:
    """The dimension a codebook without ``dimensions:`` has: the implementation-support
    stages push < push_pull < exchange, with 'none' outside the order; pathways follow it."""
    return Dimension(id=STAGE_DIMENSION, name="Stage", values=tuple(values), ordered=True,
                     pathway=True, unordered=("none",))


# --------------------------------------------------------------------------- values


def _spelling_key(text: str) -> str:
    tokens = [t for t in re.split(r"[^0-9a-z]+", text.casefold()) if t and t != "and"]
    return "_".join(tokens)


def normalise_value(dimension: Dimension, value: str | None) -> str | None:
    """Map a spelling of one of ``dimension``'s values to its id: the id itself, or the id
    or name written with other case, spaces or punctuation ("Push/Pull", "push-pull" and
    "PUSH_PULL" all give ``push_pull``).

    Empty or None gives None (no value given); an unknown value is returned stripped so
    the caller can report it (see :func:`is_value`).
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text in dimension.value_ids:
        return text
    key = _spelling_key(text)
    for v in dimension.values:
        if key and key in (_spelling_key(v.id), _spelling_key(v.name)):
            return v.id
    return text


def is_value(dimension: Dimension, value: str | None) -> bool:
    """True when ``value`` normalises to one of ``dimension``'s value ids."""
    return normalise_value(dimension, value) in dimension.value_ids


_DEFAULT_STAGE_DIMENSION = stage_dimension()


# --------------------------------------------------------------------------- checking


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 40


def _show(value: Any) -> str:
    """A short repr that never builds the whole value's text (it may be huge)."""
    text = _SHORT.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Checker:
    """Collects problems while walking the parsed YAML."""

    def __init__(self, source: str, lines: Mapping[str, int] | None) -> None:
        self.source = source
        self.lines = dict(lines or {})
        self.problems: list[str] = []

    def at(self, pos: str) -> str:
        line = self.lines.get(pos)
        return f"{pos} at line {line}" if line else pos

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def keys(self, entry: Mapping[str, Any], allowed: tuple[str, ...], who: str) -> None:
        for key in entry:
            if key not in allowed:
                self.add(
                    f"{who} has unknown key '{key}'{did_you_mean(str(key), allowed)}; "
                    f"allowed keys are {', '.join(allowed)}"
                )

    def text(self, entry: Mapping[str, Any], key: str, who: str, *, required: bool) -> str:
        value = entry.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(f"{who} has no {key}; add `{key}:` with a non-empty value")
            return ""
        if not isinstance(value, str):
            self.add(
                f"{who} has {key} {_show(value)}, which is {_type_name(value)}; expected text "
                f'(put it in quotes, e.g. {key}: "{value}")'
            )
            return ""
        return value.strip()

    def examples(self, entry: Mapping[str, Any], who: str) -> None:
        value = entry.get("examples")
        if value is None or isinstance(value, str):
            return
        if not isinstance(value, list):
            self.add(f"{who} has examples that are {_type_name(value)}; expected a list of strings")
            return
        for j, item in enumerate(value):
            if not isinstance(item, str):
                self.add(
                    f"{who} has examples[{j}] {_show(item)}, which is {_type_name(item)}; "
                    "expected a string (put it in quotes)"
                )

    def flag(self, entry: Mapping[str, Any], key: str, who: str) -> bool:
        """The boolean ``key`` of ``entry`` (False when absent); a non-boolean is a problem."""
        value = entry.get(key, False)
        if isinstance(value, bool):
            return value
        self.add(f"{who} has {key} {_show(value)}; write {key}: true or {key}: false")
        return False

    def color(self, entry: Mapping[str, Any], who: str) -> None:
        if "color" not in entry or entry["color"] == "":
            return
        value = entry["color"]
        if value is None:
            self.add(
                f"{who} has an empty color (in YAML an unquoted # starts a comment); "
                'write it in quotes, e.g. color: "#46AA00"'
            )
        elif not isinstance(value, str) or not COLOR.fullmatch(value.strip()):
            self.add(
                f"{who} has color {_show(value)}, which is not a #RRGGBB colour; "
                'write six hex digits after # in quotes, e.g. color: "#46AA00"'
            )


def check_codebook(
    data: Any, source: str = "codebook", *, lines: Mapping[str, int] | None = None
) -> list[str]:
    """Return every problem in parsed codebook ``data`` as a plain sentence.

    ``lines`` optionally maps positions such as ``"codes[3]"`` to file lines
    so problems can name them. An empty list means the codebook is valid.
    """
    ck = _Checker(source, lines)
    if not isinstance(data, Mapping):
        ck.add(
            f"the top level of {source} is {_type_name(data)}; expected a mapping "
            "with a `codes:` list"
        )
        return ck.problems
    ck.keys(data, TOP_KEYS, "the top level")
    if "name" in data and data["name"] is not None and not isinstance(data["name"], str):
        ck.add(f"the codebook name is {_type_name(data['name'])}; expected text")
    codes = data.get("codes")
    dims = data.get("dimensions")
    only_dimensions = isinstance(dims, list) and bool(dims)  # a scheme of dimensions alone
    if codes is None and not only_dimensions:
        ck.add("there is no `codes:` list; add `codes:` with at least one entry")
    elif codes is None:
        pass
    elif not isinstance(codes, list):
        ck.add(f"`codes:` is {_type_name(codes)}; expected a list of entries starting with '- id:'")
    elif not codes and not only_dimensions:
        ck.add("the `codes:` list is empty; add at least one code with an id and a name")
    elif len(codes) > MAX_CODES:
        ck.add(f"`codes:` holds {len(codes):,} entries, beyond the {MAX_CODES:,} isp-nlp "
               "reads; check that it is the right file, or split the codebook")
    else:
        _check_codes(ck, codes)
    if data.get("stage") is not None:
        if data.get("dimensions") is not None:
            ck.add("the codebook has both `stage:` and `dimensions:`; declare the stage as one "
                   "of the `dimensions:` (id: stage) and remove `stage:`")
        _check_stages(ck, data["stage"])
    if data.get("dimensions") is not None:
        _check_dimensions(ck, data["dimensions"])
        _check_names_apart(ck, codes, data["dimensions"])
    return ck.problems


def _check_names_apart(ck: _Checker, codes: Any, dims: Any) -> None:
    """A code may not take a dimension's id: agreement tables and CSV columns name both."""
    if not isinstance(codes, list) or not isinstance(dims, list):
        return
    dim_ids = {d.get("id") for d in dims if isinstance(d, Mapping)}
    for i, entry in enumerate(codes):
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str) \
                and entry["id"].strip() in dim_ids:
            ck.add(f"code '{entry['id'].strip()}' ({ck.at(f'codes[{i}]')}) has the id of a "
                   "dimension; tables and CSV columns name both, so rename one of them")


def _check_codes(ck: _Checker, codes: list[Any]) -> None:
    first_pos: dict[str, int] = {}
    parents: dict[str, tuple[str, int]] = {}
    for i, entry in enumerate(codes):
        pos = ck.at(f"codes[{i}]")
        if not isinstance(entry, Mapping):
            ck.add(f"{pos} is {_type_name(entry)}; expected a mapping with at least id and name")
            continue
        code_id = ck.text(entry, "id", pos, required=True)
        who = f"code '{code_id}' ({pos})" if code_id else pos
        ck.keys(entry, CODE_KEYS, who)
        ck.text(entry, "name", who, required=True)
        for key in TEXT_FIELDS:
            ck.text(entry, key, who, required=False)
        ck.examples(entry, who)
        ck.color(entry, who)
        ck.flag(entry, "exclusive", who)
        parent = ck.text(entry, "parent", who, required=False)
        if not code_id:
            continue
        if code_id in first_pos:
            ck.add(
                f"code id '{code_id}' is used twice ({ck.at(f'codes[{first_pos[code_id]}]')} "
                f"and {pos}); give each code a unique id"
            )
            continue
        first_pos[code_id] = i
        if parent:
            parents[code_id] = (parent, i)
    for code_id, (parent, i) in parents.items():
        who = f"code '{code_id}' ({ck.at(f'codes[{i}]')})"
        if parent == code_id:
            ck.add(f"{who} is its own parent; remove `parent:` or name another code")
        elif parent not in first_pos:
            ck.add(
                f"{who} has unknown parent '{parent}'{did_you_mean(parent, list(first_pos))}; "
                "use another code's id or remove `parent:`"
            )
    for cycle in _find_cycles({c: p for c, (p, _) in parents.items()}, list(first_pos)):
        ck.add(
            f"codes form a cycle {' → '.join(cycle)}; remove `parent:` from one of them "
            "to make it a top-level code"
        )
    depths = code_depths({c: parents[c][0] if c in parents else None for c in first_pos})
    deep = [c for c in first_pos if depths[c] > MAX_CODE_DEPTH]
    if deep:
        ck.add(f"code '{deep[0]}' ({ck.at(f'codes[{first_pos[deep[0]]}]')}) "
               f"{depth_fix(depths[deep[0]], len(deep))}")


def exclusive_warnings(codes: Sequence[Code]) -> list[str]:
    """Plain sentences for codes marked ``exclusive`` with fewer than two children: the
    mark then constrains nothing (warned, not refused: a codebook grows a child at a time,
    and loading it as written loses nothing; the mark takes effect with the second child)."""
    out = []
    for code in codes:
        if not code.exclusive:
            continue
        kids = [c.id for c in codes if c.parent == code.id]
        if len(kids) < 2:
            has = f"only one child ('{kids[0]}')" if kids else "no children"
            out.append(f"code '{code.id}' says `exclusive: true` but has {has}, so it "
                       "excludes nothing; `exclusive:` goes on the parent of two or more "
                       "codes that never go on one segment together")
    return out


def code_depths(parent_of: Mapping[str, str | None]) -> dict[str, int]:
    """The level of every code in ``parent_of`` (code id → parent id; 1 at the top),
    walked without recursion; a chain stops at an unknown parent or a cycle."""
    depth: dict[str, int] = {}
    for start in parent_of:
        chain: list[str] = []
        seen: set[str] = set()
        node: str | None = start
        while node is not None and node in parent_of and node not in depth and node not in seen:
            seen.add(node)
            chain.append(node)
            node = parent_of[node]
        level = depth.get(node, 0) if node is not None else 0
        for code_id in reversed(chain):
            level += 1
            depth[code_id] = level
    return depth


def too_deep(codes: Sequence[Code]) -> tuple[Code, int, int] | None:
    """The first code nested beyond :data:`MAX_CODE_DEPTH`, its level and how many codes
    are; None when none is."""
    depths = code_depths({c.id: c.parent for c in codes})
    deep = [c for c in codes if depths.get(c.id, 0) > MAX_CODE_DEPTH]
    return (deep[0], depths[deep[0].id], len(deep)) if deep else None


def depth_fix(level: int, more: int) -> str:
    """The end of a too-deep message: how deep, the limit and the fix."""
    others = f" (and {more - 1} more codes)" if more > 1 else ""
    return (f"is nested {level} levels deep{others}, beyond the {MAX_CODE_DEPTH} levels "
            "a REFI-QDA export can write; attach it to a code nearer the top")


def _find_cycles(parent_of: dict[str, str], order: list[str]) -> list[list[str]]:
    """Cycles of length >= 2 in the parent graph, each starting at its earliest code."""
    cycles: list[list[str]] = []
    done: set[str] = set()
    rank = {c: i for i, c in enumerate(order)}
    for start in order:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            nxt = parent_of.get(node)
            node = nxt if nxt in rank and nxt != node else None
        if node is not None and node in on_path:
            members = path[path.index(node) :]
            first = min(members, key=rank.__getitem__)
            k = members.index(first)
            ring = members[k:] + members[:k]
            cycles.append([*ring, first])
        done.update(path)
    return cycles


def _check_stages(ck: _Checker, stages: Any) -> None:
    if not isinstance(stages, list):
        ck.add(
            f"`stage:` is {_type_name(stages)}; expected a list of the stages "
            f"{', '.join(STAGES)} (or remove it to use the defaults)"
        )
        return
    seen: dict[str, str] = {}
    hinted: set[str] = set()
    for i, entry in enumerate(stages):
        pos = ck.at(f"stage[{i}]")
        if isinstance(entry, str):
            stage_id = entry.strip()
        elif isinstance(entry, Mapping):
            stage_id = ck.text(entry, "id", pos, required=True)
            ck.keys(entry, STAGE_KEYS, f"stage '{stage_id}' ({pos})" if stage_id else pos)
            ck.text(entry, "name", pos, required=False)
            for key in TEXT_FIELDS:
                ck.text(entry, key, pos, required=False)
            ck.examples(entry, pos)
            ck.color(entry, f"stage '{stage_id}' ({pos})" if stage_id else pos)
            if not stage_id:
                continue
        else:
            ck.add(f"{pos} is {_type_name(entry)}; expected a stage id or a mapping with `id:`")
            continue
        if stage_id not in STAGES:
            canon = normalise_value(_DEFAULT_STAGE_DIMENSION, stage_id)
            if canon in STAGES:
                hinted.add(canon)
                fix = f"write '{canon}'"
            else:
                fix = f"use one of {', '.join(STAGES)}"
            ck.add(f"{pos} has stage id '{stage_id}', which is not a stage id; {fix}")
        elif stage_id in seen:
            ck.add(f"stage '{stage_id}' is listed twice ({seen[stage_id]} and {pos}); keep one")
        else:
            seen[stage_id] = pos
    missing = [s for s in STAGES if s not in seen and s not in hinted]
    if missing:
        ck.add(
            f"`stage:` is missing {', '.join(missing)}; list all four stages "
            f"{', '.join(STAGES)} or remove `stage:` to use the defaults"
        )


def _check_dimensions(ck: _Checker, dims: Any) -> None:
    if not isinstance(dims, list):
        ck.add(f"`dimensions:` is {_type_name(dims)}; expected a list of entries starting "
               "with '- id:' (or [] for a codebook with codes only)")
        return
    seen: dict[str, str] = {}
    pathways: list[str] = []
    for i, entry in enumerate(dims):
        pos = ck.at(f"dimensions[{i}]")
        if not isinstance(entry, Mapping):
            ck.add(f"{pos} is {_type_name(entry)}; expected a mapping with id and values")
            continue
        dim_id = ck.text(entry, "id", pos, required=True)
        who = f"dimension '{dim_id}' ({pos})" if dim_id else pos
        ck.keys(entry, DIMENSION_KEYS, who)
        ck.text(entry, "name", who, required=False)
        ck.text(entry, "definition", who, required=False)
        flags = {}
        for key in ("ordered", "pathway"):
            value = entry.get(key, False)
            if not isinstance(value, bool):
                ck.add(f"{who} has {key} {_show(value)}; write {key}: true or {key}: false")
                value = False
            flags[key] = value
        if dim_id:
            if not DIMENSION_ID.fullmatch(dim_id):
                ck.add(f"{who} has an id with spaces or punctuation; it names a CSV column, "
                       "so use letters, digits and _ (e.g. talk_type)")
            elif dim_id.casefold() in RESERVED_DIMENSION_IDS:
                ck.add(f"{who} takes the name '{dim_id}', which the coded-segments CSV "
                       "already uses for another column; choose another id")
            elif dim_id in seen:
                ck.add(f"dimension id '{dim_id}' is used twice ({seen[dim_id]} and {pos}); "
                       "give each dimension a unique id")
            else:
                seen[dim_id] = pos
        if flags["pathway"]:
            pathways.append(who)
            if not flags["ordered"]:
                ck.add(f"{who} is the pathway dimension but not ordered; pathways follow an "
                       "order, so add `ordered: true` and list the values in that order")
        _check_values(ck, entry.get("values"), who, ordered=flags["ordered"])
    if len(pathways) > 1:
        ck.add(f"{' and '.join(pathways)} both say `pathway: true`; pathways follow one "
               "dimension, so keep it on one")


def _check_values(ck: _Checker, values: Any, who: str, *, ordered: bool) -> None:
    if not isinstance(values, list) or len(values) < 2:
        what = "no `values:`" if values is None else (
            f"values that are {_type_name(values)}" if not isinstance(values, list)
            else f"{len(values)} value")
        ck.add(f"{who} has {what}; a single-choice dimension needs a `values:` list of at "
               "least two entries (- id: ...)")
        if not isinstance(values, list):
            return
    seen: dict[str, int] = {}
    on_scale = 0
    for j, entry in enumerate(values):
        pos = f"{who} values[{j}]"
        if isinstance(entry, str) and entry.strip():
            value_id = entry.strip()
            unordered = False
        elif isinstance(entry, Mapping):
            value_id = ck.text(entry, "id", pos, required=True)
            vwho = f"value '{value_id}' of {who}" if value_id else pos
            if "exclusive" in entry:
                ck.add(f"{vwho} says `exclusive:`, but a dimension's values are already "
                       "single-choice (a segment takes one of them); remove it")
                entry = {k: v for k, v in entry.items() if k != "exclusive"}
            ck.keys(entry, VALUE_KEYS, vwho)
            ck.text(entry, "name", vwho, required=False)
            for key in TEXT_FIELDS:
                ck.text(entry, key, vwho, required=False)
            ck.examples(entry, vwho)
            ck.color(entry, vwho)
            unordered = entry.get("unordered", False)
            if not isinstance(unordered, bool):
                ck.add(f"{vwho} has unordered {_show(unordered)}; write unordered: true or "
                       "leave it out")
                unordered = False
            elif unordered and not ordered:
                ck.add(f"{vwho} says `unordered: true` but {who} is not ordered; remove it, "
                       "or add `ordered: true` to the dimension")
            if not value_id:
                continue
        else:
            ck.add(f"{pos} is {_type_name(entry)}; expected a value id or a mapping with `id:`")
            continue
        if value_id in seen:
            ck.add(f"{who} lists value '{value_id}' twice (values[{seen[value_id]}] and "
                   f"values[{j}]); keep one")
            continue
        seen[value_id] = j
        on_scale += not unordered
    if ordered and len(seen) >= 2 and on_scale < 2:
        ck.add(f"{who} is ordered but fewer than two of its values are on the order; mark "
               "only values outside the order (such as 'none') `unordered: true`")


# --------------------------------------------------------------------------- building


def _summary(source: str, problems: list[str]) -> str:
    n = len(problems)
    noun = "problem" if n == 1 else "problems"
    fix = "Fix it" if n == 1 else "Fix them"
    return f"{source} has {n} {noun}: {'; '.join(problems)}. {fix} and load the codebook again."
