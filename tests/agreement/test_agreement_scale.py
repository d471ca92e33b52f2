"""`agreement FILE` at scale: the streamed reader and the compact tables and pooling give
exactly what the whole-text reader, :func:`coding_tables` and a straightforward
concatenation give (every coefficient and CI), and report the same first problem."""

from __future__ import annotations

import csv
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from isp_nlp.agreement import bootstrap as bootstrap_module
from isp_nlp.agreement import reliability as reliability_module
from isp_nlp.agreement.bootstrap import (
    Clusters,
    bootstrap,
    bootstrap_many,
    bootstrap_stacked,
    cluster_sums,
    stack,
    summed,
)
from isp_nlp.agreement.coefficients import PAIR_METRICS, unit_stats
from isp_nlp.agreement.ratings import encode
from isp_nlp.agreement.reliability import ReliabilityOptions, reliability_report
from isp_nlp.agreement.sets import code_set_ratings, set_alpha, set_ratings
from isp_nlp.agreement.tables import (
    coder_order,
    coding_tables,
    csv_annotations,
    csv_coding_tables,
)
from isp_nlp.cli import cli
from isp_nlp.coded.read import choose_delimiter, iter_coded_csv, read_coded_csv, rows_with_lines
from isp_nlp.errors import ImportCodesError, InputFileError, IspNlpError

HEADER = ["document", "segment", "text", "coder", "code", "stage", "start", "end"]
STAGES = ["push", "push_pull", "exchange", "none", ""]


