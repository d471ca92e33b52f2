"""Segments where coders (or the model and a coder) differ, and their consensus.

:func:`find_disagreements` is pure: it compares per-coder labels of segments.
:func:`project_disagreements` gathers those labels from a project, and
:func:`disagreement_frame` lays them out as a consensus-meeting sheet (one row
per segment, columns per coder, empty ``consensus_codes``/``consensus_stage``
to fill in). The filled-in sheet is read back by :func:`resolve_csv`, which
records the consensus as coder ``consensus`` (source ``consensus``) in one
transaction: all rows or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from isp_nlp.agreement.tables import MODEL_CODER
from isp_nlp.analysis.consensus import (
    CONSENSUS,
    CONSENSUS_COLUMNS,
    NO_CODE,
)
from isp_nlp.errors import InputFileError, ProjectError
from isp_nlp.records import CODE_DIMENSION, STAGE_DIMENSION, Segment
from isp_nlp.store.database import Store
from isp_nlp.store.folder import require_codebook

SHEET_COLUMNS = ("segment", "document", "index", "speaker", "text", "differs_on", "resolved")


@dataclass(frozen=True)
class CoderLabels:
    """One coder's labels for one segment: codes None when the coder gave no codes."""

    codes: frozenset[str] | None = None
    stage: str | None = None


@dataclass(frozen=True)
class Disagreement:
    """A segment on which at least two of the compared coders differ."""

    segment: Segment
    labels: dict[str, CoderLabels]  # the compared coders who labelled the segment
    differs_on: tuple[str, ...]  # "codes", "stage" or "code <id>"
    consensus: CoderLabels | None = None

    @property
    def resolved(self) -> bool:
        """True when the consensus covers every dimension the coders differ on."""
        c = self.consensus
        if c is None:
            return False
        return all((c.stage is not None) if d == STAGE_DIMENSION else (c.codes is not None)
                   for d in self.differs_on)

    def to_dict(self) -> dict[str, Any]:
        s = self.segment
        return {
            "segment": s.id, "document": s.document, "index": s.index, "speaker": s.speaker,
            "text": s.text, "differs_on": list(self.differs_on), "resolved": self.resolved,
            "coders": {c: {"codes": None if v.codes is None else sorted(v.codes),
                           "stage": v.stage} for c, v in self.labels.items()},
            "consensus": None if self.consensus is None else {
                "codes": None if self.consensus.codes is None else sorted(self.consensus.codes),
                "stage": self.consensus.stage},
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
    stage_only: bool = False,
    coders: Iterable[str] | None = None,
) -> list[Disagreement]:
    """Segments (in the given order) where the compared coders differ.

    By default both the code sets and the stage are compared; ``code`` compares the
    presence of that one code, ``stage_only`` the stage only. A dimension is compared
    among the coders who labelled it (a coder with no stage is not a disagreement).
    """
    if code is not None and stage_only:
        raise ValueError("compare either one code or the stage, not both")
    wanted = None if coders is None else list(dict.fromkeys(coders))
    consensus = consensus or {}
    out = []
    for seg in segments:
        per_coder = labels.get(seg.id, {})
        chosen = {c: per_coder[c] for c in (wanted or sorted(per_coder)) if c in per_coder}
        differs: list[str] = []
        if not stage_only:
            coded = [v.codes for v in chosen.values() if v.codes is not None]
            if code is not None:
                if len(coded) >= 2 and len({code in c for c in coded}) > 1:
                    differs.append(f"code {code}")
            elif len(coded) >= 2 and len(set(coded)) > 1:
                differs.append("codes")
        if code is None:
            staged = [v.stage for v in chosen.values() if v.stage is not None]
            if len(staged) >= 2 and len(set(staged)) > 1:
                differs.append(STAGE_DIMENSION)
        if differs:
            out.append(Disagreement(
                segment=seg, labels=chosen, differs_on=tuple(differs),
                consensus=consensus.get(seg.id)))
    return out


def disagreement_frame(items: Sequence[Disagreement], coders: Sequence[str], *,
                       stage: bool = True, codes: bool = True) -> pd.DataFrame:
    """The consensus-meeting sheet: one row per segment, codes/stage columns per coder,
    then ``consensus_codes`` and ``consensus_stage`` (pre-filled where already resolved).
    Coders who labelled none of the segments get no columns."""
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
            if stage:
                row[f"{coder}_stage"] = got.stage or ""
        c = d.consensus or CoderLabels()
        row["consensus_codes"] = format_codes(c.codes) if codes else ""
        row["consensus_stage"] = (c.stage or "") if stage else ""
        rows.append(row)
    columns = [*SHEET_COLUMNS]
    for coder in coders:
        columns += ([f"{coder}_codes"] if codes else []) + ([f"{coder}_stage"] if stage else [])
    return pd.DataFrame(rows, columns=[*columns, *CONSENSUS_COLUMNS])


# --------------------------------------------------------------------------- project


def _record(codes: dict[tuple[str, str], set[str]], stages: dict[tuple[str, str], str],
            segment_id: str, coder: str, dimension: str, label: str | None) -> None:
    """Note one coder's label on a segment; an empty ``label`` on the code dimension still
    marks the segment as coded (with no code)."""
    if dimension == CODE_DIMENSION:
        got = codes.setdefault((segment_id, coder), set())
        if label:
            got.add(label)
    elif dimension == STAGE_DIMENSION and label:
        stages[(segment_id, coder)] = label


def coder_labels(store: Store, *, include_model: bool = False
                 ) -> tuple[dict[str, dict[str, CoderLabels]], dict[str, CoderLabels]]:
    """Per segment, each coder's labels (humans and model-assisted coders; plus the model's
    out-of-fold or live suggestions with ``include_model``), and the consensus labels."""
    codes: dict[tuple[str, str], set[str]] = {}
    stages: dict[tuple[str, str], str] = {}
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
            stage=stages.get((seg, coder)))
        labels.setdefault(seg, {})[coder] = value
    consensus = {seg: labels[seg].pop(CONSENSUS) for seg in consensus_keys
                 if CONSENSUS in labels.get(seg, {})}
    return labels, consensus


def project_disagreements(store: Store, *, code: str | None = None, stage_only: bool = False,
                          coders: Sequence[str] | None = None, include_model: bool = False
                          ) -> tuple[list[Disagreement], list[str]]:
    """A project's disagreements and the coders compared (the model last)."""

    codebook = require_codebook(store)
    if code is not None and code not in codebook.code_ids:
        raise InputFileError(
            f"--code '{code}' is not in the project's codebook; expected one of "
            f"{', '.join(codebook.code_ids)}, so pick a code id from `isp-nlp codebook show`."
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
                               code=code, stage_only=stage_only, coders=chosen)
    return items, chosen
