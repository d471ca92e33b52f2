"""The report as a methods appendix: contents, methods paragraph, label sources in every
figure (legend, hatched model labels, humans-only variants), honest caption counts,
kappa whiskers, code names, colour-blind-safe colours and collapsible per-code detail."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from isp_nlp.agreement.groups import REPORT_METRICS, ProjectAgreement, humans_and_model
from isp_nlp.agreement.reliability import ReliabilityOptions
from isp_nlp.agreement.tables import coding_tables
from isp_nlp.analysis.pathways import summarize_pathways
from isp_nlp.report.html import ReportData, render_report, section_list
from isp_nlp.report.label_sources import humans_only_sequences, source_counts
from isp_nlp.report.methods import REFERENCES, MethodsFacts, methods_text
from isp_nlp.report.palette import OKABE_ITO, STAGE_COLORS, UNKNOWN, UNKNOWN_HATCH, hatch
from isp_nlp.report.reliability_table import kappa_chart_context, kappa_frame
from isp_nlp.report.strip_chart import stage_strip_chart

TEMPLATE = Path(__file__).resolve().parents[2] / "isp_nlp" / "report" / "templates"
FIGCAPTION = re.compile(r"<figcaption>(.*?)</figcaption>", re.S)
NUMBER = re.compile(r"\d+(?:\.\d+)?")
NAMES = {"c1": "Trust", "c2": "Barter", "c3": "Unused code"}


def _agreement() -> ProjectAgreement:
    rows = [
        ("s1", "ann", "code", "c1"), ("s1", "bob", "code", "c1"), ("s1", "model", "code", "c1"),
        ("s2", "ann", "code", None), ("s2", "bob", "code", "c2"), ("s2", "model", "code", "c2"),
        ("s3", "ann", "code", "c2"), ("s3", "bob", "code", "c2"), ("s3", "model", "code", None),
        ("s4", "ann", "code", "c1"), ("s4", "bob", "code", "c1"), ("s4", "model", "code", "c1"),
        ("s1", "ann", "stage", "push"), ("s1", "bob", "stage", "push"),
        ("s2", "ann", "stage", "exchange"), ("s2", "bob", "stage", "push_pull"),
        ("s3", "ann", "stage", "none"), ("s3", "bob", "stage", "none"),
        ("s4", "ann", "stage", "push"), ("s4", "bob", "stage", "push"),
        ("s1", "model", "stage", "push"), ("s2", "model", "stage", "exchange"),
        ("s3", "model", "stage", "exchange"), ("s4", "model", "stage", "push"),
    ]
    frame = pd.DataFrame(rows, columns=["segment_id", "coder", "dimension", "label"])
    options = ReliabilityOptions(metrics=REPORT_METRICS, n_resamples=50, seed=0)
    return humans_and_model(coding_tables(frame, ["c1", "c2", "c3"]), options=options)


@pytest.fixture(scope="module")
def agreement() -> ProjectAgreement:
    return _agreement()


def _facts(**changes) -> MethodsFacts:
    facts = dict(
        version="9.8.7", embedder="hashing-256", codebook="Pilot", n_codes=15,
        dimensions=(("Stage", 4),), n_transcripts=10, n_codable=345,
        coders=(("ana", "human", 234), ("ben", "human", 194), ("demo", "assisted", 7)),
        model={"model_id": "m1", "n_training_segments": 234, "cv_folds": 5,
               "code_threshold": 0.4, "code_threshold_from": "out-of-fold kappa",
               "learned_from": {"assisted": 3}, "thresholds": {"Stage": 0.65}},
        seed_certificates=(("Stage", {"target": 0.8, "confidence": 0.9, "threshold": 0.72,
                                      "n_covered": 61, "agreement": 0.885,
                                      "lower_bound": 0.812}),),
        wave_certificates=({"target_name": "Codes", "target_agreement": 0.75,
                            "confidence": 0.95, "threshold": None, "audit_id": 3,
                            "coded": 40, "audit_size": 50, "reason": "too few"},),
        agreement={"metrics": ["percent", "kappa", "alpha"], "ci": 0.95, "by": "segment",
                   "resamples": 1000, "seed": 0, "coders": ["ana", "ben"]})
    facts.update(changes)
    return MethodsFacts(**facts)  # type: ignore[arg-type]


def _data(agreement: ProjectAgreement, *, drop: str | None = None) -> ReportData:
    """A report with every figure; ``drop`` leaves out one participant (so every caption
    count must move)."""
    sequences = {"P01": ["push", "push", "push_pull", "push_pull", "exchange", "exchange"],
                 "P02": ["none", "?", "push", "push", "exchange", "exchange", "exchange"],
                 "P03": ["push", "push", "exchange", "exchange"]}
    sources = {"P01": ["human", "human", "model", "model", "assisted", "consensus"],
               "P02": ["blind", "unknown", "model", "model", "model", "human", "human"],
               "P03": ["human", "human", "human", "model"]}
    if drop:
        sequences.pop(drop)
        sources.pop(drop)
    pairs = pd.DataFrame([("s1", "push", "push"), ("s1", "push", "push"),
                          ("s2", "exchange", "exchange"), ("s2", "push_pull", "exchange"),
                          ("s3", "none", "exchange"), ("s3", "none", "exchange"),
                          ("s4", "push", "push")][: 5 if drop else 7],
                         columns=["segment_id", "human", "model"])
    freq = pd.DataFrame([("c1", "Trust", "ann", "human", 3), ("c2", "Barter", "bob", "human", 2),
                         ("c1", "Trust", "model (suggestions)", "model", 4)],
                        columns=["code", "code_name", "coder", "source", "count"])
    labels = {d: (seq, sources[d]) for d, seq in sequences.items()}
    humans = humans_only_sequences(sequences, sources)
    return ReportData(
        project_name="Pilot", generated_at="now", n_transcripts=len(sequences),
        n_segments=20, n_codable=17, coders=["ann", "bob"], agreement=agreement,
        code_frequencies=freq, frequency_segments={"ann": 3 if not drop else 2, "bob": 2,
                                                   "model (suggestions)": 5},
        code_names=NAMES, stage_pairs=pairs, stage_sequences=sequences, stage_sources=sources,
        pathways=summarize_pathways(sequences, sources={d: s for d, (_, s) in labels.items()}),
        pathways_humans=summarize_pathways(humans, sources={
            d: [s if s in ("human", "consensus", "blind") else "unknown" for s in src]
            for d, src in sources.items()}),
        methods=_facts(n_transcripts=len(sequences)),
    )


@pytest.fixture(scope="module")
def html(agreement: ProjectAgreement) -> str:
    return render_report(_data(agreement))


# --------------------------------------------------------------------------- contents


def test_contents_links_every_section(html: str) -> None:
    ids = re.findall(r'<section id="([^"]+)"', html)
    links = re.findall(r'<li><a href="#([^"]+)">', html)
    assert ids == links
    assert [i for i, _ in section_list(None)] == [i for i in ids if i != "notes"]


# --------------------------------------------------------------------------- methods


def test_methods_paragraph_states_the_facts_and_cites_what_was_used() -> None:
    paragraphs, references = methods_text(_facts())
    text = " ".join(paragraphs)
    for piece in ("isp-nlp 9.8.7", "“Pilot” has 15 codes", "Stage (4 values)",
                  "10 transcripts with 345 codable segments", "ana 234 (human)",
                  "demo 7 (assisted)", "trained on 234 hand-coded seed segments",
                  "of which 3 were", "hashing-256", "5-fold cross-validation",
                  "codes 0.40", "Stage 0.65", "threshold 0.72", "target agreement 80.0% at "
                  "90.0% confidence", "61 covered segments agree 88.5%", "bound 81.2%",
                  "audit 3 (40 of 50 coded)", "target agreement 75.0% at 95.0% confidence",
                  "1,000 resamples, seed 0", "95% percentile bootstrap"):
        assert piece in text, piece
    cited = " ".join(references)
    for used in ("Cohen, J. (1960)", "Krippendorff, K. (2004)", "Clopper", "Angelopoulos"):
        assert used in cited
    assert "Gwet" not in cited and "Fleiss" not in cited  # not among the metrics used


def test_methods_without_model_or_certificate_cite_no_test() -> None:
    paragraphs, references = methods_text(_facts(model=None, seed_certificates=(),
                                                 wave_certificates=()))
    assert "No model was trained" in " ".join(paragraphs)
    assert not any("Clopper" in r or "Angelopoulos" in r for r in references)


def test_methods_numbers_come_from_the_facts() -> None:
    """Every number of the paragraph (citation years aside) is one of the facts, and
    different facts give different numbers."""
    years = {y for r in REFERENCES.values() for y in re.findall(r"\b(?:19|20)\d\d\b", r)}

    def numbers(facts: MethodsFacts) -> set[str]:
        text = " ".join(methods_text(facts)[0])
        text = re.sub(r"\([^()]*\b(?:19|20)\d\d\b[^()]*\)", "", text)  # citations
        return {n for n in NUMBER.findall(text.replace(",", "")) if n not in years}

    first = numbers(_facts())
    second = numbers(_facts(n_codes=21, n_codable=400, n_transcripts=12,
                            coders=(("ana", "human", 301),)))
    assert {"15", "345", "10", "234"} <= first
    assert {"21", "400", "12", "301"} <= second and not {"15", "345"} & second


# --------------------------------------------------------------------------- label sources


def test_source_legend_and_model_share(html: str, agreement: ProjectAgreement) -> None:
    data = _data(agreement)
    counts = source_counts(data.stage_sources)
    section = html[html.index('<section id="sources">'):html.index('<section id="reliability">')]
    total = sum(counts.values())
    assert f"Of the {total} codable segments, {counts['model']} " in section
    assert 'id="source-legend"' in section
    for source in ("human", "consensus", "blind", "assisted", "model", "no label"):
        assert f"<td>{source}</td>" in section
    assert f'<td class="num">{counts["model"]}</td>' in section


def test_every_figure_names_its_sources(html: str) -> None:
    figures = re.findall(r"<figure>(.*?)</figure>", html, re.S)
    assert len(figures) == len(re.findall(r"<img ", html))
    for figure in figures:
        caption = FIGCAPTION.search(figure)
        assert caption and re.search(r'<span class="src">[^<]*(Sources|sources|Humans only)',
                                     caption.group(1)), figure[-300:]


def test_humans_only_figures(html: str) -> None:
    assert html.count("humans only\">") == 2  # the strip and the pathway diagram
    assert "Humans only: consensus, human and blind labels." in html
    assert "Humans only (consensus, human and blind labels; assisted and model" in html


def test_model_labels_are_drawn_differently() -> None:
    seq = {"P1": ["push", "push", "exchange"]}
    assert hatch("model") and hatch("assisted") and hatch("model") != hatch("assisted")
    assert not any(hatch(s) for s in ("human", "consensus", "blind"))
    person = stage_strip_chart(seq, sources={"P1": ["human"] * 3})
    model = stage_strip_chart(seq, sources={"P1": ["human", "model", "human"]})
    assert person != model  # the model's cell is hatched, the legend grows


def test_colour_blind_safe_palette_tells_none_from_unknown() -> None:
    okabe = set(OKABE_ITO.values())
    assert {STAGE_COLORS[v] for v in ("push", "push_pull", "exchange")} <= okabe

    def luminance(colour: str) -> float:
        r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    assert abs(luminance(STAGE_COLORS["none"]) - luminance(STAGE_COLORS[UNKNOWN])) > 0.4
    assert UNKNOWN_HATCH


# --------------------------------------------------------------------------- captions


def test_confusion_caption_counts_distinct_segments(html: str) -> None:
    assert "4 distinct segment(s) with a human stage" in html
    assert "7 coder × segment pair(s), of which 4 match" in html


def _caption_facts(data: ReportData, agreement: ProjectAgreement) -> set[str]:
    """Every number the captions may state, computed from the data afresh."""
    pairs = data.stage_pairs
    counts = source_counts(data.stage_sources)
    kappa = kappa_chart_context(agreement, NAMES) or {}
    people = sum(n for s, n in counts.items() if s in ("human", "consensus", "blind"))
    values = {len(pairs), pairs["segment_id"].nunique(),
              int((pairs["human"] == pairs["model"]).sum()), *counts.values(), people,
              sum(len(s) for s in data.stage_sequences.values()), len(data.stage_sequences),
              *data.frequency_segments.values(), kappa.get("n_targets"), kappa.get("n_bars"),
              kappa.get("n_whiskers"), len(data.pathways.pathways),
              len(data.pathways_humans.pathways), len(data.pathways_humans.counts)}
    scale = {p.document: p for p in data.pathways.pathways}
    values |= {sum(dict(p.sources).get(s, 0) for p in scale.values())
               for s in ("human", "consensus", "blind", "assisted", "model")}
    values |= {p.n_staged for p in data.pathways_humans.pathways}
    values.add(sum(p.n_staged for p in data.pathways_humans.pathways))
    return {str(v) for v in values if v is not None}


def test_caption_numbers_are_computed(agreement: ProjectAgreement) -> None:
    """Every number in every figure caption is one computed from the data, and leaving
    out a participant moves them."""
    captions = {}
    for variant in (None, "P02"):
        data = _data(agreement, drop=variant)
        rendered = render_report(data)
        texts = [re.sub(r"<[^>]+>", "", c) for c in FIGCAPTION.findall(rendered)]
        allowed = _caption_facts(data, agreement)
        for text in texts:
            for number in NUMBER.findall(text):
                assert number in allowed, (number, text)
        captions[variant] = texts
    assert len(captions[None]) == len(captions["P02"])
    changed = [a != b for a, b in zip(captions[None], captions["P02"], strict=True)]
    assert sum(changed) >= 4  # strips, confusion, pathways, frequencies


def test_templates_type_no_number_in_a_caption() -> None:
    """Captions in the template hold words and {{ fields }} only, never a typed count."""
    source = (TEMPLATE / "report.html.j2").read_text(encoding="utf-8")
    for caption in FIGCAPTION.findall(source):
        words = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", caption, flags=re.S)
        assert not re.search(r"\d", words), words


# --------------------------------------------------------------------------- kappa chart


def test_kappa_chart_has_whiskers_and_code_names(agreement: ProjectAgreement,
                                                 html: str) -> None:
    frame = kappa_frame(agreement, NAMES)
    assert {"Trust", "Barter", "Stage", "All codes (pooled)"} <= set(frame["target"])
    assert not set(frame["target"]) & {"c1", "c2"}
    stage = agreement.estimates("humans", "stage")["kappa"]
    row = frame[frame["target"] == "Stage"].iloc[0]
    assert row["human_low"] == pytest.approx(stage["ci_low"])
    assert row["human_high"] == pytest.approx(stage["ci_high"])
    context = kappa_chart_context(agreement, NAMES)
    assert context is not None and context["n_whiskers"] > 0
    assert (f"{context['n_whiskers']} of the {context['n_bars']} bars carry their "
            "confidence interval") in html


def test_per_code_detail_is_collapsible(html: str, agreement: ProjectAgreement) -> None:
    section = html[html.index('<section id="agreement">'):html.index('<section id="frequencies">')]
    codes = [t for t in agreement.targets()
             if t != "overall" and agreement.dimension(t) is None]
    assert section.count("<details>") == section.count("</details>") == len(codes)
    assert "<summary>Code c1 — Trust</summary>" in section
    assert "<h3>Stage</h3>" in section  # dimensions and the pooled codes stay open
