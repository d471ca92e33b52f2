"""A project's agreement: its annotations as a long frame, the coding tables of the human
coders and the model, and a coded-segments CSV placed on the project's segments.

The model takes part as coder ``model`` through its out-of-fold suggestions on the
human-coded segments (:meth:`isp_nlp.store.registry.ModelTables.out_of_fold`), so it is
never scored on a transcript it was trained on, and through its stored suggestions on
blind-coded segments (audit samples; blind codes never train it). Only independent
codings take part by default (:data:`isp_nlp.records.AGREEMENT_SOURCES`: human and
blind): model-assisted codes from review are not independent of the model, nor is the
consensus, which is derived from the coders compared. ``sources`` with "assisted" adds
the assisted codes (``isp-nlp agreement --include-assisted``), compared with the model's
stored suggestions: a flattering number, labelled as such. ``isp-nlp agreement`` and the
report both read agreement from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from isp_nlp.agreement.by_attribute import AttributeAgreement, attribute_agreement
from isp_nlp.agreement.groups import REPORT_METRICS, ProjectAgreement, humans_and_model
from isp_nlp.agreement.reliability import ReliabilityOptions
from isp_nlp.agreement.tables import MODEL_CODER, coding_tables
from isp_nlp.codebook.load import trainable_codes
from isp_nlp.records import AGREEMENT_SOURCES, CODE_DIMENSION
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import ASSISTED
from isp_nlp.store.folder import require_codebook

#: Bootstrap settings of the report: the defaults of ``isp-nlp agreement``.
REPORT_RESAMPLES = 1000
REPORT_SEED = 0
#: The statistic agreement by attribute shows by default, one per value and target.
ATTRIBUTE_METRIC = "alpha"
FRAME_COLUMNS = ["segment_id", "coder", "dimension", "label"]

Tables = dict[str, pd.DataFrame]


def annotation_frame(store: Store, *, include_model: bool = True,
                     sources: Sequence[str] = AGREEMENT_SOURCES) -> pd.DataFrame:
    """The coders' annotations of ``sources`` (+ the model's labels: out of fold on the
    seeds, its stored suggestions on the other coded segments) as a long frame of
    segment_id, coder, dimension, label."""
    rows: list[tuple[str, str, str, str | None]] = [
        (a.segment_id, a.coder, a.dimension, a.label)
        for a in store.annotations()
        if a.source in sources
    ]
    info = store.latest_model()
    if include_model and info is not None:
        coded: dict[str, list[str | None]] = {}
        held_out = store.out_of_fold(info["id"], with_evidence=False)
        scored = {s.segment_id for s in held_out}
        wanted = {r[0] for r in rows} - scored
        live = [s for s in store.suggestions(info["id"], with_evidence=False)
                if s.segment_id in wanted]
        for s in [*held_out, *live]:
            if s.dimension == CODE_DIMENSION:
                codes = coded.setdefault(s.segment_id, [])
                if s.suggested:
                    codes.append(s.label)
            elif s.suggested:  # a single-choice dimension's value
                rows.append((s.segment_id, MODEL_CODER, s.dimension, s.label))
        for seg, codes in coded.items():
            for label in codes or [None]:
                rows.append((seg, MODEL_CODER, CODE_DIMENSION, label))
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def model_scope(store: Store, frame: pd.DataFrame,
                sources: Sequence[str] = AGREEMENT_SOURCES) -> str:
    """One line saying which human codes the model is compared with in ``frame``
    (:func:`annotation_frame` of ``sources``) and on how many segments."""
    model = set(frame.loc[frame["coder"] == MODEL_CODER, "segment_id"])
    human = set(frame.loc[frame["coder"] != MODEL_CODER, "segment_id"])
    n = len(model & human)
    if ASSISTED in sources:
        return (f"Model vs coders: includes assisted codes ({n} segments): coders saw the "
                "model's suggestions, so this number flatters the model.")
    left = {a.segment_id for a in store.annotations() if a.source == ASSISTED}
    out = f"; assisted codes left out ({len(left)} segments)" if left else \
        "; assisted codes left out"
    return f"Model vs coders: blind and independent codes only ({n} segments){out}."


def _codes(store: Store, used: set[str]) -> list[str]:
    """The codes agreement reports: every leaf and every parent code someone applied
    (``used``), as training learns them (:func:`isp_nlp.codebook.load.trainable_codes`)."""
    return [c.id for c in trainable_codes(require_codebook(store), used)]


def _used(store: Store) -> set[str]:
    return {a.label for a in store.annotations() if a.dimension == CODE_DIMENSION and a.label}


def documents_of(store: Store) -> dict[str, str]:
    """Segment id → document, the bootstrap's clusters with ``--by document``."""
    return {s.id: s.document for s in store.segments()}


