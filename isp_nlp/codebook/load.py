"""Load and check a codebook, walk its hierarchy, and name its single-choice dimensions.

A codebook is a YAML file (JSON alike)::

    name: ISP demo codebook              # optional (defaults to the file name)
    dimensions:                          # optional: single-choice dimensions (see below)
      - id: phase                        # required, unique; names the CSV column
        name: Phase of the work          # optional (defaults to the id)
        definition: ...                  # optional text
        ordered: true                    # optional: the values are a scale, in this order
        pathway: true                    # optional: pathways follow it (one dimension at most)
        values:                          # at least two, like codes (a bare id also works)
          - {id: early, name: Early, definition: ..., include: ..., exclude: ..., examples: []}
          - {id: middle, name: Middle}
          - {id: late, name: Late}
          - {id: unclear, name: Unclear, unordered: true}   # outside the order
    codes:
      - id: strategies                   # required, unique; [a-z0-9_] recommended
        name: Implementation support strategies   # required
        definition: ...                  # optional text
        include: ...                     # optional text: when to apply the code
        exclude: ...                     # optional text: when not to apply it
        examples: ["...", "..."]         # optional list of strings (one string is accepted)
        color: "#46AA00"                 # optional #RRGGBB, quoted (an unquoted # is a comment)
        exclusive: false                 # optional: true makes its children mutually exclusive
      - id: didactic_training
        name: Didactic training
        parent: strategies               # optional; another code's id

Codes form a hierarchy through ``parent`` (no cycles); a segment may take any number of
them, except that of the children of a code marked ``exclusive: true`` it takes at most
one (open vs closed question): they are never suggested together. A code marked
exclusive with fewer than two children is a warning (:func:`codebook_warnings`), not an
error. A segment takes at most one value of each dimension. A codebook that declares
dimensions may leave out ``codes:`` (a scheme of single-choice dimensions alone).

Without a ``dimensions:`` key the codebook has the implementation-support ``stage``
dimension (push < push_pull < exchange, with ``none`` outside the order; pathways follow
it), as before dimensions could be declared; ``dimensions: []`` declares none. The older
``stage:`` key still reads: its ids must be exactly ``push``, ``push_pull``, ``exchange``
and ``none`` (any order; names and definitions are free, and missing ones take the
defaults), or bare ids (``stage: [push, push_pull, exchange, none]``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from isp_nlp.codebook.check import (
    _DEFAULT_STAGE_BY_ID,
    TEXT_FIELDS,
    _summary,
    check_codebook,
    exclusive_warnings,
    stage_dimension,
)
from isp_nlp.errors import CodebookError, InputFileError, did_you_mean
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, STAGES, Code, Codebook, Dimension
from isp_nlp.store.files import read_regular


def _examples(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(s.strip() for s in items if s.strip())


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return value.strip() if isinstance(value, str) else ""


def _build_code(entry: Mapping[str, Any], dimension: str) -> Code:
    return Code(
        id=_text(entry, "id"),
        name=_text(entry, "name"),
        parent=_text(entry, "parent") or None,
        definition=_text(entry, "definition"),
        include=_text(entry, "include"),
        exclude=_text(entry, "exclude"),
        examples=_examples(entry.get("examples")),
        dimension=dimension,
        color=_text(entry, "color"),
        exclusive=entry.get("exclusive") is True,
    )


def _build_stage(entry: Any) -> Code:
    if isinstance(entry, str):
        return _DEFAULT_STAGE_BY_ID[entry.strip()]
    base = _DEFAULT_STAGE_BY_ID[_text(entry, "id")]
    code = _build_code(entry, STAGE_DIMENSION)
    return replace(code, name=code.name or base.name, definition=code.definition or base.definition)


def _build_dimension(entry: Mapping[str, Any]) -> Dimension:
    dim_id = _text(entry, "id")
    values: list[Code] = []
    unordered: list[str] = []
    for value in entry["values"]:
        if isinstance(value, str):
            values.append(Code(id=value.strip(), name=value.strip(), dimension=dim_id))
            continue
        code = _build_code(value, dim_id)
        values.append(replace(code, parent=None, name=code.name or code.id))
        if value.get("unordered") is True:
            unordered.append(code.id)
    ordered = entry.get("ordered") is True
    return Dimension(id=dim_id, name=_text(entry, "name") or dim_id, values=tuple(values),
                     ordered=ordered, pathway=entry.get("pathway") is True,
                     unordered=tuple(unordered), definition=_text(entry, "definition"))


def codebook_from_dict(
    data: Any, source: str = "codebook", *, lines: Mapping[str, int] | None = None
) -> Codebook:
    """Build a :class:`Codebook` from parsed data; raise one CodebookError listing all problems."""
    problems = check_codebook(data, source, lines=lines)
    if problems:
        raise CodebookError(_summary(source, problems))
    name = data.get("name")
    name = name.strip() if isinstance(name, str) and name.strip() else Path(source).stem
    codes = tuple(_build_code(e, CODE_DIMENSION) for e in data.get("codes") or ())
    if data.get("dimensions") is not None:
        dimensions = tuple(_build_dimension(e) for e in data["dimensions"])
    elif data.get("stage") is not None:
        by_id = {s.id: s for s in (_build_stage(e) for e in data["stage"])}
        dimensions = (stage_dimension(tuple(by_id[s] for s in STAGES)),)
    else:
        dimensions = (stage_dimension(),)
    return Codebook(name=name, codes=codes, dimensions=dimensions)


def _code_to_dict(code: Code, with_parent: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": code.id, "name": code.name}
    if with_parent and code.parent:
        out["parent"] = code.parent
    for key in TEXT_FIELDS:
        if getattr(code, key):
            out[key] = getattr(code, key)
    if code.examples:
        out["examples"] = list(code.examples)
    if code.color:
        out["color"] = code.color
    if code.exclusive:
        out["exclusive"] = True
    return out


def _dimension_to_dict(dim: Dimension) -> dict[str, Any]:
    out: dict[str, Any] = {"id": dim.id, "name": dim.name}
    if dim.definition:
        out["definition"] = dim.definition
    if dim.ordered:
        out["ordered"] = True
    if dim.pathway:
        out["pathway"] = True
    values = []
    for value in dim.values:
        entry = _code_to_dict(value, False)
        if value.id in dim.unordered:
            entry["unordered"] = True
        values.append(entry)
    out["values"] = values
    return out


def codebook_to_dict(codebook: Codebook) -> dict[str, Any]:
    """Plain data (YAML/JSON-ready) that :func:`codebook_from_dict` turns back into ``codebook``."""
    return {
        "name": codebook.name,
        "dimensions": [_dimension_to_dict(d) for d in codebook.dimensions],
        "codes": [_code_to_dict(c, True) for c in codebook.codes],
    }


# --------------------------------------------------------------------------- loading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        try:
            first = seen.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if first != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key '{key}' appears twice (first on line {first})",
                key_node.start_mark,
            )
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


#: Larger codebook files are refused before reading (a codebook is a few hundred KB).
MAX_CODEBOOK_BYTES = 20_000_000
#: Coded-segments and consensus CSVs may be large (a million rows is about 100 MB).
MAX_TABLE_BYTES = 1_000_000_000
#: Nodes YAML aliases may add to a codebook once expanded, beyond the nodes written out
#: (billion-laughs guard; the nodes written out are bounded by MAX_CODEBOOK_BYTES).
MAX_YAML_NODES = 200_000


def read_text_file(path: Path, what: str, max_bytes: int = MAX_CODEBOOK_BYTES) -> str:
    """Read ``path`` as UTF-8 (BOM allowed), raising InputFileError for any read problem;
    files over ``max_bytes`` are refused before reading (opening and reading go through
    :func:`isp_nlp.store.files.read_regular`)."""
    size = path.stat().st_size if path.is_file() else 0
    if size > max_bytes:
        raise InputFileError(
            f"{path.name} is {size:,} bytes; a {what} file over "
            f"{max_bytes:,} bytes is refused; check that it is the right file."
        )
    raw = read_regular(path, f"{what} file", max_bytes)  # missing, folder, FIFO: one line
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            f"{path.name} line {line} is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "re-save the file as UTF-8 and try again."
        ) from exc
    if not text.strip():
        raise InputFileError(
            f"{path.name} is empty; expected a {what} file, so fill it in or choose another file."
        )
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputFileError(
            f"{path.name} line {line} holds a NUL byte, so it is not a text file; re-save it "
            "as plain UTF-8 text."
        )
    return text


def _expanded_size(node: Any, sizes: dict[int, int]) -> int:
    """Nodes under ``node`` with every alias expanded (shared nodes counted each time)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a cycle counts once while it is being measured
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = min(total, 2**62)  # exact for any real file, small numbers for bombs
    return sizes[id(node)]


