"""Codes named by a spreadsheet export, resolved against (or added to) the codebook."""

from __future__ import annotations

from dataclasses import dataclass, field

from isp_nlp.codebook.check import normalise_stage
from isp_nlp.interchange.refi_codebook import slug
from isp_nlp.records import (
    CODE_DIMENSION,
    STAGE_DIMENSION,
    STAGES,
    Code,
    Codebook,
)


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
        self._ids = {c.id for c in self.codes} | set(STAGES)

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

    def _stage(self, path: tuple[str, ...]) -> str | None:
        """A stage id for ``Stage\\Push``/``Stage: Push``, or a lone stage name no code has."""
        last = normalise_stage(path[-1])
        if last not in STAGES:
            return None
        if len(path) >= 2:
            return last if path[0].strip().casefold() in ("stage", "stages") else None
        lone = path[0].strip().casefold()
        return None if any(c.name.strip().casefold() == lone for c in self.codes) else last

    def resolve(self, path: tuple[str, ...]) -> tuple[str, str] | None:
        """(dimension, code id) of ``path``, or None when the codebook lacks it."""
        stage = self._stage(path)
        if stage is not None:
            return STAGE_DIMENSION, stage
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
