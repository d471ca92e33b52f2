"""Tests for the self-contained HTML report and its plots."""

from __future__ import annotations

import base64
import re
import struct
from pathlib import Path

import pandas as pd
import pytest

from isp_nlp.agreement.groups import REPORT_METRICS, ProjectAgreement, humans_and_model
from isp_nlp.agreement.reliability import ReliabilityOptions
from isp_nlp.agreement.tables import coding_tables
from isp_nlp.errors import IspNlpError
from isp_nlp.report import plots, sections
from isp_nlp.report.html import (
    SECTION_TITLES,
    ReportData,
    collapse_runs,
    format_stage_runs,
    render_report,
    write_report,
)
from isp_nlp.report.strip_chart import stage_strip_chart
from tests.builders.paths import CORPUS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG_SRC = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]*)\"")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    return struct.unpack(">II", data[16:24])


def _annotations() -> pd.DataFrame:
    rows = [
        ("s1", "ann", "code", "c1"), ("s1", "bob", "code", "c1"), ("s1", "model", "code", "c1"),
        ("s2", "ann", "code", None), ("s2", "bob", "code", "c2"), ("s2", "model", "code", "c2"),
        ("s3", "ann", "code", "c2"), ("s3", "bob", "code", "c2"), ("s3", "model", "code", None),
        ("s1", "ann", "stage", "push"), ("s1", "bob", "stage", "push"),
        ("s2", "ann", "stage", "exchange"), ("s2", "bob", "stage", "push_pull"),
        ("s3", "ann", "stage", "none"), ("s3", "bob", "stage", "none"),
        ("s1", "model", "stage", "push"), ("s2", "model", "stage", "exchange"),
        ("s3", "model", "stage", "exchange"),
    ]
    return pd.DataFrame(rows, columns=["segment_id", "coder", "dimension", "label"])


def _agreement(annotations: pd.DataFrame, codes: list[str]) -> ProjectAgreement:
    options = ReliabilityOptions(metrics=REPORT_METRICS, n_resamples=50, seed=0)
    return humans_and_model(coding_tables(annotations, codes), options=options)


@pytest.fixture(scope="module")
def full_data() -> ReportData:
    report = _agreement(_annotations(), ["c1", "c2", "c3"])
    frequencies = pd.DataFrame(
        [
            ("c1", "Trust <i>", "ann", 1), ("c1", "Trust <i>", "bob", 1),
            ("c1", "Trust <i>", "model", 1), ("c2", "Barter", "ann", 1),
            ("c2", "Barter", "bob", 2), ("c2", "Barter", "model", 1),
        ],
        columns=["code", "code_name", "coder", "count"],
    )
    stage_pairs = pd.DataFrame(
        [
            ("s1", "push", "push"), ("s1", "push", "push"), ("s2", "exchange", "exchange"),
            ("s2", "push_pull", "exchange"), ("s3", "none", "exchange"),
            ("s3", "none", "exchange"), ("s4", None, "push"),
        ],
        columns=["segment_id", "human", "model"],
    )
    sequences = {
        "P01 <b>bold</b>": ["push", "push", "push", "push_pull", "push_pull", "exchange"],
        "P02 $cost$": ["none", "?", "exchange", "exchange"],
    }
    return ReportData(
        project_name="Pilot & <study>",
        generated_at="2024-05-01 12:00",
        n_transcripts=2,
        n_segments=14,
        n_codable=10,
        coders=["ann", "bob"],
        model_info={"model_id": "m-001", "embedder": "all-MiniLM-L6-v2", "threshold": 0.4,
                    "n_training_segments": 3},
        agreement=report,
        code_frequencies=frequencies,
        stage_pairs=stage_pairs,
        stage_sequences=sequences,
        notes=["Coder <bob> coded only 3 segments."],
    )


@pytest.fixture(scope="module")
def full_html(full_data: ReportData) -> str:
    return render_report(full_data)


def _check_self_contained(html: str) -> list[bytes]:
    lowered = html.lower()
    for forbidden in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert forbidden not in lowered, forbidden
    images = []
    assert html.count("<img") == len(IMG_SRC.findall(html))
    for src in IMG_SRC.findall(html):
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(PNG_SIGNATURE)
        assert _png_size(png)[0] <= 900
        images.append(png)
    return images


