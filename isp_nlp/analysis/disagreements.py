"""Segments where coders (or the model and a coder) differ, and their consensus.

:func:`find_disagreements` is pure: it compares per-coder labels of segments.
:func:`project_disagreements` gathers those labels from a project, and
:func:`disagreement_frame` lays them out as a consensus-meeting sheet (one row
per segment, columns per coder, empty ``consensus_codes`` and ``consensus_<dimension>``
columns, one per single-choice dimension such as ``consensus_stage``, to fill in). The
filled-in sheet is read back by :func:`resolve_csv`, which
records the consensus as coder ``consensus`` (source ``consensus``) in one
transaction: all rows or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from isp_nlp.agreement.tables import MODEL_CODER, default_dimensions
from isp_nlp.analysis.consensus import (
    CONSENSUS,
    NO_CODE,
    consensus_columns,
)
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.records import CODE_DIMENSION, Segment
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook

SHEET_COLUMNS = ("segment", "document", "index", "speaker", "text", "differs_on", "resolved")


def _default_ids() -> tuple[str, ...]:
    return tuple(d.id for d in default_dimensions())


@dataclass(frozen=True)
class CoderLabels:
    """One coder's labels for one segment: codes None when the coder gave no codes;
    ``values`` maps a single-choice dimension's id to the coder's value (absent: none)."""

    codes: frozenset[str] | None = None
    values: Mapping[str, str] = field(default_factory=dict)

    def value(self, dimension: str) -> str | None:
        return self.values.get(dimension)


def _is_code_entry(entry: str) -> bool:
    """A ``differs_on`` entry about codes ("codes", "code <id>"); else a dimension id."""
    return entry == "codes" or entry.startswith("code ")


@dataclass(frozen=True)
class Disagreement:
    """A segment on which at least two of the compared coders differ."""

    segment: Segment
    labels: dict[str, CoderLabels]  # the compared coders who labelled the segment
    differs_on: tuple[str, ...]  # "codes", "code <id>" or a dimension id such as "stage"
    consensus: CoderLabels | None = None
    #: The dimensions of the codebook (ids), each shown in :meth:`to_dict`.
    dimensions: tuple[str, ...] = field(default_factory=_default_ids)

    @property
    def resolved(self) -> bool:
        """True when the consensus covers every dimension the coders differ on."""
        c = self.consensus
        if c is None:
            return False
        return all((c.codes is not None) if _is_code_entry(d) else (c.value(d) is not None)
                   for d in self.differs_on)

    def _labels(self, v: CoderLabels) -> dict[str, Any]:
        return {"codes": None if v.codes is None else sorted(v.codes),
                **{d: v.value(d) for d in self.dimensions}}

    def to_dict(self) -> dict[str, Any]:
        s = self.segment
        return {
            "segment": s.id, "document": s.document, "index": s.index, "speaker": s.speaker,
            "text": s.text, "differs_on": list(self.differs_on), "resolved": self.resolved,
            "coders": {c: self._labels(v) for c, v in self.labels.items()},
            "consensus": None if self.consensus is None else self._labels(self.consensus),
        }


# --------------------------------------------------------------------------- pure


def format_codes(codes: frozenset[str] | None) -> str:
    """Codes for a sheet cell: ``a; b``, ``-`` for no code, empty when not coded."""
    if codes is None:
        return ""
    return "; ".join(sorted(codes)) if codes else NO_CODE


def find_disagreements(
    segments: Sequence[Segment],
    labels: Mapping[str, Mapping[str, CoderLabels]],
    *,
    consensus: Mapping[str, CoderLabels] | None = None,
    code: str | None = None,
    dimension: str | None = None,
    coders: Iterable[str] | None = None,
    dimensions: Sequence[str] | None = None,
) -> list[Disagreement]:
    """Segments (in the given order) where the compared coders differ.

    By default the code sets and every dimension of ``dimensions`` (ids; by default the
    default codebook's stage) are compared; ``code`` compares the presence of that one
    code, ``dimension`` that dimension only. A dimension is compared among the coders who
    labelled it (a coder with no stage is not a disagreement).
    """
    if code is not None and dimension is not None:
        raise ValueError("compare either one code or one dimension, not both")
    every = tuple(_default_ids() if dimensions is None else dimensions)
    compared = () if code is not None else (dimension,) if dimension is not None else every
    wanted = None if coders is None else list(dict.fromkeys(coders))
    consensus = consensus or {}
    out = []
    for seg in segments:
        per_coder = labels.get(seg.id, {})
        chosen = {c: per_coder[c] for c in (wanted or sorted(per_coder)) if c in per_coder}
        differs: list[str] = []
        if dimension is None:
            coded = [v.codes for v in chosen.values() if v.codes is not None]
            if code is not None:
                if len(coded) >= 2 and len({code in c for c in coded}) > 1:
                    differs.append(f"code {code}")
            elif len(coded) >= 2 and len(set(coded)) > 1:
                differs.append("codes")
        for dim in compared:
            given = [v.value(dim) for v in chosen.values() if v.value(dim) is not None]
            if len(given) >= 2 and len(set(given)) > 1:
                differs.append(dim)
        if differs:
            out.append(Disagreement(
                segment=seg, labels=chosen, differs_on=tuple(differs),
                consensus=consensus.get(seg.id), dimensions=every))
    return out


def disagreement_frame(items: Sequence[Disagreement], coders: Sequence[str], *,
                       dimensions: Sequence[str] | None = None,
                       compared: Sequence[str] | None = None,
                       codes: bool = True) -> pd.DataFrame:
    """The consensus-meeting sheet: one row per segment, a codes column and a column per
    compared dimension (``compared``, by default all of ``dimensions``: the codebook's ids,
    by default the stage) for each coder, then ``consensus_codes`` and one
    ``consensus_<dimension>`` per dimension (pre-filled where already resolved; left
    empty for what was not compared). Coders who labelled none of the segments get no
    columns."""
    every = list(_default_ids() if dimensions is None else dimensions)
    shown = every if compared is None else [d for d in every if d in compared]
    coders = [c for c in coders if any(c in d.labels for d in items)]
    rows = []
    for d in items:
        s = d.segment
        row: dict[str, Any] = {"segment": s.id, "document": s.document, "index": s.index,
                               "speaker": s.speaker or "", "text": s.text,
                               "differs_on": ", ".join(d.differs_on),
                               "resolved": "yes" if d.resolved else "no"}
        for coder in coders:
            got = d.labels.get(coder, CoderLabels())
            if codes:
                row[f"{coder}_codes"] = format_codes(got.codes)
            for dim in shown:
                row[f"{coder}_{dim}"] = got.value(dim) or ""
        c = d.consensus or CoderLabels()
        row["consensus_codes"] = format_codes(c.codes) if codes else ""
        for dim in every:
            row[f"consensus_{dim}"] = (c.value(dim) or "") if dim in shown else ""
        rows.append(row)
    columns = [*SHEET_COLUMNS]
    for coder in coders:
        columns += ([f"{coder}_codes"] if codes else []) + [f"{coder}_{d}" for d in shown]
    return pd.DataFrame(rows, columns=[*columns, *consensus_columns(every)])


# --------------------------------------------------------------------------- project


def _record(codes: dict[tuple[str, str], set[str]],
            values: dict[tuple[str, str], dict[str, str]],
            segment_id: str, coder: str, dimension: str, label: str | None) -> None:
    """Note one coder's label on a segment; an empty ``label`` on the code dimension still
    marks the segment as coded (with no code)."""
    if dimension == CODE_DIMENSION:
        got = codes.setdefault((segment_id, coder), set())
        if label:
            got.add(label)
    elif label:
        values.setdefault((segment_id, coder), {})[dimension] = label


def coder_labels(store: Store, *, include_model: bool = False
                 ) -> tuple[dict[str, dict[str, CoderLabels]], dict[str, CoderLabels]]:
    """Per segment, each coder's labels (humans and model-assisted coders; plus the model's
    out-of-fold or live suggestions with ``include_model``), and the consensus labels."""
    codes: dict[tuple[str, str], set[str]] = {}
    stages: dict[tuple[str, str], dict[str, str]] = {}
    consensus_keys: set[str] = set()
    for a in store.annotations():
        coder = CONSENSUS if a.source == CONSENSUS else a.coder
        if coder == CONSENSUS:
            consensus_keys.add(a.segment_id)
        _record(codes, stages, a.segment_id, coder, a.dimension, a.label)
    if include_model:
        info = store.latest_model()
        if info is None:
            raise ProjectError(
                "--include-model: the project has no trained model yet, so there are no model "
                "labels to compare; run `isp-nlp train` first or leave out --include-model"
            )
        seen: set[str] = set()
        # out-of-fold first, then live
        for run in (store.out_of_fold(info["id"]), store.suggestions(info["id"])):
            fresh: set[str] = set()
            for s in run:
                if s.segment_id in seen:
                    continue
                fresh.add(s.segment_id)
                _record(codes, stages, s.segment_id, MODEL_CODER, s.dimension,
                        s.label if s.suggested else None)
            seen |= fresh
    labels: dict[str, dict[str, CoderLabels]] = {}
    for seg, coder in sorted(set(codes) | set(stages)):
        value = CoderLabels(
            codes=frozenset(codes[(seg, coder)]) if (seg, coder) in codes else None,
            values=stages.get((seg, coder), {}))
        labels.setdefault(seg, {})[coder] = value
    consensus = {seg: labels[seg].pop(CONSENSUS) for seg in consensus_keys
                 if CONSENSUS in labels.get(seg, {})}
    return labels, consensus


def project_disagreements(store: Store, *, code: str | None = None,
                          dimension: str | None = None,
                          coders: Sequence[str] | None = None, include_model: bool = False
                          ) -> tuple[list[Disagreement], list[str]]:
    """A project's disagreements and the coders compared (the model last): on the codes
    and every dimension of the codebook, or only ``code``'s presence or ``dimension``."""

    codebook = require_codebook(store)
    if code is not None and code not in codebook.code_ids:
        raise InputFileError(
            f"--code '{code}' is not in the project's codebook; expected one of "
            f"{', '.join(codebook.code_ids)}, so pick a code id from `isp-nlp codebook show`."
        )
    if dimension is not None and codebook.dimension(dimension) is None:
        have = ", ".join(codebook.dimension_ids) or "no dimensions"
        raise InputFileError(
            f"--dimension '{dimension}' is not a dimension of the project's codebook (it has "
            f"{have}), so pass one of those."
        )
    wants_model = include_model or (coders is not None and MODEL_CODER in coders)
    labels, consensus = coder_labels(store, include_model=wants_model)
    known = sorted({c for per in labels.values() for c in per} - {MODEL_CODER})
    if coders is not None:
        unknown = [c for c in coders if c not in known and c != MODEL_CODER]
        if unknown:
            raise InputFileError(
                f"--coders names {', '.join(unknown)}, who coded nothing in this project; "
                f"expected some of {', '.join(known) or '(no coders yet)'}, so check the spelling."
            )
        chosen = list(dict.fromkeys(coders))
        if include_model and MODEL_CODER not in chosen:
            chosen.append(MODEL_CODER)
    else:
        chosen = known + ([MODEL_CODER] if wants_model else [])
    if len(chosen) < 2:
        raise InputFileError(
            f"Only {len(chosen)} coder(s) to compare ({', '.join(chosen) or 'none'}); a "
            "disagreement needs two, so import a second coder's codes or add --include-model."
        )
    items = find_disagreements(store.segments(codable_only=True), labels, consensus=consensus,
                               code=code, dimension=dimension, coders=chosen,
                               dimensions=codebook.dimension_ids)
    return items, chosen
