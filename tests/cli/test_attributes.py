"""`isp-nlp attributes`: document attributes from a CSV (all rows or none), listed, and
the code × attribute table checked against a hand count."""

from __future__ import annotations

import json
from pathlib import Path

from isp_nlp.records import Annotation
from isp_nlp.store.folder import open_project
from tests.builders.cli_runs import assert_one_line_error, run
from tests.builders.coded_projects import coded_project

ATTRIBUTES = "document,role,site\nsite0,manager,north\nsite1.txt,coach,south\nsite2,manager,\n"


def _project(tmp_path: Path) -> tuple[Path, Path]:
    project, _, _ = coded_project(tmp_path)
    csv = tmp_path / "attributes.csv"
    csv.write_text(ATTRIBUTES, "utf-8")
    return project, csv


def _fits(output: str) -> None:
    assert all(len(line) <= 80 for line in output.splitlines()), output


def test_attributes_are_imported_listed_and_changed_by_a_second_file(tmp_path: Path) -> None:
    project, csv = _project(tmp_path)
    r = run("attributes", str(csv), project=project)
    assert r.exit_code == 0, r.output
    assert "Read role, site for 3 document(s) from attributes.csv: 5 value(s) set" in r.output
    with open_project(project) as store:
        assert store.attributes() == {"site0": {"role": "manager", "site": "north"},
                                      "site1": {"role": "coach", "site": "south"},
                                      "site2": {"role": "manager"}}
    listed = run("attributes", project=project)
    assert listed.exit_code == 0, listed.output
    _fits(listed.output)
    assert listed.output.splitlines()[:2] == ["document  role     site",
                                              "site0     manager  north"]
    again = tmp_path / "wave.csv"
    again.write_text("Document;wave;site\nsite0;1;\n", "utf-8")  # ; delimited, a cleared cell
    r = run("attributes", str(again), project=project)
    assert "1 value(s) set, 1 removed, 0 unchanged" in " ".join(r.output.split()), r.output
    data = json.loads(run("attributes", "--format", "json", project=project).output)
    assert data["site0"] == {"role": "manager", "wave": "1"}


def test_a_bad_header_unknown_document_or_repeated_row_imports_nothing(tmp_path: Path) -> None:
    project, _ = _project(tmp_path)
    cases = {
        "no_document.csv": ("doc,role\nsite0,a\n", "line 1: no 'document' column"),
        "repeated.csv": ("document,role,Role\nsite0,a,b\n", "column 3 'Role' repeats column 2"),
        "unnamed.csv": ("document,,role\nsite0,a,b\n", "column 2 has no name"),
        "only_document.csv": ("document\nsite0\n", "only a 'document' column"),
        "unknown.csv": ("document,role\nsite0,a\nsiet1,b\n",
                        "line 3: document 'siet1' is not in the project; did you mean 'site1'?"),
        "duplicate.csv": ("document,role\nsite0,a\nsite1,b\nsite0,c\n",
                          "line 4: document 'site0' is given again (first on line 2)"),
        "extra.csv": ("document,role\nsite0,a,b\n", "line 2: 3 fields, but the header has 2"),
    }
    for name, (text, needle) in cases.items():
        path = tmp_path / name
        path.write_text(text, "utf-8")
        assert_one_line_error(run("attributes", str(path), project=project), name,
                              "nothing was imported", needle)
    both = tmp_path / "both.csv"
    both.write_text("document,role\nsiet1,b\nsite0,a\nsite0,c\n", "utf-8")
    r = run("attributes", str(both), project=project)
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        "  line 2: document 'siet1' is not in the project; did you mean 'site1'?",
        "  line 4: document 'site0' is given again (first on line 3); keep one row per "
        "document",
        "Error: both.csv: 2 row(s) cannot be imported (nothing was imported); first: line 2: "
        "document 'siet1' is not in the project; did you mean 'site1'?"]
    with open_project(project) as store:
        assert store.attributes() == {}
    assert_one_line_error(run("attributes", "--table", "role", project=project),
                          "no attributes yet")


def test_the_code_by_attribute_table_matches_a_hand_count(tmp_path: Path) -> None:
    project, csv = _project(tmp_path)
    assert run("attributes", str(csv), project=project).exit_code == 0
    with open_project(project) as store:
        a, b, c, d = (next(s for s in store.segments(document=doc) if s.index == i)
                      for doc, i in (("site0", 1), ("site1", 1), ("site1", 3), ("site2", 5)))
        assert not any(x.label == "funding" for x in store.annotations())
        # funding by hand: manager (site0, site2) = a (two coders: once) + d (blind) = 2;
        # coach (site1) = b (consensus) = 1, c is assisted and left out.
        store.import_annotations([
            Annotation(a.id, "cara", "code", "funding"), Annotation(a.id, "dan", "code", "funding"),
            Annotation(b.id, "consensus", "code", "funding", "consensus"),
            Annotation(c.id, "eve", "code", "funding", "assisted"),
            Annotation(d.id, "fay", "code", "funding", "blind")], source="test")
        role = {"site0": "manager", "site1": "coach", "site2": "manager"}
        coaching: dict[str, set[str]] = {"coach": set(), "manager": set()}
        by_id = {s.id: s for s in store.segments()}
        for x in store.annotations():
            if x.label == "coaching" and x.source in ("human", "blind", "consensus"):
                coaching[role[by_id[x.segment_id].document]].add(x.segment_id)
    r = run("attributes", "--table", "ROLE", project=project)
    assert r.exit_code == 0, r.output
    _fits(r.output)
    lines = r.output.splitlines()
    assert "human, consensus and blind codes" in " ".join(" ".join(lines[:2]).split())
    header = lines.index(next(line for line in lines if line.startswith("code ")))
    assert lines[header].split() == ["code", "coach", "manager"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1:]
            if line and not line[0].isdigit()}
    assert rows["documents"] == ["1", "2"]
    assert rows["funding"] == ["1", "2"]
    assert rows["coaching"] == [str(len(coaching["coach"])), str(len(coaching["manager"]))]
    assert lines[-1] == "1 code(s) given to no segment by those sources are left out."
    data = json.loads(run("attributes", "--table", "role", "--format", "json",
                          project=project).output)
    assert data["counts"]["funding"] == {"manager": 2, "coach": 1}
    site = run("attributes", "--table", "site", project=project).output.splitlines()
    assert any(line.split()[:1] == ["code"] and "(none)" in line for line in site)
    assert_one_line_error(run("attributes", "--table", "rol", project=project),
                          "did you mean 'role'?")


def test_many_values_are_drawn_in_blocks_of_80_columns(tmp_path: Path) -> None:
    project, _ = _project(tmp_path)
    wide = tmp_path / "wide.csv"
    wide.write_text("document," + ",".join(f"attribute number {i}" for i in range(9)) + "\n"
                    + "".join(f"site{d}," + ",".join(f"a fairly long value {d}-{i}"
                                                      for i in range(9)) + "\n"
                              for d in range(3)), "utf-8")
    assert run("attributes", str(wide), project=project).exit_code == 0
    listed = run("attributes", project=project)
    _fits(listed.output)
    assert "" in listed.output.splitlines()  # more than one block
    assert "a fairly long…" in listed.output
