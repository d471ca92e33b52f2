"""The report's methods paragraph, as a methodologist would paste it into an appendix.

:func:`method_facts` reads every number from the project (the isp-nlp version, the
embedder, the codebook, the coders, the model's manifest, its certificates and the
agreement settings); :func:`methods_text` only puts them into words and cites the
coefficients and tests the project actually used. Nothing here is typed by hand but the
references.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import isp_nlp
from isp_nlp.agreement.groups import ProjectAgreement
from isp_nlp.records import CODE_DIMENSION, CODER_SOURCES, Codebook
from isp_nlp.store.database import Store

REFERENCES = {
    "cohen": "Cohen, J. (1960). A coefficient of agreement for nominal scales. "
             "Educational and Psychological Measurement, 20(1), 37–46.",
    "fleiss": "Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. "
              "Psychological Bulletin, 76(5), 378–382.",
    "krippendorff": "Krippendorff, K. (2004). Content Analysis: An Introduction to Its "
                    "Methodology (2nd ed.). Sage; Krippendorff, K. (2011). Computing "
                    "Krippendorff's alpha-reliability. Annenberg School for Communication, "
                    "University of Pennsylvania.",
    "gwet": "Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the "
            "presence of high agreement. British Journal of Mathematical and Statistical "
            "Psychology, 61(1), 29–48.",
    "efron": "Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. "
             "Chapman & Hall.",
    "landis": "Landis, J. R., & Koch, G. G. (1977). The measurement of observer agreement "
              "for categorical data. Biometrics, 33(1), 159–174.",
    "clopper": "Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial "
               "limits illustrated in the case of the binomial. Biometrika, 26(4), 404–413.",
    "ltt": "Angelopoulos, A. N., Bates, S., Candès, E. J., Jordan, M. I., & Lei, L. (2021). "
           "Learn then Test: Calibrating predictive algorithms to achieve risk control. "
           "arXiv:2110.01052.",
}
CITE = {"cohen": "Cohen, 1960", "fleiss": "Fleiss, 1971",
        "krippendorff": "Krippendorff, 2004, 2011", "gwet": "Gwet, 2008",
        "efron": "Efron & Tibshirani, 1993", "landis": "Landis & Koch, 1977",
        "clopper": "Clopper & Pearson, 1934", "ltt": "Angelopoulos et al., 2021"}
METRIC_REFERENCE = {"kappa": "cohen", "fleiss": "fleiss", "alpha": "krippendorff",
                    "ac1": "gwet"}
METRIC_WORDS = {"percent": "percent agreement", "kappa": "Cohen's kappa",
                "fleiss": "Fleiss' kappa", "alpha": "Krippendorff's alpha (nominal)",
                "ac1": "Gwet's AC1"}


@dataclass(frozen=True)
class MethodsFacts:
    """What the methods paragraph states, every value read from the project."""

    version: str
    embedder: str | None
    codebook: str
    n_codes: int
    dimensions: tuple[tuple[str, int], ...]  # (name, number of values)
    n_transcripts: int
    n_codable: int
    #: (coder, source, distinct segments coded), most first.
    coders: tuple[tuple[str, str, int], ...]
    model: Mapping[str, Any] | None = None
    #: The seeds' certificates from the model's manifest: (target name, detail).
    seed_certificates: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    #: The latest wave certificate's rows (see :func:`latest_wave_certificates`).
    wave_certificates: tuple[Mapping[str, Any], ...] = ()
    agreement: Mapping[str, Any] = field(default_factory=dict)


def coder_segments(store: Store) -> tuple[tuple[str, str, int], ...]:
    """(coder, source, distinct segments) for every coder and source of annotation."""
    seen = {(a.coder, a.source, a.segment_id) for a in store.annotations()
            if a.source in CODER_SOURCES}
    tally = Counter((coder, source) for coder, source, _ in seen)
    return tuple(sorted(((c, s, n) for (c, s), n in tally.items()),
                        key=lambda r: (-r[2], r[0], r[1])))


def _names(codebook: Codebook, manifest: Mapping[str, Any]) -> dict[str, str]:
    names = {d.id: d.name or d.id for d in codebook.dimensions}
    names.update(manifest.get("dimension_names") or {})
    return {**names, CODE_DIMENSION: "Codes"}


def method_facts(store: Store, codebook: Codebook, manifest: Mapping[str, Any] | None,
                 wave_certificates: Sequence[Mapping[str, Any]],
                 agreement: ProjectAgreement | None) -> MethodsFacts:
    """Gather the methods paragraph's facts from the open project."""
    names = _names(codebook, manifest or {})
    model = seeds = None
    if manifest is not None:
        model = {k: manifest.get(k) for k in (
            "model_id", "n_training_segments", "n_code_segments", "cv_folds",
            "code_threshold", "code_threshold_from", "learned_from")}
        model["thresholds"] = {names.get(d, d): t for d, t in
                               (manifest.get("thresholds") or {}).items()}
        seeds = tuple((names.get(t, t), c) for t, c in
                      (manifest.get("certified") or {}).items() if isinstance(c, Mapping))
    settings = agreement.settings if agreement is not None else {}
    return MethodsFacts(
        version=isp_nlp.__version__,
        embedder=(manifest or {}).get("embedder_id") or store.get_setting("embedder"),
        codebook=codebook.name, n_codes=len(codebook.codes),
        dimensions=tuple((d.name or d.id, len(d.values)) for d in codebook.dimensions),
        n_transcripts=len(store.transcripts()),
        n_codable=sum(s.codable for s in store.segments()),
        coders=coder_segments(store), model=model, seed_certificates=seeds or (),
        wave_certificates=tuple({**r.get("detail", {}), "target_name": names.get(
            str(r.get("target")), r.get("target")), "audit_id": r.get("audit_id")}
            for r in wave_certificates),
        agreement={k: settings.get(k) for k in ("metrics", "ci", "by", "resamples", "seed",
                                               "coders")} if settings else {},
    )


