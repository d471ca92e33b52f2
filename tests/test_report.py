"""Tests for the self-contained HTML report and its plots."""

from __future__ import annotations

import base64
import re
import struct
from pathlib import Path

import pandas as pd
import pytest

from isp_nlp.agreement import agreement_summary, coding_tables
from isp_nlp.errors import IspNlpError
from isp_nlp.report import (
    SECTION_TITLES,
    ReportData,
    collapse_runs,
    format_stage_runs,
    plots,
    render_report,
    write_report,
)

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


@pytest.fixture(scope="module")
def full_data() -> ReportData:
    report = agreement_summary(coding_tables(_annotations(), ["c1", "c2", "c3"]))
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
    assert len(images) == 3  # frequencies, confusion matrix, stage strip


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
    assert "kappa undefined: both coders used only label 0" in full_html
    assert "<td class=\"num\">—</td>" in full_html
    # 6 usable stage pairs (the one without a human label is dropped), 3 match
    assert "on 6 labelled segment(s); 3 match" in full_html
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
    report = agreement_summary(coding_tables(ann, ["c1"]))
    data = ReportData(
        project_name="Humans only", generated_at="now", n_transcripts=1, n_segments=3,
        n_codable=3, coders=["ann", "bob"], agreement=report,
        stage_pairs=pd.DataFrame({"segment_id": ["s1"], "human": ["push"], "model": [None]}),
        stage_sequences={"P03": []},
    )
    html = render_report(data)
    assert _check_self_contained(html) == []
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
        plots.stage_strip_chart(sequences),
        plots.code_frequency_chart(freq),
        plots.confusion_matrix_chart(pairs),
    ):
        width, height = _png_size(png)
        assert 300 <= width <= 900 and height > 100
    assert plots.plain("cost $5 $x$") == r"cost \$5 \$x\$"
    assert plots.stage_order(["?", "zzz", "none", "push"]) == ["push", "none", "zzz", "?"]