def test_full_report_is_self_contained(full_html: str) -> None:
    images = _check_self_contained(full_html)
    assert len(images) == 4  # kappa comparison, frequencies, confusion matrix, stage strip


def test_full_report_sections_and_values(full_html: str) -> None:
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in full_html
    assert "<h2>Notes</h2>" in full_html
    assert "Human vs human" in full_html and "Model vs human" in full_html
    assert "ann vs bob" in full_html and "ann vs model" in full_html
    assert "humans+model" in full_html
    assert "all-MiniLM-L6-v2" in full_html
    # stage: ann vs bob agree on 2 of 3 segments
    assert "66.7%" in full_html
    # c1: every coder applied it to s1 only -> kappa defined; c3 never applied -> undefined
    assert "kappa undefined: every coding is label 0" in full_html
    assert "<td class=\"num\">—</td>" in full_html
    # 6 usable coder × segment pairs on 3 distinct segments (the one without a human label
    # is dropped), 3 match: segments are counted once, pairs as pairs
    assert "3 distinct segment(s) with a human stage" in full_html
    assert "6 coder × segment pair(s), of which 3 match" in full_html
    assert "push ×3 → push_pull ×2 → exchange" in full_html
    assert "none → ? → exchange ×2" in full_html


def test_user_text_is_escaped(full_html: str) -> None:
    assert "<b>bold</b>" not in full_html
    assert "P01 &lt;b&gt;bold&lt;/b&gt;" in full_html
    assert "Pilot &amp; &lt;study&gt;" in full_html
    assert "Trust &lt;i&gt;" in full_html and "<i>" not in full_html
    assert "Coder &lt;bob&gt; coded" in full_html


def test_empty_report_explains_instead_of_images() -> None:
    data = ReportData(
        project_name="Empty", generated_at="2024-05-01", n_transcripts=0, n_segments=0,
        n_codable=0, coders=[],
    )
    html = render_report(data)
    assert _check_self_contained(html) == []
    assert "<img" not in html
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in html
    assert "No model has been trained" in html
    assert "No agreement statistics are available" in html
    assert "no code frequencies to show" in html
    assert "no confusion matrix to show" in html
    assert "no stage sequences to show" in html
    assert "<h2>Notes</h2>" not in html


def test_agreement_without_model_and_pairs_without_model_labels() -> None:
    ann = _annotations()
    ann = ann[ann["coder"] != "model"]
    report = _agreement(ann, ["c1"])
    data = ReportData(
        project_name="Humans only", generated_at="now", n_transcripts=1, n_segments=3,
        n_codable=3, coders=["ann", "bob"], agreement=report,
        stage_pairs=pd.DataFrame({"segment_id": ["s1"], "human": ["push"], "model": [None]}),
        stage_sequences={"P03": []},
    )
    html = render_report(data)
    assert len(_check_self_contained(html)) == 1  # the human-human kappa chart only
    assert "No model vs human pairs to compare." in html
    assert "no confusion matrix to show" in html
    assert "no codable segments" in html


def test_bad_frame_columns_raise_domain_error() -> None:
    data = ReportData(
        project_name="x", generated_at="now", n_transcripts=0, n_segments=0, n_codable=0,
        coders=[], code_frequencies=pd.DataFrame({"code": ["c1"], "count": [1]}),
    )
    with pytest.raises(IspNlpError, match="code_frequencies is missing column"):
        render_report(data)


def test_write_report_is_atomic_utf8(tmp_path: Path, full_data: ReportData) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    written = write_report(full_data, target)
    assert written == target
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "→" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    with pytest.raises(IspNlpError, match="does not exist"):
        write_report(full_data, tmp_path / "missing" / "report.html")


def test_stage_runs_text() -> None:
    assert collapse_runs(["a", "a", "b", "a"]) == [("a", 2), ("b", 1), ("a", 1)]
    labels = ["push"] * 3 + ["push_pull"] * 2 + ["exchange"] * 5
    assert format_stage_runs(labels) == "push ×3 → push_pull ×2 → exchange ×5"
    assert format_stage_runs([]) == "no codable segments"