def _short(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _yaml_lines(node: Any) -> dict[str, int]:
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key_node, value_node in node.value:
        if key_node.value in ("codes", "stage", "dimensions") and isinstance(
                value_node, yaml.SequenceNode):
            for i, item in enumerate(value_node.value):
                lines[f"{key_node.value}[{i}]"] = item.start_mark.line + 1
    return lines


def _parse_yaml(text: str, name: str) -> tuple[Any, dict[str, int]]:
    loader = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        sizes: dict[int, int] = {}  # one entry per node written in the file
        if node is not None and _expanded_size(node, sizes) - len(sizes) > MAX_YAML_NODES:
            raise InputFileError(
                f"{name} expands to more than {MAX_YAML_NODES:,} YAML nodes through its aliases "
                "(*name); a codebook does not need that: write the entries out, without aliases."
            )
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise InputFileError(
            f"{name} is nested too deeply to be a codebook (hundreds of levels); a codebook "
            "nests codes with `parent:` or a few levels of `children:`."
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name} line {mark.line + 1}" if mark else name
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        hint = "check the indentation and quoting on or just before that line"
        if "\\t" in problem or "'\\t'" in problem:
            hint = "YAML does not allow tabs for indentation, so indent with spaces"
        elif "appears twice" in problem:
            hint = "remove or rename one of them"
        raise InputFileError(f"{where} is not valid YAML ({problem}); {hint}.") from exc
    except yaml.YAMLError as exc:
        raise InputFileError(f"{name} is not valid YAML ({_short(str(exc))}); check its syntax."
                             ) from exc
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        raise InputFileError(f"{name} holds no codebook (only comments); add a `codes:` list.")
    return data, _yaml_lines(node)


def codebook_warnings(codebook: Codebook) -> list[str]:
    """What is odd but loadable in ``codebook`` (an exclusive code without two children)."""
    return exclusive_warnings(codebook.codes)


def load_codebook(path: str | Path) -> Codebook:
    """Read and validate a codebook YAML file (format in the module docstring)."""
    path = Path(path)
    text = read_text_file(path, "codebook")
    data, lines = _parse_yaml(text, path.name)
    return codebook_from_dict(data, path.name, lines=lines)


# --------------------------------------------------------------------------- hierarchy


def _get(codebook: Codebook, code_id: str) -> Code:
    for code in codebook.codes:
        if code.id == code_id:
            return code
    raise CodebookError(
        f"code '{code_id}' is not in codebook '{codebook.name}'"
        f"{did_you_mean(code_id, codebook.code_ids)};"
        " use one of its code ids."
    )


def children(codebook: Codebook, code_id: str) -> tuple[Code, ...]:
    """Direct children of ``code_id`` in codebook order."""
    _get(codebook, code_id)
    return tuple(c for c in codebook.codes if c.parent == code_id)


def ancestors(codebook: Codebook, code_id: str) -> tuple[str, ...]:
    """Ids of the parent, grandparent, ... of ``code_id`` (nearest first)."""
    out: list[str] = []
    parent = _get(codebook, code_id).parent
    while parent is not None and parent not in out and parent != code_id:
        out.append(parent)
        parent = _get(codebook, parent).parent
    return tuple(out)


def leaf_codes(codebook: Codebook) -> tuple[Code, ...]:
    """Codes without children, in codebook order."""
    parents = {c.parent for c in codebook.codes if c.parent}
    return tuple(c for c in codebook.codes if c.id not in parents)


def trainable_codes(codebook: Codebook, coded: Collection[str] = ()) -> tuple[Code, ...]:
    """The codes a suggester learns, in codebook order: every leaf, and every parent code
    coders applied themselves (``coded``).

    NVivo, ATLAS.ti and QualCoder let coders code at a parent node; such a code is a code
    in its own right and keeps its place in the hierarchy. A parent nobody applied only
    groups its children and is never suggested.
    """
    parents = {c.parent for c in codebook.codes if c.parent}
    wanted = set(coded)
    return tuple(c for c in codebook.codes if c.id not in parents or c.id in wanted)


def _name_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def codes_named(codebook: Codebook, name: str) -> tuple[Code, ...]:
    """Codes whose name equals ``name`` ignoring case and extra whitespace."""
    key = _name_key(name)
    return tuple(c for c in codebook.codes if _name_key(c.name) == key)


def resolve_code(codebook: Codebook, value: str) -> Code | None:
    """The code with id ``value``, else the only code named ``value`` (case-insensitive)."""
    text = value.strip()
    if not text:
        return None
    for code in codebook.codes:
        if code.id == text:
            return code
    named = codes_named(codebook, text)
    return named[0] if len(named) == 1 else None
