"""Whether to trust a project's latest model: one statement for every hand-off.

:func:`model_trust` is pure: from a model's manifest (its certificates, see
:mod:`isp_nlp.suggest.certify`), the seed coders' labels and the out-of-fold suggestions
``train`` recorded (:meth:`~isp_nlp.store.registry.ModelTables.out_of_fold`), it states
per dimension whether the abstain threshold is certified (and at what), why not and how
many more coded segments would settle it, the seed size, and the out-of-fold Cohen's
kappa against the seed coders. :func:`project_trust` reads that from a project (a
pre-coded wave project keeps the statement measured in its seed project, see
:func:`record_trust`); :func:`trust_lines` renders it as plain lines of at most 80
columns, which ``precode``, ``review`` and ``status`` print first.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from isp_nlp.agreement import coverage
from isp_nlp.records import CODE_DIMENSION, Suggestion
from isp_nlp.store.database import Store
from isp_nlp.suggest.training_data import TrainingSet, merge_labels
from isp_nlp.suggest.wave_text import latest_wave_paragraphs

#: Project setting holding the statement of an adopted model, measured in its seed project.
TRUST_SETTING = "model_trust"
#: Lines per dimension that :func:`trust_lines` allows itself.
MAX_LINES = 3
WIDTH = 80
NO_MODEL = "No trained model: run `isp-nlp train` (no suggestions to trust yet)."
#: What the statement calls the codes (a dimension goes by its codebook name).
CODES_NAME = "Codes"


@dataclass(frozen=True)
class DimensionTrust:
    """Whether one dimension's suggestions (codes, or a single-choice dimension of the
    codebook: ``name`` is its name) can be trusted, and why.

    ``agreement`` is the out-of-fold agreement with the seed coders the certificate
    reports: at ``threshold`` when certified, else on the model's most confident seed
    segments at the first threshold tested. ``cv_kappa`` is Cohen's kappa of the
    out-of-fold suggestions with each seed coder (``kappa_label`` says how it is pooled).
    """

    dimension: str
    certified: bool
    reason: str
    target: float | None = None
    confidence: float | None = None
    threshold: float | None = None
    agreement: float | None = None
    coverage: float | None = None
    more_seeds_needed: int | None = None
    seed_segments: int = 0
    seed_coders: tuple[str, ...] = ()
    cv_kappa: float | None = None
    cv_segments: int = 0
    kappa_label: str = ""
    name: str = ""

    @property
    def title(self) -> str:
        """The dimension as the statement names it: "Codes", else its name (or id)."""
        if self.dimension == CODE_DIMENSION:
            return CODES_NAME
        return self.name or self.dimension


@dataclass(frozen=True)
class ModelTrust:
    """The trust statement of a project's latest model (``model_id`` None: no model)."""

    model_id: str | None
    dimensions: tuple[DimensionTrust, ...] = ()
    #: Where it was measured when not in this project (a wave's seed project), else "".
    measured_in: str = ""
    documents: int = 0  # seed documents scored out of fold (the folds' groups)
    folds: int | None = None  # the folds train used (None: not recorded)
    #: The latest wave certificate of the model in this project, as paragraphs
    #: (:func:`isp_nlp.suggest.wave_text.latest_wave_paragraphs`); () if none.
    wave: tuple[str, ...] = ()

    @property
    def certified(self) -> bool:
        """Every dimension certified (False without a model)."""
        return bool(self.dimensions) and all(d.certified for d in self.dimensions)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelTrust:
        dims = tuple(DimensionTrust(**{**d, "seed_coders": tuple(d.get("seed_coders", ()))})
                     for d in data.get("dimensions", ()))
        return cls(model_id=data.get("model_id"), dimensions=dims,
                   measured_in=str(data.get("measured_in", "")),
                   documents=int(data.get("documents", 0)),
                   folds=data["folds"] if isinstance(data.get("folds"), int) else None,
                   wave=tuple(str(p) for p in data.get("wave") or ()))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(kept)) if kept else None


def _code_kappa(ts: TrainingSet, rows: Sequence[int], suggested: Mapping[str, set[str]],
                labels: Sequence[str]) -> float | None:
    """Mean over codes of the mean over seed coders of Cohen's kappa on the code's
    presence (the model's out-of-fold suggestion vs each coder)."""
    coders = sorted({c for i in rows for c in ts.coder_codes[i]})
    per_code = []
    for label in labels:
        model = np.array([int(label in suggested[ts.segments[i].id]) for i in rows])
        human = np.full((len(rows), len(coders)), -1, dtype=np.int64)
        for r, i in enumerate(rows):
            for j, coder in enumerate(coders):
                if coder in ts.coder_codes[i]:
                    human[r, j] = int(label in ts.coder_codes[i][coder])
        per_code.append(coverage.model_human(model, human)[1])
    return _mean(per_code)