def test_plots_fit_page_for_many_rows() -> None:
    sequences = {f"participant-{i:03d}": ["push", "exchange", "none"] * 40 for i in range(30)}
    freq = pd.DataFrame(
        [(f"code{i}", f"Code {i}", c, i % 5 + 1) for i in range(25) for c in ("a", "b", "model")],
        columns=["code", "code_name", "coder", "count"],
    )
    pairs = pd.DataFrame({"human": ["push", "odd_label"], "model": ["none", "push"]})
    for png in (
        stage_strip_chart(sequences),
        plots.code_frequency_chart(freq),
        plots.confusion_matrix_chart(pairs),
    ):
        width, height = _png_size(png)
        assert 300 <= width <= 900 and height > 100
    assert plots.plain("cost $5 $x$") == r"cost \$5 \$x\$"
    assert plots.stage_order(["?", "zzz", "none", "push"]) == ["push", "none", "zzz", "?"]


# --------------------------------------------------------------------------- new sections


def test_landis_koch_bands() -> None:
    band = sections.landis_koch
    assert [band(v) for v in (-0.1, 0.0, 0.2, 0.21, 0.4, 0.5, 0.6, 0.8, 0.801, 1.0)] == [
        "poor", "slight", "slight", "fair", "fair", "moderate", "moderate", "substantial",
        "almost perfect", "almost perfect"]
    assert band(None) == "" and band(float("nan")) == ""


def test_confidence_intervals_and_extra_columns_are_rendered(full_data: ReportData) -> None:
    assert full_data.agreement is not None
    alphas = full_data.agreement.alphas
    stage = alphas[(alphas["target"] == "stage") & (alphas["coders"] == "humans")].iloc[0]
    html = render_report(full_data)
    interval = f"[{stage['ci_low']:.2f}, {stage['ci_high']:.2f}]"
    assert interval in html and "<th>Kappa [CI]</th>" in html and "<th>Gwet AC1</th>" in html
    assert "Brackets hold the confidence interval" in html
    assert "almost perfect" in html or "substantial" in html
    # Coders who never coded the same segment: every value undefined, so no interval.
    apart = pd.DataFrame([("s1", "ann", "stage", "push"), ("s2", "bob", "stage", "none"),
                          ("s1", "ann", "code", "c1"), ("s2", "bob", "code", "c1")],
                         columns=["segment_id", "coder", "dimension", "label"])
    data = ReportData(**{**full_data.__dict__, "agreement": _agreement(apart, ["c1"])})
    plain_html = render_report(data)
    assert "[CI]" not in plain_html and "Brackets hold" not in plain_html


def _summary():
    from isp_nlp.analysis.pathways import summarize_pathways

    f = frozenset
    stages = {"P1": ["push", "push", "push_pull", "push_pull", "exchange", "exchange"],
              "P2": ["push", "push", "exchange", "exchange"]}
    codes = {doc: [f({"c1"}) if i % 2 else f({"c2"}) for i in range(len(seq))]
             for doc, seq in stages.items()}
    return summarize_pathways(stages, codes)


def test_new_sections_render_with_data(full_data: ReportData) -> None:
    from isp_nlp.analysis.disagreements import CoderLabels, find_disagreements
    from isp_nlp.records import Segment

    seg = Segment("s1", "P1 <x>", 3, 3, "turn", "P1", 0, 5, "We <b>co-designed</b> it.")
    items = find_disagreements([seg], {"s1": {
        "ann": CoderLabels(frozenset({"c1"}), {"stage": "push"}),
        "bob": CoderLabels(frozenset(), {"stage": "exchange"})}})
    matrix = pd.DataFrame([[2, 0], [1, 3]], index=["P1", "P2"], columns=["c1", "c2"])
    data = ReportData(**{**full_data.__dict__,
                         "pathways": _summary(),
                         "evaluation": {"learning_curve": [
                             {"seed_per_label": 2, "mean_kappa": 0.2, "sd": 0.05},
                             {"seed_per_label": 8, "mean_kappa": 0.45, "sd": 0.04},
                             {"seed_per_label": None, "mean_kappa": 0.5, "sd": 0.0}],
                             "human_human": {"mean_pairwise_kappa": 0.7}},
                         "code_matrix": matrix,
                         "cooccurrence": pd.DataFrame([[3, 1], [1, 3]], index=["c1", "c2"],
                                                      columns=["c1", "c2"]),
                         "disagreements": items})
    html = render_report(data)
    images = _check_self_contained(html)
    assert len(images) == 4 + 4  # + learning curve, two heatmaps, pathway diagram
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in html
    assert "push → push_pull → exchange" in html and "leap-frog" in html
    assert "human–human mean pairwise kappa (0.700)" in html
    assert "1 segment(s) where the coders differ have no consensus yet" in html
    assert "We &lt;b&gt;co-designed&lt;/b&gt; it." in html and "P1 &lt;x&gt; #3" in html
    assert "ann: c1 | push" in html and "bob: - | exchange" in html


