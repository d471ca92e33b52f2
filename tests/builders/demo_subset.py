"""Six documents of the demo corpus and their seed codes: a small, real-shaped project
for the PostgreSQL and team tests."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.builders.paths import CORPUS

DOCUMENTS = ("isp01_child_welfare_coach", "isp02_prevention_coalitions",
             "isp03_perinatal_quality", "isp05_housing_services",
             "isp06_school_mtss_specialist", "isp09_health_dept_qi_lead")


def seed_codes(out: Path) -> Path:
    """The demo corpus's seed codes of :data:`DOCUMENTS` only, written to ``out``."""
    with (CORPUS / "seed_codes.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["document"] in DOCUMENTS]
        fields = list(reader.fieldnames or ())
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out
