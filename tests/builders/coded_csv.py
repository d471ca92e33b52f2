"""Coded-segments CSV files for ``evaluate``: phrases per label, coders who sometimes
mislabel, written with the columns isp-nlp reads."""

from __future__ import annotations

import csv
from pathlib import Path

PHRASES = {
    "plan": ["we made a plan for the rollout", "the plan covers training dates",
             "our plan lists each milestone", "a written plan with owners"],
    "barrier": ["staff turnover blocked us", "no budget was a barrier",
                "the barrier was missing time", "leadership resistance stopped work"],
    "support": ["the coach helped every week", "support calls kept us going",
                "facilitators gave support on site", "peer support sessions helped"],
}


def write_coded_csv(path: Path, rows: list[dict], extra: tuple[str, ...] = ()) -> Path:
    cols = ["document", "segment", "text", "coder", "code", "stage", *extra]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def coded_rows(n_docs: int, coders: tuple[str, ...],
               flip: dict[str, int] | None = None) -> list[dict]:
    """Docs with one unit per (label, phrase); coder ``c`` mislabels every flip[c]-th unit."""
    rows, labels, n = [], sorted(PHRASES), 0
    for d in range(n_docs):
        for label, phrases in PHRASES.items():
            for j, phrase in enumerate(phrases):
                n += 1
                for coder in coders:
                    code = label
                    if flip and coder in flip and n % flip[coder] == 0:
                        code = labels[(labels.index(label) + 1) % len(labels)]
                    rows.append({"document": f"doc{d}", "segment": f"s{n}",
                                 "text": f"{phrase} ({d}-{j})", "coder": coder, "code": code,
                                 "stage": "push" if label == "plan" else "exchange"})
    return rows
