"""The project report: plots and a single self-contained HTML page."""

from __future__ import annotations

from isp_nlp.report.html import (
    SECTION_TITLES,
    ReportData,
    collapse_runs,
    format_stage_runs,
    render_report,
    write_report,
)

__all__ = [
    "SECTION_TITLES",
    "ReportData",
    "collapse_runs",
    "format_stage_runs",
    "render_report",
    "write_report",
]
