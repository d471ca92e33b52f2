"""A new user's path without touching the database (issue 23): their own transcript and
codebook, a blank coding sheet per coder, the sheets filled in and read back, then
agreement and the report, through the command line only."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from tests.builders.cli_runs import run

CODEBOOK = """name: my-study
codes:
  - {id: training, name: Training}
  - {id: coaching, name: Coaching}
  - {id: funding, name: Funding}
dimensions:
  - {id: phase, name: Phase, values: [early, late]}
"""

ANSWERS = [
    "We ran a two-day course for every site, slides and a manual.",
    "Later we paired each supervisor with a coach for monthly calls.",
    "The grant ran out, so the coaching stopped after a year.",
    "Sites asked for refreshers, so we recorded the course as videos.",
    "Coaches now visit sites and plan the next steps with the teams.",
    "We wrote a new grant to keep the coaches for three more years.",
]
#: Each coder's (code, phase) per answer; they differ on the fourth and sixth.
ANA = [("training", "early"), ("coaching", "late"), ("funding", "late"),
       ("training", "late"), ("coaching", "late"), ("funding", "late")]
BEN = [("training", "early"), ("coaching", "late"), ("funding", "late"),
       ("coaching", "late"), ("coaching", "late"), ("coaching", "early")]


def test_from_a_transcript_to_a_report_through_coding_sheets(tmp_path: Path) -> None:
    transcript = tmp_path / "site_a_interview.txt"
    transcript.write_text("\n\n".join(
        f"Interviewer: Question {n}?\n\nP01: {answer}" for n, answer in enumerate(ANSWERS))
        + "\n", encoding="utf-8")
    book = tmp_path / "codebook.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")
    project = tmp_path / "project"
    assert run("init", str(project), "--embedder", "hashing-256").exit_code == 0
    for args in (("codebook", "load", str(book)),
                 ("ingest", str(transcript), "--skip-speakers", "Interviewer")):
        result = run(*args, project=project)
        assert result.exit_code == 0, result.output

    for coder, labels in (("ana", ANA), ("ben", BEN)):
        sheet = tmp_path / f"{coder}.xlsx"
        result = run("export-segments", "--out", str(sheet), project=project)
        assert result.exit_code == 0, result.output
        wb = load_workbook(sheet)
        ws = wb.worksheets[0]
        header = [c.value for c in ws[1]]
        rows = list(range(2, ws.max_row + 1))
        assert [ws.cell(r, header.index("text") + 1).value for r in rows] == ANSWERS
        for r, (code, phase) in zip(rows, labels, strict=True):
            ws.cell(r, header.index("coder") + 1).value = coder
            ws.cell(r, header.index("code") + 1).value = code
            ws.cell(r, header.index("phase") + 1).value = phase
        wb.save(sheet)
        result = run("import-codes", str(sheet), project=project)
        assert result.exit_code == 0, result.output
        assert f"Imported {len(ANSWERS)} rows" in result.output

    result = run("agreement", project=project)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    # phase: the coders agree on 5 of the 6 answers
    assert any(line.split()[:2] == ["humans", "0.833"] and "percent agreement" in line
               for line in result.output.splitlines()), result.output
    report = tmp_path / "report.html"
    result = run("report", "--out", str(report), project=project)
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    assert "Phase" in html
    assert "ana" in html and "ben" in html