def project_tables(store: Store, *, include_model: bool = True,
                   sources: Sequence[str] = AGREEMENT_SOURCES
                   ) -> tuple[Tables, dict[str, str]]:
    """Coding tables of the project's coders (annotations of ``sources``; and the model)
    per code and per dimension of the codebook, with the segment → document map; a coded
    parent code is a code too."""
    frame = annotation_frame(store, include_model=include_model, sources=sources)
    return (coding_tables(frame, _codes(store, _used(store)), model_coder=MODEL_CODER,
                          dimensions=require_codebook(store).dimensions),
            documents_of(store))


def mapped_tables(store: Store, placed: pd.DataFrame, *, include_model: bool = True) -> Tables:
    """Coding tables of a coded-segments CSV already placed on the project's segments
    (``placed``: its annotation frame), with the model's out-of-fold labels added; codes the
    codebook lacks are kept after its codes."""
    frame = placed
    if include_model:
        model = annotation_frame(store, include_model=True)
        frame = pd.concat([frame, model[model["coder"] == MODEL_CODER]], ignore_index=True)
    labels = {x for x in frame.loc[frame["dimension"] == CODE_DIMENSION, "label"]
              if isinstance(x, str)}
    codes = _codes(store, labels)
    extra = sorted(labels - set(codes))
    return coding_tables(frame, codes + extra, model_coder=MODEL_CODER,
                         dimensions=require_codebook(store).dimensions)


def project_agreement(store: Store, *, include_model: bool = True,
                      n_resamples: int = REPORT_RESAMPLES, seed: int = REPORT_SEED,
                      ) -> ProjectAgreement:
    """Reliability with bootstrap CIs per code, per dimension and overall: the human coders
    and the humans plus the model side by side; the same numbers as ``isp-nlp agreement``
    with this seed."""
    tables, documents = project_tables(store, include_model=include_model)
    options = ReliabilityOptions(metrics=REPORT_METRICS, n_resamples=n_resamples, seed=seed)
    return humans_and_model(tables, options=options, documents=documents,
                            model_coder=MODEL_CODER,
                            dimensions=require_codebook(store).dimensions)


def model_pairs(frame: pd.DataFrame, dimension: str) -> list[tuple[Any, ...]]:
    """(segment, human label, model label) for every human label on ``dimension`` of a
    segment the model labelled too, from :func:`annotation_frame`."""
    rows = frame[frame["dimension"] == dimension]
    is_model = rows["coder"] == MODEL_CODER
    model = dict(zip(rows.loc[is_model, "segment_id"], rows.loc[is_model, "label"], strict=True))
    humans = rows[~is_model]
    return [(seg, label, model[seg])
            for seg, label in zip(humans["segment_id"], humans["label"], strict=True)
            if seg in model]


def project_attribute_agreement(store: Store, attribute: str, *,
                                n_resamples: int = REPORT_RESAMPLES, seed: int = REPORT_SEED,
                                ) -> AttributeAgreement:
    """Krippendorff's alpha with bootstrap CIs on each value's documents of the project's
    attribute ``attribute`` (its exact name), the humans' and the humans plus the model's;
    the same numbers as ``isp-nlp agreement --attribute`` with this seed."""
    tables, documents = project_tables(store)
    dimensions = require_codebook(store).dimensions
    tables = {t: v for t, v in tables.items() if v is not None}
    value_of = {d: v[attribute] for d, v in store.attributes().items() if attribute in v}
    options = ReliabilityOptions(metrics=(ATTRIBUTE_METRIC,), n_resamples=n_resamples,
                                 seed=seed)
    return attribute_agreement(tables, documents, value_of, attribute=attribute,
                               options=options, dimensions=dimensions)