def coded_file(path: Path, n: int, coders: list[str], seed: int = 0) -> Path:
    """A coded CSV with 0-2 codes per coder and unit, missing coders, repeated stage rows
    and units by id, by offsets and by text."""
    rng = np.random.default_rng(seed)
    codes = ["a", "b", "c", "z"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(n):
            doc = f"doc{i // 7}"
            kind = i % 3
            segment = f"s{i}" if kind == 0 else ""
            start, end = (str(i * 10), str(i * 10 + 9)) if kind == 1 else ("", "")
            text = f"unit  number {i}" if kind == 2 else ""
            for coder in coders:
                if rng.random() < 0.1:
                    continue
                k = int(rng.integers(0, 3))
                chosen = list(rng.choice(codes, size=k, replace=False)) if k else [""]
                for code in chosen:
                    stage = str(rng.choice(STAGES))
                    w.writerow([doc, segment, text, coder, code, stage, start, end])
    return path


def old_tables(path: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The tables as built before streaming: every row in memory, then pivoted."""
    frame, documents = csv_annotations(read_coded_csv(path))
    codes = sorted({str(x) for x in frame.loc[frame["dimension"] == "code", "label"]
                    if isinstance(x, str)})
    return coding_tables(frame, codes), documents


# --------------------------------------------------------------------------- reading


def test_streamed_records_equal_whole_text_records(tmp_path: Path) -> None:
    text = ('\ufeff\r\n  \r\ndocument;segment;text;coder;code\r\n'
            'd;s1;"a ""quoted""\r\nline";ana;\'=x\r\n;;;;\r\nd;s2;b;ben;\r\n')
    path = tmp_path / "semi.csv"
    path.write_bytes(text.encode("utf-8"))
    whole = text[1:]
    expected = [(n, r) for n, r in rows_with_lines(whole, choose_delimiter(whole), path.name)
                if any(f.strip() for f in r)]
    rows = list(iter_coded_csv(path))
    assert [(r.line, r.document, r.segment, r.text, r.coder, r.code) for r in rows] == [
        (n, *r) for n, r in expected[1:]]
    assert rows[0].text == 'a "quoted"\r\nline' and rows[0].code == "=x" and rows[1].line == 7


@pytest.mark.parametrize(("body", "expected"), [
    # a file problem further on beats a quoting problem earlier
    (b'document,segment,text,coder,code\nd,s1,"a"b,ana,x\nd,s2,\xff,ana,x\n',
     "line 3 is not valid UTF-8"),
    (b'document,segment,text,coder,code\nd,s1,"a"b,ana,x\nd,s2,\x00,ana,x\n',
     "NUL byte"),
    # a quoting problem further on beats a header problem
    (b'document,segment,text,coder\nd,s1,a,ana\nd,s1,"a"b,ana\n', "line 3 cannot be parsed"),
    (b'document,segment,text,coder,code\nd,s1,"a"b,ana,x\n', "line 2 cannot be parsed"),
    (b' \n\t\n', "is empty"),
    (b'\n,,\n', "has no header row"),
    (b'document,segment,text,coder,code\n,,,,\n', "header but no data rows"),
    (b'document,segment,text,coder\nd,s1,a,ana\n', "missing the column code"),
])
def test_streamed_reader_reports_the_whole_text_readers_first_problem(
        tmp_path: Path, body: bytes, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(body)
    with pytest.raises((InputFileError, ImportCodesError), match=expected) as caught:
        list(iter_coded_csv(path))
    assert "\n" not in str(caught.value)


def test_row_problems_come_before_table_problems(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("document,segment,text,coder,code,start,end\n"
                    "d,s1,a,,x,,\n"          # empty coder: a table problem
                    "d,s2,b,ana,x,3,\n")     # start without end: a row problem
    with pytest.raises(ImportCodesError, match="line 3: start is given but end is empty"):
        csv_coding_tables(iter_coded_csv(path))
    path.write_text("document,segment,text,coder,code,stage\nd,s1,a,ana,x,\nd,s2,b,ana,x,pushh\n"
                    "d,s3,c,,x,\n")
    with pytest.raises(IspNlpError, match="Line 3 of the coded CSV has stage 'pushh'"):
        csv_coding_tables(iter_coded_csv(path))


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize("coders", [["ana", "ben"], ["ben", "model", "ana", "cy"]])
def test_csv_coding_tables_equal_coding_tables(tmp_path: Path, coders: list[str]) -> None:
    path = coded_file(tmp_path / "coded.csv", 120, coders, seed=len(coders))
    expected, documents = old_tables(path)
    tables, docs = csv_coding_tables(iter_coded_csv(path))
    assert list(tables) == list(expected) == ["stage", "a", "b", "c", "z"]
    for name, table in expected.items():
        pd.testing.assert_frame_equal(tables[name], table)
    assert docs == documents
    assert list(tables["a"].columns) == coder_order(coders)
    assert tables["a"].index[0] == "doc0#s0" and tables["a"].shape[0] == len(docs) > 100


def test_csv_coding_tables_without_stage(tmp_path: Path) -> None:
    path = tmp_path / "nostage.csv"
    path.write_text("document,segment,text,coder,code\nd,s1,,ana,x\nd,s1,,ben,\nd,s2,,ben,y\n")
    tables, _ = csv_coding_tables(iter_coded_csv(path))
    expected, _ = old_tables(path)
    assert tables["stage"].empty and expected["stage"].empty
    for name in ("x", "y"):
        pd.testing.assert_frame_equal(tables[name], expected[name])
    np.testing.assert_array_equal(tables["x"].to_numpy(), [[1.0, 0.0], [np.nan, 0.0]])
    np.testing.assert_array_equal(tables["y"].to_numpy(), [[0.0, 0.0], [np.nan, 1.0]])


# --------------------------------------------------------------------------- clusters


def test_cluster_runs_and_repeat_equal_labelled_clusters() -> None:
    rng = np.random.default_rng(1)
    values = rng.random((12, 3)) / 3  # not exact in binary: the order of additions shows
    segments = np.repeat([f"s{i}" for i in range(4)], 3)
    assert np.array_equal(Clusters.runs(4, 3).sums(values), cluster_sums(values, segments))
    docs = Clusters.of(["d2", "d1", "d2", "d10"])
    repeated = np.repeat(["d2", "d1", "d2", "d10"], 3)
    assert np.array_equal(docs.repeat(3).sums(values), cluster_sums(values, repeated))
    assert docs.n_clusters == 3 and list(docs.index) == [2, 0, 2, 1]  # sorted as text
    with pytest.raises(IspNlpError, match="has 12 entries for 5 units"):
        Clusters.runs(4, 3).sums(values[:5])


def test_bootstrap_many_takes_clusters() -> None:
    table = pd.DataFrame({"a": [0, 1, 1, 0, 1, 1] * 5, "b": [0, 1, 0, 0, 1, 1] * 5})
    stats = [unit_stats(encode(table), m) for m in ("kappa", "alpha")]
    groups = [f"d{i % 4}" for i in range(30)]
    by_label = bootstrap_many(stats, groups=groups, n_resamples=200, seed=2)
    by_clusters = bootstrap_many(stats, groups=Clusters.of(groups), n_resamples=200, seed=2)
    assert by_label == by_clusters and by_label[0].ci_low < by_label[0].value


def test_code_set_ratings_equal_frozenset_ratings() -> None:
    rng = np.random.default_rng(3)
    presence = rng.random((40, 3, 10)) < 0.2  # 10 codes: two bytes of bits
    seen = rng.random((40, 3)) < 0.8
    codes = [f"c{i}" for i in range(10)]
    cells = pd.DataFrame(
        [[frozenset(c for c, hit in zip(codes, presence[u, k], strict=True) if hit)
          if seen[u, k] else np.nan for k in range(3)] for u in range(40)],
        columns=["x", "y", "z"])
    fast = code_set_ratings(presence, seen, codes, ["x", "y", "z"])
    slow = set_ratings(cells)
    assert fast.categories == slow.categories and fast.coders == slow.coders
    assert np.array_equal(fast.data, slow.data)
    assert frozenset() in fast.categories and (fast.data == -1).sum() == (~seen).sum()


# --------------------------------------------------------------------------- the report


def straightforward_report(tables: dict[str, pd.DataFrame], documents: dict[str, str],
                           options: ReliabilityOptions) -> dict:
    """Overall and set alpha as first written: a (segment, code) frame built with
    pd.concat, text cluster labels, frozenset cells; then the same bootstrap."""
    codes = {t: v for t, v in tables.items() if t != "stage"}
    pooled = pd.concat(list(codes.values()), keys=list(codes), names=["code", "segment_id"])
    pooled = pooled.swaplevel().sort_index()
    segments = [s for s, _ in pooled.index]
    groups = segments if options.by == "segment" else [documents[s] for s in segments]
    kw = {"level": options.ci, "n_resamples": options.n_resamples, "seed": options.seed}

    def estimates(table: pd.DataFrame, metrics) -> dict:
        stats = [unit_stats(encode(table, categories=(0, 1)), m) for m in metrics]
        return {e.metric: e.to_dict() for e in bootstrap_many(stats, groups=groups, **kw)}

    overall = estimates(pooled, options.metrics)
    first = next(iter(codes.values()))
    cells = {}
    for coder in first.columns:
        applied = [frozenset(c for c, t in codes.items() if t.loc[s, coder] == 1)
                   for s in first.index]
        cells[coder] = pd.Series(applied, index=first.index, dtype=object).where(
            first[coder].notna(), np.nan)
    sets = pd.DataFrame(cells, index=first.index)
    set_groups = None if options.by == "segment" else [documents[s] for s in first.index]
    for distance in ("masi", "jaccard"):
        est = bootstrap(set_alpha(sets, distance), groups=set_groups, **kw)
        overall[f"alpha_{distance}"] = est.to_dict()
    pairs = []
    for a, b in combinations(coder_order(pooled.columns), 2):
        pair = estimates(pooled[[a, b]], PAIR_METRICS)
        pairs.append({"target": "overall", "coder_a": a, "coder_b": b, **pair})
    return {"overall": overall, "pairs": pairs}


@pytest.mark.parametrize("by", ["segment", "document"])
def test_report_equals_straightforward_computation(tmp_path: Path, by: str) -> None:
    path = coded_file(tmp_path / "coded.csv", 150, ["ana", "ben", "cy"], seed=5)
    tables, documents = csv_coding_tables(iter_coded_csv(path))
    options = ReliabilityOptions(by=by, n_resamples=300, seed=4)
    got = reliability_report(tables, options=options, documents=documents).to_dict()
    want = straightforward_report(*old_tables(path), options)
    assert {e.pop("population") for e in got["overall"].values()} == {"humans"}
    assert got["overall"] == want["overall"]  # exactly: every value and CI
    got_pairs = [p for p in got["pairs"] if p["target"] == "overall"]
    assert [{k: v for k, v in p.items() if k not in ("kind", "population")}
            for p in got_pairs] == want["pairs"]
    kappa = got["overall"]["kappa"]
    assert kappa["ci_low"] < kappa["value"] < kappa["ci_high"] and kappa["n_units"] > 400


def test_cli_file_agreement_equals_the_tables_report(tmp_path: Path) -> None:
    path = coded_file(tmp_path / "coded.csv", 60, ["ana", "ben"], seed=6)
    result = CliRunner().invoke(cli, ["--project", str(tmp_path / "none"), "agreement",
                                      str(path), "--resamples", "50", "--format", "json"])
    assert result.exit_code == 0, result.output
    tables, documents = old_tables(path)
    want = reliability_report(tables, documents=documents,
                              options=ReliabilityOptions(n_resamples=50, seed=0)).to_dict()
    assert json.loads(result.stdout) == json.loads(json.dumps(want))


def test_jobs_sharing_draws_equal_jobs_run_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap_module, "_CHUNK_CELLS", 500)  # chunks of 3 resamples
    rng = np.random.default_rng(7)
    tables = [pd.DataFrame(rng.integers(0, 3, size=(160, 3)).astype(float)) for _ in range(3)]
    tables[1].iloc[::5, 0] = np.nan
    jobs = [stack([summed(unit_stats(encode(t), m)) for m in ("alpha", "ac1", "kappa")])
            for t in tables]
    jobs.append(stack([summed(unit_stats(encode(tables[0].iloc[:40]), "pi"))]))  # other n
    together = bootstrap_stacked(jobs, n_resamples=50, seed=3)
    alone = [bootstrap_stacked([job], n_resamples=50, seed=3)[0] for job in jobs]
    assert together == alone
    assert len({e.ci_low for e in together[0]}) == 3 and together[3][0].n_units == 40


def test_report_is_the_same_whatever_jobs_wait(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    path = coded_file(tmp_path / "coded.csv", 90, ["ana", "ben", "cy"], seed=8)
    tables, documents = csv_coding_tables(iter_coded_csv(path))
    options = ReliabilityOptions(n_resamples=400, seed=1, level="ordinal")
    monkeypatch.setattr(bootstrap_module, "_CHUNK_CELLS", 5000)
    held = reliability_report(tables, options=options, documents=documents).to_dict()
    monkeypatch.setattr(reliability_module, "JOB_CELLS", 1)  # every job on its own
    steps: list[tuple[int, int]] = []
    alone = reliability_report(tables, options=options, documents=documents,
                               progress=lambda done, total: steps.append((done, total)))
    assert alone.to_dict() == held
    assert steps == [(i, 6) for i in range(1, 7)]
    assert "'none' left out" in held["dimensions"]["stage"]["alpha"]["note"]