def test_new_sections_explain_absence(full_data: ReportData) -> None:
    from isp_nlp.analysis.pathways import summarize_pathways

    data = ReportData(**{**full_data.__dict__,
                         "pathways": summarize_pathways({"P1": ["none", "?", "push"]}),
                         "evaluation_problem": "evaluation.json cannot be read (bad).",
                         "disagreements": []})
    html = render_report(data)
    assert "evaluation.json cannot be read (bad)." in html
    assert "No participant has a stage" in html and "P1" in html
    assert "no code-by-participant matrix" in html and "no co-occurrence matrix" in html
    assert "There are no unresolved disagreements" in html
    empty = render_report(ReportData(project_name="E", generated_at="now", n_transcripts=0,
                                     n_segments=0, n_codable=0, coders=[]))
    assert "No evaluation results were found" in empty
    assert "no pathways to trace" in empty
    assert "Disagreements were not collected" in empty


def test_project_report_data(project_copy: Path) -> None:
    import json

    from isp_nlp.report.collect import load_evaluation, report_data, write_project_report
    from isp_nlp.store.folder import open_project

    (project_copy / "evaluation.json").write_text(json.dumps({
        "learning_curve": [{"seed_per_label": 4, "mean_kappa": 0.3, "sd": 0.1},
                           {"seed_per_label": 16, "mean_kappa": 0.4, "sd": 0.05}],
        "human_human": {"mean_pairwise_kappa": 0.66}}), encoding="utf-8")
    with open_project(project_copy) as store:
        data = report_data(store)
        assert data.evaluation is not None and data.evaluation_problem is None
        assert len(data.pathways.pathways) == 15
        assert data.code_matrix.shape[0] == 15 and data.code_matrix.to_numpy().sum() > 100
        co = data.cooccurrence
        assert (co.to_numpy() == co.to_numpy().T).all()
        assert data.disagreements and "consensus" not in data.coders
        path = write_project_report(store, project_copy / "r.html")
    html = path.read_text(encoding="utf-8")
    # kappa chart, frequencies, confusion, learning curve, 2 heatmaps, stage strip, pathways,
    # and the humans-only stage strip and pathways
    assert len(_check_self_contained(html)) == 10
    assert html.count('humans only">') == 2 and 'id="source-legend"' in html
    # the methods paragraph reads the project: its version, folds and coders' segments
    import isp_nlp
    from isp_nlp.report.methods import coder_segments
    with open_project(project_copy) as store:
        manifest = store.latest_model()["manifest"]
        coded = coder_segments(store)
    assert f"isp-nlp {isp_nlp.__version__}" in html
    assert f"({manifest['cv_folds']}-fold cross-validation" in html
    assert all(f"{c} {n} ({s})" in html for c, s, n in coded)
    assert "human–human mean pairwise kappa (0.660)" in html
    (project_copy / "evaluation.json").write_text("{not json", encoding="utf-8")
    assert load_evaluation(project_copy)[1].startswith("evaluation.json cannot be read")
    (project_copy / "evaluation.json").write_text('{"learning_curve": [{"mean_kappa": "x"}]}',
                                                  encoding="utf-8")
    assert "expected a number" in load_evaluation(project_copy)[1]
    assert load_evaluation(project_copy / "models") == (None, None)


