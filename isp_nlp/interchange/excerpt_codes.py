"""Codes named by a spreadsheet export, resolved against (or added to) the codebook.

A path whose first element is a single-choice dimension's id or name (any case, or
its plural: ``Phase\\Early``, ``phases: early``) names a value of that dimension; so
does a lone value name that no code has and only one dimension holds. Every other path
names a code of the hierarchy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from isp_nlp.codebook.check import is_value, normalise_value
from isp_nlp.interchange.refi_codebook import slug
from isp_nlp.records import CODE_DIMENSION, Code, Codebook, Dimension


@dataclass
class CodeResolver:
    """Resolves code paths against a codebook, adding the missing ones when allowed."""

    codebook: Codebook
    add: bool = False
    codes: list[Code] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    _kids: dict[str | None, list[Code]] = field(default_factory=dict, repr=False)
    _ids: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.codes = list(self.codebook.codes)
        for c in self.codes:
            self._kids.setdefault(c.parent, []).append(c)
        self._ids = {c.id for c in self.codes} | {
            v for d in self.codebook.dimensions for v in d.value_ids}

    def known_names(self, sep: str) -> frozenset[str]:
        """Casefolded names and ``sep``-joined paths, to split cells listing several codes."""
        by_id = {c.id: c for c in self.codes}
        out = set()
        for c in self.codes:
            path, p = [c.name], c.parent
            while p in by_id and len(path) < 20:
                path.insert(0, by_id[p].name)
                p = by_id[p].parent
            out.add(c.name.casefold())
            out.add(sep.join(path).casefold())
        return frozenset(out)

    def _child(self, parent: str | None, name: str) -> Code | None:
        key, sid = name.strip().casefold(), slug(name)
        kids = self._kids.get(parent, [])
        return (next((c for c in kids if c.name.strip().casefold() == key), None)
                or next((c for c in kids if c.id == sid), None))

    def _named(self, head: str) -> Dimension | None:
        """The dimension ``head`` names (its id or name, any case, or their plural)."""
        key = head.strip().casefold()
        for dim in self.codebook.dimensions:
            names = {dim.id.casefold(), dim.name.strip().casefold()}
            if key in names or key in {n + "s" for n in names}:
                return dim
        return None

    def _value(self, path: tuple[str, ...]) -> tuple[str, str] | None:
        """(dimension id, value id) for ``Phase\\Early``/``Phase: Early``, or for a lone
        value name that no code has and only one dimension holds."""
        if len(path) >= 2:
            dim = self._named(path[0])
            if dim is None or not is_value(dim, path[-1]):
                return None
            return dim.id, str(normalise_value(dim, path[-1]))
        lone = path[0].strip().casefold()
        if any(c.name.strip().casefold() == lone for c in self.codes):
            return None
        hits = [d for d in self.codebook.dimensions if is_value(d, path[0])]
        return (hits[0].id, str(normalise_value(hits[0], path[0]))) if len(hits) == 1 else None

    def resolve(self, path: tuple[str, ...]) -> tuple[str, str] | None:
        """(dimension, code id) of ``path``, or None when the codebook lacks it."""
        value = self._value(path)
        if value is not None:
            return value
        parent: str | None = None
        node = None
        for name in path:
            node = self._child(parent, name)
            if node is None:
                break
            parent = node.id
        if node is not None:
            return CODE_DIMENSION, node.id
        whole = {sep.join(path).casefold() for sep in (": ", "::", "\\")}
        flat = [c for c in self.codes if c.name.casefold() in whole]
        if len(path) == 1:
            flat = flat or [c for c in self.codes if c.id == slug(path[0])]
        return (CODE_DIMENSION, flat[0].id) if flat else None

    def add_path(self, path: tuple[str, ...]) -> str:
        """Add the missing codes of ``path`` under their parents; the leaf's id."""
        parent: str | None = None
        ids = self._ids
        for name in path:
            node = self._child(parent, name)
            if node is None:
                base = slug(name)
                cand = base if base not in ids else f"{parent}__{base}" if parent else base
                n = 2
                stem = cand
                while cand in ids:
                    cand, n = f"{stem}_{n}", n + 1
                node = Code(id=cand, name=name.strip(), parent=parent)
                self.codes.append(node)
                self._kids.setdefault(parent, []).append(node)
                ids.add(cand)
                self.added.append(cand)
            parent = node.id
        assert parent is not None
        return parent
