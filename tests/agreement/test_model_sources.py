"""Model–human agreement uses blind and independent codes only by default; assisted codes
join only with --include-assisted, labelled as flattering."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from isp_nlp.agreement.project import annotation_frame, model_scope
from isp_nlp.agreement.tables import MODEL_CODER
from isp_nlp.records import AGREEMENT_SOURCES
from isp_nlp.store.database import Store, project_db
from tests.builders.coded_projects import coded_project
from tests.builders.terminal import run


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained on two documents and suggested on the third; ana accepts or rejects the
    suggestions on it (assisted codes), zoe codes an audit of it blind."""
    folder, _, _ = coded_project(tmp_path_factory.mktemp("sources"), leave_out="site2")
    for step in (("train",), ("suggest",)):
        assert run(*step, project=folder).exit_code == 0
    pairs = run("agreement", "--resamples", "20", "--format", "json", project=folder)
    (folder.parent / "before.json").write_text(pairs.output, encoding="utf-8")
    drawn = run("audit", "draw", "--n", "6", "--seed", "4", project=folder)
    audit_id = re.search(r"Audit (\d+):", drawn.output).group(1)  # type: ignore[union-attr]
    blind = run("review", "--blind", "--coder", "zoe", "--audit", audit_id, "--script",
                "e:barriers,e:coaching,e:,e:training,e:barriers,e:coaching", project=folder)
    assert blind.exit_code == 0, blind.output
    review = run("review", "--coder", "ana", "--script", "a,a,a,r,a,a,a,a,q",
                 project=folder)
    assert review.exit_code == 0, review.output
    return folder


def _model_pairs(output: str, coder: str) -> dict[str, tuple]:
    """Target → (percent agreement, kappa, units) of ``coder`` vs the model (the intervals
    move with the other units the bootstrap resamples)."""
    return {p["target"]: (p["percent"]["value"], p["kappa"]["value"],
                          p["percent"]["n_units"])
            for p in json.loads(output)["pairs"]
            if p["kind"] == "model–human" and coder in (p["coder_a"], p["coder_b"])}


def test_assisted_codes_stay_out_of_model_human_agreement_by_default(project: Path) -> None:
    with Store.open(project_db(project)) as store:
        assisted = {a.segment_id for a in store.annotations() if a.source == "assisted"}
        assert assisted
        frame = annotation_frame(store)
        humans = frame[frame["coder"] != MODEL_CODER]
        assert not assisted & set(humans.loc[humans["coder"] == "ana", "segment_id"])
        model = set(frame.loc[frame["coder"] == MODEL_CODER, "segment_id"])
        blind = set(frame.loc[frame["coder"] == "zoe", "segment_id"])
        assert blind and blind <= model  # blind codes meet the model's suggestions
        line = model_scope(store, frame)
        assert line.startswith("Model vs coders: blind and independent codes only (")
        assert f"assisted codes left out ({len(assisted)} segments)" in line
        flattering = annotation_frame(store, sources=(*AGREEMENT_SOURCES, "assisted"))
        assert assisted <= set(flattering.loc[flattering["coder"] == "ana", "segment_id"])
    after = run("agreement", "--resamples", "20", "--format", "json", project=project)
    before = (project.parent / "before.json").read_text(encoding="utf-8")
    assert _model_pairs(after.output, "ana") == _model_pairs(before, "ana")
    assert _model_pairs(after.output, "zoe")  # the blind coder is compared with the model


def test_the_table_says_which_codes_count_and_the_correction_rate(project: Path) -> None:
    out = run("agreement", "--resamples", "20", project=project).output
    flat = " ".join(out.split())
    assert "Model vs coders: blind and independent codes only (" in out
    assert "assisted codes left out" in flat
    assert re.search(r"Corrections: \d+ decisions on suggestions: \d+% accepted as is", flat)
    assert all(len(line) <= 80 for line in out.splitlines())
    flattering = run("agreement", "--resamples", "20", "--include-assisted",
                     project=project)
    assert flattering.exit_code == 0, flattering.output
    assert "includes assisted codes" in " ".join(flattering.output.split())
    assert "flatters the model" in " ".join(flattering.output.split())
    assert _model_pairs(run("agreement", "--resamples", "20", "--format", "json",
                            "--include-assisted", project=project).output, "ana") != \
        _model_pairs(run("agreement", "--resamples", "20", "--format", "json",
                         project=project).output, "ana")


def test_status_shows_the_correction_rate(project: Path) -> None:
    out = run("status", project=project).output
    assert re.search(r"Corrections: \d+ decisions on suggestions", out)
    assert "  ana: " in out
    data = json.loads(run("status", "--format", "json", project=project).output)
    assert data["corrections"]["by_coder"]["ana"]["decided"] >= 1


def test_evaluate_reads_only_independent_rows_of_a_csv(tmp_path: Path) -> None:
    from isp_nlp.coded.units import load_units

    csv = tmp_path / "coded.csv"
    csv.write_text(
        "document,segment,text,coder,code,provenance\n"
        "d,s1,One,ana,a,human\n"
        "d,s1,One,ben,a,\n"
        "d,s2,Two,ana,b,blind\n"
        "d,s2,Two,ana,a,assisted\n"
        "d,s3,Three,cy,b,assisted\n"
        "d,s3,Three,res,b,consensus\n", encoding="utf-8")
    units = load_units(csv)
    assert units.keys == ["d\x1fs1", "d\x1fs2"]  # s3 has assisted and consensus rows only
    assert units.codings[1] == {"ana": ("b",)}
    assert "blind and independent codes only" in units.reading
    assert "2 assisted, 1 consensus" in units.reading
