"""The report's "Codes by attribute" section: the code × attribute table of every document
attribute, as `isp-nlp attributes --table` counts it (issue 23)."""

from __future__ import annotations

import re
from pathlib import Path

from isp_nlp.analysis.attributes import attribute_table
from isp_nlp.report.collect import write_project_report
from isp_nlp.store.folder import open_project
from tests.builders.review_queue import suggested_project


def _section(html: str) -> str:
    match = re.search(r'<section id="attributes">(.*?)</section>', html, re.S)
    assert match, "no attributes section"
    return match.group(1)


def test_the_report_tables_codes_by_each_attribute(tmp_path: Path) -> None:
    project = suggested_project(tmp_path / "p", documents=3, turns=30)
    with open_project(project) as store:
        store.set_attributes([("interview000", "site", "north"),
                              ("interview001", "site", "south"),
                              ("interview002", "site", "south"),
                              ("interview000", "wave", "1")])
        tables = {name: attribute_table(store, name) for name in ("site", "wave")}
        html = write_project_report(store, tmp_path / "r.html").read_text(encoding="utf-8")
    section = _section(html)
    assert "Codes × site" in section and "Codes × wave" in section
    site = tables["site"]
    for key, name in site.rows:
        cells = re.search(rf"<tr><td>{re.escape(name)}</td>((?:<td>\d+</td>)+)</tr>", section)
        assert cells, name
        shown = [int(n) for n in re.findall(r"<td>(\d+)</td>", cells.group(1))]
        assert shown == [site.counts.get(key, {}).get(v, 0) for v in site.values]
    assert "<th>north</th><th>south</th>" in section
    assert '<a href="#attributes">' in html


def test_without_attributes_the_section_says_how_to_add_them(tmp_path: Path) -> None:
    project = suggested_project(tmp_path / "p", documents=2, turns=20)
    with open_project(project) as store:
        html = write_project_report(store, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "isp-nlp attributes FILE.csv" in _section(html)