def test_single_participant_without_model_or_stages(tmp_path: Path) -> None:
    from isp_nlp.project import import_codes, ingest_files, load_project_codebook
    from isp_nlp.report.collect import write_project_report
    from isp_nlp.store.folder import init_project, open_project

    corpus = CORPUS
    init_project(tmp_path / "p", embedder="hashing-256")
    transcript = corpus / "transcripts" / "isp01_child_welfare_coach.txt"
    seed = pd.read_csv(corpus / "seed_codes.csv", dtype=str, keep_default_na=False)
    seed = seed[(seed["document"] == "isp01_child_welfare_coach") & (seed["coder"] == "ana")]
    seed.assign(stage="").to_csv(tmp_path / "seed.csv", index=False)
    with open_project(tmp_path / "p") as store:
        load_project_codebook(store, corpus / "codebook.yaml")
        ingest_files(store, [transcript], skip_speakers=("Interviewer",))
        import_codes(store, tmp_path / "seed.csv")
        html = write_project_report(store, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No model has been trained" in html
    assert "No participant has a stage" in html
    assert "Disagreements cannot be listed" in html
    assert "no learning curve" in html
    # frequencies, two code heatmaps and the stage strip (all unknown)
    assert len(_check_self_contained(html)) == 4


# --------------------------------------------------------------------------- reliability with CIs


def _project_agreement(with_model: bool = True):
    from isp_nlp.agreement.groups import humans_and_model
    from isp_nlp.agreement.reliability import ReliabilityOptions

    ann = _annotations()
    rows = [("s4", "ann", "code", "c1"), ("s4", "bob", "code", None),
            ("s4", "model", "code", "c1"), ("s4", "ann", "stage", "push"),
            ("s4", "bob", "stage", "push"), ("s4", "model", "stage", "push")]
    ann = pd.concat([ann, pd.DataFrame(rows, columns=ann.columns)], ignore_index=True)
    if not with_model:
        ann = ann[ann["coder"] != "model"]
    tables = coding_tables(ann, ["c1", "c2", "c3"])
    options = ReliabilityOptions(metrics=("percent", "kappa", "fleiss", "alpha", "ac1"),
                                 n_resamples=50, seed=0)
    return humans_and_model(tables, options=options)


def test_reliability_table_with_intervals_and_bands(full_data: ReportData) -> None:
    agreement = _project_agreement()
    html = render_report(ReportData(**{**full_data.__dict__, "agreement": agreement}))
    rel = html[html.index('<section id="reliability">'):html.index('<section id="agreement">')]
    for header in ("α humans", "α humans+model", "κ ann–bob", "mean κ model–human",
                   "AC1 humans"):
        assert f"<th>{header}</th>" in rel
    assert rel.count("<tr>") == 1 + 5  # header, stage, c1, c2, c3, all codes
    assert "All codes (pooled)" in rel and "Trust &lt;i&gt;" in rel
    assert "(50 resamples, seed 0)" in rel and "isp-nlp agreement --seed 0" in rel
    stage = agreement.estimates("humans", "stage")["alpha"]
    assert f"{stage['value']:.3f}" in rel
    assert f"[{stage['ci_low']:.2f}, {stage['ci_high']:.2f}]" in rel
    assert sections.landis_koch(stage["value"]) in rel
    # c3 is never applied: alpha is undefined and the footnote says why
    assert "Undefined values" in rel and "every coding is label 0" in rel
    assert "Bar chart of mean human–human and model–human kappa" in rel
    # the per-target tables carry the same intervals, with Fleiss and AC1 columns
    assert "<th>Kappa [CI]</th>" in html and "<th>Fleiss κ</th>" in html
    assert "All codes (pooled segment × code units)" in html


def test_reliability_table_without_model(full_data: ReportData) -> None:
    agreement = _project_agreement(with_model=False)
    assert agreement.combined is None
    html = render_report(ReportData(**{**full_data.__dict__, "agreement": agreement}))
    rel = html[html.index('<section id="reliability">'):html.index('<section id="agreement">')]
    assert "<th>α humans</th>" in rel and "humans+model" not in rel
    table = rel[rel.index("<table"):rel.index("</table>")]
    assert "model–human" not in table and table.count("<th>") == 6