def _value_kappa(per_coder: Sequence[Mapping[str, str]], ts: TrainingSet, rows: Sequence[int],
                 first: Mapping[str, str]) -> float | None:
    """Mean over seed coders of Cohen's kappa of the model's out-of-fold first-choice
    value of a dimension (also where it abstains) with the coder's value
    (``per_coder[i]``: row i's coders' values)."""
    coders = sorted({c for i in rows for c in per_coder[i]})
    human, index = coverage.encode_labels([per_coder[i] for i in rows], coders)
    model = coverage.encode_predictions([first[ts.segments[i].id] for i in rows], index)
    return coverage.model_human(model, human)[1]


def _certificate(dimension: str, cert: Any) -> DimensionTrust:
    """The certificate part of a dimension's statement (None: no target was set)."""
    if not isinstance(cert, Mapping):
        return DimensionTrust(dimension, False, (
            "no target agreement: no seed segment is double-coded and train was run "
            "without --target-agreement"))
    threshold = _number(cert.get("threshold"))
    more = cert.get("more_seeds_needed")
    return DimensionTrust(
        dimension, threshold is not None, str(cert.get("reason", "")),
        target=_number(cert.get("target")), confidence=_number(cert.get("confidence")),
        threshold=threshold, agreement=_number(cert.get("agreement")),
        coverage=_number(cert.get("coverage")),
        more_seeds_needed=int(more) if isinstance(more, int | float) else None)


def model_trust(model_id: str, manifest: Mapping[str, Any], seeds: TrainingSet,
                out_of_fold: Sequence[Suggestion]) -> ModelTrust:
    """The trust statement of model ``model_id`` (pure).

    ``seeds`` are the project's human-coded segments; ``out_of_fold`` the suggestions
    ``train`` recorded as the model's out-of-fold run (empty: not
    cross-validated, no kappa).
    """
    found = manifest.get("certified")
    certs: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    suggested: dict[str, set[str]] = {}
    first: dict[str, dict[str, str]] = {}
    for s in out_of_fold:
        if s.dimension == CODE_DIMENSION:
            codes = suggested.setdefault(s.segment_id, set())
            if s.suggested:
                codes.add(s.label)
        else:
            first.setdefault(s.dimension, {})[s.segment_id] = s.label
    names = _mapping(manifest.get("dimension_names"))
    counts = _mapping(manifest.get("n_value_segments"))
    trained = [*_mapping(manifest.get("dimension_classes"))]
    wanted = [*trained, *(d for d in certs if d != CODE_DIMENSION and d not in trained)]
    dims = []
    scored: set[str] = set()
    for dim in [CODE_DIMENSION, *wanted]:
        if dim == CODE_DIMENSION:
            rows = [i for i, s in enumerate(seeds.segments)
                    if seeds.coder_codes[i] and s.id in suggested]
            labelled = [i for i, s in enumerate(seeds.segments) if seeds.coder_codes[i]
                        and (not out_of_fold or s.id in suggested)]
            coders = {c for i in labelled for c in seeds.coder_codes[i]}
            labels = manifest.get("code_labels")
            kappa = _code_kappa(seeds, rows, suggested, labels or []) if rows else None
            how = "mean per code"
            count = manifest.get("n_code_segments")
        else:
            per = seeds.coder_values.get(dim) or [{} for _ in seeds.segments]
            top = first.get(dim, {})
            rows = [i for i, s in enumerate(seeds.segments) if per[i] and s.id in top]
            labelled = [i for i, s in enumerate(seeds.segments) if per[i]
                        and (not out_of_fold or s.id in top)]
            coders = {c for i in labelled for c in per[i]}
            kappa = _value_kappa(per, seeds, rows, top) if rows else None
            how = "first choice"
            count = counts.get(dim)
        scored |= {seeds.segments[i].document for i in rows}
        base = _certificate(dim, certs.get(dim))
        dims.append(replace(
            base, seed_coders=tuple(sorted(coders)),
            seed_segments=int(count) if isinstance(count, int) else len(labelled),
            cv_kappa=kappa, cv_segments=len(rows), kappa_label=how,
            name=str(names.get(dim) or "") if dim != CODE_DIMENSION else ""))
    if not out_of_fold:
        scored = {s.document for s in seeds.segments}
    folds = manifest.get("cv_folds")
    return ModelTrust(model_id, tuple(dims), documents=len(scored),
                      folds=folds if isinstance(folds, int) and folds > 0 else None)


def project_trust(store: Store) -> ModelTrust:
    """The trust statement of ``store``'s latest model: measured here when the project
    holds its out-of-fold suggestions, else the one recorded when it was adopted
    (:func:`record_trust`), else from its manifest alone (no kappa)."""
    info = store.latest_model()
    if info is None:
        return ModelTrust(None)
    model_id = str(info["id"])
    out_of_fold = store.out_of_fold(model_id, with_evidence=False)
    if not out_of_fold:
        recorded = _recorded(store, model_id)
        if recorded is not None:
            return with_wave(recorded, store)
    annotations = store.annotations()
    seeds = merge_labels(store.segments_by_id([a.segment_id for a in annotations]),
                         annotations)
    return with_wave(model_trust(model_id, info.get("manifest") or {}, seeds, out_of_fold),
                     store)


