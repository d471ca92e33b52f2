"""A certificate for each wave: the model's suggestion threshold certified again on the
blind codes of an audit sample of the segments it is used on.

The seeds' certificate (``isp-nlp train``, :mod:`isp_nlp.suggest.out_of_fold`) holds for
segments like the seeds. A new wave may differ. An audit (:mod:`isp_nlp.review.audit`)
is a uniform random sample of the wave's uncoded segments; coders code it blind
(provenance ``blind``). On those codes, for each target (the codes, each single-choice
dimension), this module runs the same fixed-sequence exact binomial test train uses
(:func:`isp_nlp.suggest.certify.certify_threshold`) on the model's stored suggestions:
a segment's confidence is what ``suggest`` computed (codes: min over codes of
max(p, 1 - p); a dimension: its top value's confidence), its agreement the share of
its blind coders whose label (exact set of codes, or value) the suggestion matches.

The wave is compared with the seeds at the threshold the model uses (the seeds'
certified threshold; every scored segment when the seeds certified none): the wave
*differs* when the threshold cannot be certified on the wave at the target, or the
wave's agreement there is below the seeds'. Then, how many more blind-coded audit
segments would settle it: the fewest covered segments n whose exact binomial lower
bound at the observed agreement clears the target
(:func:`~isp_nlp.suggest.certify.segments_needed`), scaled by the share of coded segments
the threshold covers, minus the segments coded; none when the observed agreement is at
or below the target (no number of segments clears it at that agreement).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from isp_nlp.agreement.corrections import project_correction_rate
from isp_nlp.errors import IspNlpError
from isp_nlp.records import CODE_DIMENSION, Annotation, Suggestion
from isp_nlp.store.audits import BLIND
from isp_nlp.store.certificates import save_certificate
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.suggest.certify import (
    CONFIDENCE,
    Certificate,
    certify_threshold,
    check_target,
    min_covered,
    segments_needed,
)

#: The log action of a wave certification.
CERTIFY_ACTION = "certify"


class WaveCertifyError(IspNlpError):
    """A wave certificate that cannot be computed (no audit, no blind codes, ...)."""


@dataclass(frozen=True)
class WaveEvidence:
    """One target's evidence on an audit: per blind-coded audit segment with a
    suggestion, the model's confidence and the share of its blind coders it agrees with."""

    confidence: np.ndarray
    agreement: np.ndarray
    coders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settling:
    """How the wave compares with the seeds at the threshold the model uses."""

    threshold: float  # the threshold compared at (the seeds' certified one, else 0)
    covered: int  # blind-coded audit segments at or above it
    agreement: float | None  # their agreement with the blind coders
    seeds_agreement: float | None  # the seeds' certificate's agreement
    differs: bool
    points: float | None  # seeds' agreement minus the wave's, in percentage points
    more_needed: int | None  # more blind-coded segments to settle it (0: settled)
    never: bool  # no number of segments settles it at the observed agreement


def settle(evidence: WaveEvidence, wave: Certificate, seeds: Mapping[str, Any] | None,
           target: float, level: float = CONFIDENCE) -> Settling:
    """Compare the wave's ``evidence`` (and its certificate ``wave``) with the seeds'
    certificate ``seeds`` (its dict, or None)."""
    seeds = seeds or {}
    t_seed = seeds.get("threshold")
    threshold = float(t_seed) if isinstance(t_seed, int | float) else 0.0
    coded = len(evidence.confidence)
    covered = evidence.confidence >= threshold - 1e-12
    n = int(covered.sum())
    share = float(evidence.agreement[covered].mean()) if n else None
    s_seed = seeds.get("agreement")
    seeds_share = float(s_seed) if isinstance(s_seed, int | float) else None
    holds = wave.certified and (wave.threshold or 0.0) <= threshold + 1e-9
    below = share is not None and seeds_share is not None and share < seeds_share - 1e-12
    points = None if share is None or seeds_share is None else 100 * (seeds_share - share)
    if holds:
        return Settling(threshold, n, share, seeds_share, below, points, 0, False)
    if share is None:  # no blind-coded segment reaches the threshold yet
        return Settling(threshold, 0, None, seeds_share, True, None, None, False)
    needed = segments_needed(share, target, level)
    differs = below or needed is None
    if needed is None:
        return Settling(threshold, n, share, seeds_share, differs, points, None, True)
    more = max(1, math.ceil(needed * coded / n) - coded)
    return Settling(threshold, n, share, seeds_share, differs, points, more, False)