# --------------------------------------------------------------------------- words


def _pct(x: Any) -> str:
    return f"{100 * float(x):.1f}%"


def _list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _certificate(name: str, c: Mapping[str, Any], cites: list[str], where: str) -> str:
    target = c.get("target", c.get("target_agreement"))
    level = c.get("confidence")
    goal = (f"target agreement {_pct(target)} at {_pct(level)} confidence"
            if isinstance(target, int | float) and isinstance(level, int | float)
            else "its target")
    if c.get("threshold") is None:
        reason = str(c.get("reason") or "").rstrip(".")
        return f"{name}: not certified {where} ({goal}){': ' + reason if reason else ''}."
    covered = c.get("n_covered", c.get("covered"))
    bound = c.get("lower_bound")
    tail = (f"; {covered} covered segments agree {_pct(c['agreement'])}, one-sided exact "
            f"lower bound {_pct(bound)} ({CITE['clopper']})"
            if isinstance(bound, int | float) and c.get("agreement") is not None else "")
    cites.append("clopper")
    return (f"{name}: certified {where} at confidence threshold {float(c['threshold']):.2f} "
            f"({goal}{tail}).")


def methods_text(facts: MethodsFacts) -> tuple[list[str], list[str]]:
    """(paragraphs, references) for ``facts``; only the coefficients and tests the project
    used are cited."""
    cites: list[str] = []
    dims = "; ".join(f"{name} ({_plural(n, 'value')})" for name, n in facts.dimensions)
    corpus = (f"Coding was supported by isp-nlp {facts.version}. The codebook "
              f"“{facts.codebook}” has {_plural(facts.n_codes, 'code')}"
              + (f" and {_plural(len(facts.dimensions), 'single-choice dimension')}: {dims}"
                 if facts.dimensions else "") + f". The project holds "
              f"{_plural(facts.n_transcripts, 'transcript')} with {facts.n_codable} codable "
              "segments.")
    if facts.coders:
        coded = _list([f"{coder} {n} ({source})" for coder, source, n in facts.coders])
        corpus += f" Segments coded per coder (and source of the codes): {coded}."
    paragraphs = [corpus]
    m = facts.model
    if m is None:
        paragraphs.append("No model was trained, so every label shown is a person's.")
    else:
        learned = m.get("learned_from") or {}
        extra = (f", of which {learned.get('assisted')} were a coder's decisions on "
                 "earlier suggestions" if learned.get("assisted") else "")
        thresholds = _list([f"{name} {float(t):.2f}" for name, t in
                            (m.get("thresholds") or {}).items()] or ["none"])
        code_t = m.get("code_threshold")
        paragraphs.append(
            f"Suggestions came from model {m.get('model_id')}, trained on "
            f"{m.get('n_training_segments')} hand-coded seed segments{extra}, on "
            f"{facts.embedder} sentence embeddings. Its agreement with the coders was "
            f"measured out of fold ({m.get('cv_folds')}-fold cross-validation grouped by "
            f"transcript). Suggestion thresholds: codes "
            f"{'—' if code_t is None else f'{float(code_t):.2f}'}"
            f" ({m.get('code_threshold_from') or 'default'}); {thresholds}.")
        certs = [_certificate(n, c, cites, "on the seeds' out-of-fold predictions")
                 for n, c in facts.seed_certificates]
        certs += [_certificate(str(c.get("target_name")), c, cites,
                               f"on the blind codes of audit {c.get('audit_id')} "
                               f"({c.get('coded')} of {c.get('audit_size')} coded)")
                  for c in facts.wave_certificates]
        if certs:
            cites.append("ltt")
            paragraphs.append(
                "Thresholds were certified by fixed-sequence testing from high to low "
                f"confidence, each step a one-sided exact binomial test ({CITE['ltt']}). "
                + " ".join(certs))
    a = facts.agreement
    if a:
        metrics = [x for x in a.get("metrics") or [] if x in METRIC_WORDS]
        named = []
        for x in metrics:
            ref = METRIC_REFERENCE.get(x)
            if ref:
                cites.append(ref)
            named.append(METRIC_WORDS[x] + (f" ({CITE[ref]})" if ref else ""))
        cites += ["efron", "landis"]
        paragraphs.append(
            f"Inter-coder agreement among {_list(list(a.get('coders') or ['—']))} is "
            f"reported as {_list(named or ['—'])}, each with a "
            f"{round(100 * float(a.get('ci') or 0))}% percentile bootstrap interval over "
            f"{a.get('by')}s ({a.get('resamples'):,} resamples, seed {a.get('seed')}; "
            f"{CITE['efron']}); bands follow {CITE['landis']}.")
    references = [REFERENCES[k] for k in dict.fromkeys(cites)]
    return paragraphs, sorted(references)