def with_wave(trust: ModelTrust, store: Store) -> ModelTrust:
    """``trust`` with the latest wave certificate of its model in ``store`` (if any)."""
    if trust.model_id is None:
        return trust
    return replace(trust, wave=tuple(latest_wave_paragraphs(store, trust.model_id)))


def _recorded(store: Store, model_id: str) -> ModelTrust | None:
    raw = store.get_setting(TRUST_SETTING)
    try:
        data = json.loads(raw) if raw else None
        trust = ModelTrust.from_dict(data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None
    return trust if trust is not None and trust.model_id == model_id else None


def record_trust(store: Store, trust: ModelTrust, measured_in: str) -> ModelTrust:
    """Keep ``trust`` (measured in the project named ``measured_in``, unless it was
    recorded there from another) in ``store``, whose copy of the model has no seed codes
    to measure it on; returns what was kept."""
    kept = ModelTrust(trust.model_id, trust.dimensions,
                      measured_in=trust.measured_in or measured_in,
                      documents=trust.documents, folds=trust.folds)
    store.set_setting(TRUST_SETTING, json.dumps(kept.to_dict()))
    return kept


def _share(x: float | None) -> str:
    return "?" if x is None else f"{x:.1%}"


def _verdict(d: DimensionTrust) -> str:
    """The dimension's verdict as one sentence."""
    name = d.title
    if d.certified:
        level = "?" if d.confidence is None else f"{d.confidence:.0%}"
        return (f"{name}: certified at confidence >= {d.threshold:.2f} (covers "
                f"{_share(d.coverage)} of seeds): out of fold, {_share(d.agreement)} of "
                f"those agree with the seed coders (target {_share(d.target)} with {level} "
                "confidence).")
    if d.target is None or (d.agreement is None and d.more_seeds_needed is None):
        return f"{name}: not certified: {d.reason.rstrip('.')}."
    level = "?" if d.confidence is None else f"{d.confidence:.0%}"
    if d.agreement is None:
        return (f"{name}: not certified: {d.seed_segments} seed segments are too few to "
                f"test the {_share(d.target)} target; at least {d.more_seeds_needed} more "
                "coded segments are needed.")
    if d.agreement <= d.target:
        why = (f"out-of-fold agreement {_share(d.agreement)} (most confident seeds) is "
               f"below the {_share(d.target)} target")
    else:
        why = (f"out-of-fold agreement {_share(d.agreement)} (most confident seeds) is "
               f"above the {_share(d.target)} target, not yet with {level} confidence")
    settle = ("no amount of extra coding settles it at that agreement"
              if d.more_seeds_needed is None
              else f"about {d.more_seeds_needed} more coded segments would settle it")
    return f"{name}: not certified: {why}; {settle}."


def _kappas(trust: ModelTrust) -> str:
    """The out-of-fold kappa of every dimension, labelled."""
    parts = [f"{d.title.lower()} "
             + ("not cross-validated" if d.cv_kappa is None
                else f"{d.cv_kappa:.2f} ({d.kappa_label})") for d in trust.dimensions]
    folds = f"{trust.folds} folds" if trust.folds else "folds"
    return (f"Out-of-fold Cohen's kappa vs seed coders ({folds} grouped by document): "
            + ", ".join(parts) + ".")


def _seed(trust: ModelTrust) -> str:
    """The seed size: coded segments (per dimension where they differ), coders, documents."""
    counts = {d.seed_segments for d in trust.dimensions}
    segments = (f"{counts.pop()} coded segments" if len(counts) == 1 else ", ".join(
        f"{d.title.lower()} {d.seed_segments}"
        for d in trust.dimensions) + " coded segments")
    coders = len({c for d in trust.dimensions for c in d.seed_coders})
    if not coders:  # a model whose seed codes this project does not hold
        return f"seed: {segments} (its coders are not in this project)"
    return (f"seed: {segments} by {coders} coder{'s' if coders != 1 else ''} in "
            f"{trust.documents} document{'s' if trust.documents != 1 else ''}")


def trust_paragraphs(trust: ModelTrust) -> list[str]:
    """The statement as sentences, one paragraph each: the verdict with the seed size, the
    out-of-fold kappas, then each dimension's verdict (files that wrap text use these)."""
    if trust.model_id is None:
        return [NO_MODEL]
    where = f" (from seed project {trust.measured_in})" if trust.measured_in else ""
    verdict = ("certified" if trust.certified else "partly certified"
               if any(d.certified for d in trust.dimensions) else "not certified")
    return [f"Model {trust.model_id}{where}: {verdict}; {_seed(trust)}.", _kappas(trust),
            *(_verdict(d) for d in trust.dimensions), *trust.wave]


def trust_lines(trust: ModelTrust, width: int = WIDTH) -> list[str]:
    """:func:`trust_paragraphs` as plain lines of at most ``width`` columns (at most
    :data:`MAX_LINES` lines each at 80 columns)."""
    return [line for text in trust_paragraphs(trust)
            for line in textwrap.wrap(text, width, subsequent_indent="  ",
                                      break_on_hyphens=False)]