def wave_reason(cert: Certificate, coded: int) -> str:
    """Why the wave's certificate is what it is, in the wave's terms (audit segments and
    blind coders, not seeds)."""
    goal, level = f"{cert.target:.1%}", f"{cert.confidence:.0%}"
    if cert.certified:
        return (f"{cert.n_covered} of {coded} blind-coded audit segments are covered at "
                f"confidence >= {cert.threshold:.2f}; they agree with the blind coders "
                f"{cert.agreement:.1%} of the time (at least {goal} with {level} confidence)")
    if cert.target >= 1.0:
        return "a target of 100 % agreement cannot be certified from a sample"
    if cert.agreement is None:
        return (f"{coded} blind-coded audit segments are too few: certifying {goal} with "
                f"{level} confidence needs at least {min_covered(cert.target, cert.confidence)}"
                " covered segments that all agree")
    return (f"on its most confident audit segments the model agrees with the blind coders "
            f"{cert.agreement:.1%} of the time, not enough for {goal} with {level} "
            "confidence")


def certify_wave_evidence(evidence: WaveEvidence, target: float, seeds: Mapping[str, Any] | None,
                          level: float = CONFIDENCE) -> tuple[Certificate, Settling]:
    """The wave's certificate (fixed-sequence test on the audit) and its comparison with
    the seeds' certificate."""
    cert = certify_threshold(evidence.confidence, evidence.agreement, target, level=level)
    return cert, settle(evidence, cert, seeds, target, level)


# -- evidence from the store ----------------------------------------------------------
def code_evidence(suggestions: Sequence[Suggestion], blind: Sequence[Annotation],
                  code_thresholds: Mapping[str, float]) -> WaveEvidence:
    """Codes: per blind-coded segment with code suggestions, min over codes of
    max(p, 1 - p) and the share of blind coders whose code set equals the codes whose
    probability reaches the model's code threshold."""
    proba: dict[str, dict[str, float]] = {}
    for s in suggestions:
        if s.dimension == CODE_DIMENSION:
            proba.setdefault(s.segment_id, {})[s.label] = s.probability
    sets: dict[str, dict[str, set[str]]] = {}
    for a in blind:
        if a.dimension == CODE_DIMENSION:
            got = sets.setdefault(a.segment_id, {}).setdefault(a.coder, set())
            if a.label is not None:
                got.add(a.label)
    conf, agree, coders = [], [], set()
    for seg, by_coder in sets.items():
        p = proba.get(seg)
        if not p:
            continue
        predicted = {c for c, x in p.items() if x >= code_thresholds.get(c, 0.5)}
        conf.append(min(max(x, 1 - x) for x in p.values()))
        agree.append(float(np.mean([predicted == codes for codes in by_coder.values()])))
        coders |= set(by_coder)
    return WaveEvidence(np.array(conf, dtype=np.float64), np.array(agree, dtype=np.float64),
                        tuple(sorted(coders)))


def value_evidence(dimension: str, suggestions: Sequence[Suggestion],
                   blind: Sequence[Annotation]) -> WaveEvidence:
    """A dimension: per blind-coded segment with a suggestion, the top value's confidence
    and the share of blind coders who gave that value."""
    top = {s.segment_id: s for s in suggestions if s.dimension == dimension}
    values: dict[str, dict[str, str]] = {}
    for a in blind:
        if a.dimension == dimension and a.label:
            values.setdefault(a.segment_id, {})[a.coder] = a.label
    conf, agree, coders = [], [], set()
    for seg, by_coder in values.items():
        s = top.get(seg)
        if s is None:
            continue
        conf.append(s.probability)
        agree.append(float(np.mean([v == s.label for v in by_coder.values()])))
        coders |= set(by_coder)
    return WaveEvidence(np.array(conf, dtype=np.float64), np.array(agree, dtype=np.float64),
                        tuple(sorted(coders)))


@dataclass(frozen=True)
class WaveResult:
    """One certify run: the audit, its size and uncoded segments, a row per target."""

    model_id: str
    audit_id: int
    audit_size: int
    uncoded: int
    targets: tuple[dict[str, Any], ...]
    #: Decisions on suggestions for the audit's segments (``correction_rate`` dict), or
    #: None when there are none.
    corrections: dict[str, Any] | None = None
    corrections_text: str = ""


def _code_thresholds(store: Store, info: Mapping[str, Any]) -> dict[str, float]:
    """Each code's threshold as the saved model has it (the registry's code threshold
    if the model folder cannot be read)."""
    from isp_nlp.suggest.bundle import SuggesterModel

    try:
        model = SuggesterModel.load(store.model_bundle(str(info["id"])))
    except (IspNlpError, OSError, ValueError):
        manifest = info.get("manifest") or {}
        cut = float(manifest.get("code_threshold", 0.5))
        return {c: cut for c in manifest.get("code_labels") or ()}
    return {c: float(t) for c, t in zip(model.code_labels, model.code_thresholds, strict=True)}


def certify_wave(store: Store, *, audit_id: int | None = None, target: float | None = None,
                 level: float = CONFIDENCE, coder: str = "isp-nlp") -> WaveResult:
    """Certify the latest model's thresholds on audit ``audit_id``'s blind codes (the
    latest audit if None), store a certificate per target and log a ``certify`` event.

    ``target`` is the agreement to certify for every target; None: each target's seeds'
    certificate target (from the model's manifest)."""
    info = store.latest_model()
    if info is None:
        raise WaveCertifyError("The project has no trained model; run `isp-nlp train` "
                               "(or `isp-nlp precode`) first.")
    if target is not None:
        try:
            check_target(target, level)
        except IspNlpError:
            raise WaveCertifyError(f"--target is {target}; expected a share above 0 and at "
                                   "most 1, such as 0.8.") from None
    if not 0.0 < level < 1.0:
        raise WaveCertifyError(f"--confidence is {level}; expected a value strictly "
                               "between 0 and 1, such as 0.9.")
    audits = store.audits()
    if not audits:
        raise WaveCertifyError("The project has no audit; draw one with `isp-nlp audit draw "
                               "--n N`, code it with `isp-nlp review --blind --audit ID`, "
                               "then certify.")
    audit_id = audits[-1]["id"] if audit_id is None else audit_id
    ids = store.audit_segment_ids(audit_id)
    if ids is None:
        raise WaveCertifyError(f"The project has no audit {audit_id}; `isp-nlp audit list` "
                               "shows the audits there are.")
    wanted = set(ids)
    model_id = str(info["id"])
    manifest = info.get("manifest") or {}
    blind = [a for a in store.annotations() if a.source == BLIND and a.segment_id in wanted]
    coded = {a.segment_id for a in blind}
    if not coded:
        raise WaveCertifyError(f"Audit {audit_id} has no blind codes yet; code it with "
                               f"`isp-nlp review --blind --coder NAME --audit {audit_id}`.")
    suggestions = [s for s in store.suggestions(model_id, with_evidence=False)
                   if s.segment_id in wanted]
    if not {s.segment_id for s in suggestions} & coded:
        raise WaveCertifyError(f"The latest model ({model_id}) has no suggestions for audit "
                               f"{audit_id}'s segments; run `isp-nlp suggest`, then certify.")
    found, named = manifest.get("certified"), manifest.get("dimension_names")
    seeds_certs: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    names: Mapping[str, Any] = named if isinstance(named, Mapping) else {}
    dims = [*{s.dimension for s in suggestions}]
    order = ([CODE_DIMENSION] if CODE_DIMENSION in dims else []) + sorted(
        d for d in dims if d != CODE_DIMENSION)
    goals: dict[str, float] = {}
    for dim in order:
        seed = seeds_certs.get(dim) if isinstance(seeds_certs.get(dim), Mapping) else None
        goal = target if target is not None else (seed or {}).get("target")
        if isinstance(goal, int | float):
            goals[dim] = float(goal)
    if not goals:
        raise WaveCertifyError("The model has no seeds' certificate with a target "
                               "agreement to certify again; give one with --target A, such "
                               "as 0.8.")
    decided = project_correction_rate(store, wanted)
    corrections = decided.overall.to_dict() if decided.overall.decided else None
    run = uuid.uuid4().hex
    rows = []
    thresholds = _code_thresholds(store, info) if CODE_DIMENSION in goals else {}
    for dim, goal in goals.items():
        evidence = (code_evidence(suggestions, blind, thresholds) if dim == CODE_DIMENSION
                    else value_evidence(dim, suggestions, blind))
        if not len(evidence.confidence):
            continue
        seeds = seeds_certs.get(dim) if isinstance(seeds_certs.get(dim), Mapping) else None
        cert, settling = certify_wave_evidence(evidence, goal, seeds, level)
        detail = {
            "run": run, "name": "" if dim == CODE_DIMENSION else str(names.get(dim) or dim),
            "confidence": level, "target_agreement": goal,
            "target_from": "--target" if target is not None else "the seeds' certificate",
            "audit_size": len(ids), "coded": len(evidence.confidence),
            "uncoded": len(wanted - coded), "covered": cert.n_covered,
            "agreement": cert.agreement, "lower_bound": cert.lower_bound,
            "threshold": cert.threshold, "reason": wave_reason(cert, len(evidence.confidence)),
            "seeds": dict(seeds) if seeds else None, "coders": list(evidence.coders),
            "comparison": asdict(settling), "corrections": corrections,
        }
        save_certificate(store, model_id, audit_id, dim, detail)
        rows.append({"target": dim, **detail})
    if not rows:
        raise WaveCertifyError(f"Audit {audit_id}'s blind codes give none of the model's "
                               "targets a label it suggested for; code the audit's segments "
                               "with codes or dimension values.")
    DecisionLog(store).event(coder, CERTIFY_ACTION, {
        "audit_id": audit_id, "run": run,
        "targets": {r["target"]: {"threshold": r["threshold"], "agreement": r["agreement"],
                                  "target_agreement": r["target_agreement"],
                                  "coded": r["coded"]} for r in rows}}, model_id=model_id)
    return WaveResult(model_id, audit_id, len(ids), len(wanted - coded), tuple(rows),
                      corrections, decided.overall.sentence() if corrections else "")
