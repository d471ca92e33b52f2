"""``isp-nlp demo``: the whole pipeline on the bundled synthetic corpus."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from isp_nlp.agreement.project import project_agreement
from isp_nlp.errors import ProjectError
from isp_nlp.pipeline import embed_project, project_embedder, suggest_project, train_project
from isp_nlp.project import import_codes, ingest_files, load_project_codebook
from isp_nlp.report.collect import write_project_report
from isp_nlp.review.run import review_project
from isp_nlp.store.database import Store, project_db
from isp_nlp.store.folder import init_project, open_project
from isp_nlp.suggest.evaluate import StudyConfig, evaluate_files

#: A scripted coder for the non-interactive demo review: accept, reject,
#: relabel, skip and undo, in the order a person might.
DEMO_SCRIPT = (
    "a", "a", "r", "e:co_creation,trusting_relationships|exchange", "a", "s",
    "a", "u", "r", "a", "e:didactic_training|push", "a", "q",
)
DEMO_CODER = "demo_reviewer"


def default_corpus() -> Path:
    """The corpus bundled in a source checkout (``corpora/isp-demo``)."""
    return Path(__file__).resolve().parents[1] / "corpora" / "isp-demo"


def _fresh_project_dir(out: Path) -> None:
    """Remove a previous demo run in ``out``; refuse to touch anything else."""
    db = project_db(out)
    if not db.exists():
        return

    with Store.open(db) as store:
        is_demo = store.get_setting("demo") == "1"
    if not is_demo:
        raise ProjectError(
            f"{out} holds an isp-nlp project that is not a demo; choose another --out folder"
        )
    for name in ("project.sqlite", "project.sqlite-wal", "project.sqlite-shm", "report.html",
                 "evaluation.json"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "models", ignore_errors=True)


def _write_evaluation(store: Store, coded: Path, out: Path, codebook: Path) -> dict:
    """A small learning curve for the stage label (grouped 5-fold CV on the seed
    codes), saved as ``evaluation.json`` so the report can plot it."""
    result = evaluate_files(
        None, None, coded=coded, embedder=project_embedder(store),
        cache=store.embedding_cache(),
        config=StudyConfig(seed_per_label=[4, 8, None], repeats=2, label_column="stage",
                           folds=5),
        codebook=codebook,  # the stage prior, as `train` ships it
    )
    (out / "evaluation.json").write_text(json.dumps(result, indent=2, default=str),
                                         encoding="utf-8")
    return result


def run_demo(out: str | Path, *, corpus: str | Path | None = None, embedder: str = "minilm",
             echo: Callable[[str], None] = print) -> Path:
    """Run init → ingest → codebook → import → embed → train → suggest → review →
    agreement → report on the demo corpus; return the report path."""

    out = Path(out)
    corpus = Path(corpus) if corpus is not None else default_corpus()
    transcripts = sorted(p for p in (corpus / "transcripts").glob("*") if p.is_file())
    if not transcripts:
        raise ProjectError(
            f"no demo corpus at {corpus} (expected transcripts/ inside); run from a source "
            "checkout of isp-nlp or pass --corpus DIR"
        )
    _fresh_project_dir(out)
    init_project(out, embedder=embedder)
    with open_project(out) as store:
        store.set_setting("demo", "1")
        echo(f"[1/8] project: {out}")
        cb = load_project_codebook(store, corpus / "codebook.yaml").codebook
        echo(f"[2/8] codebook: {len(cb.codes)} codes, stages {', '.join(cb.stage_ids)}")
        done = ingest_files(store, transcripts, skip_speakers=("Interviewer",))
        echo(f"[3/8] ingested {len(done)} transcripts: "
             f"{sum(o.n_codable for o in done)} codable segments")
        r = import_codes(store, corpus / "seed_codes.csv")
        echo(f"[4/8] seed codes: {r['segments']} segments by {', '.join(r['coders'])}")
        e = embed_project(store, progress=True)
        echo(f"[5/8] embedded {e['segments']} segments with {e['model_id']} "
             f"({e['encoded']} new, {e['cached']} cached)")
        t = train_project(store, progress=False)
        echo(f"[6/8] trained {t['model_id']} on {t['segments']} seed segments")
        s = suggest_project(store)
        echo(f"[6/8] suggestions for {s['segments']} uncoded segments "
             f"(abstained on {sum(s['abstained'].values())} dimension values)")
        summary = review_project(store, DEMO_CODER, script=DEMO_SCRIPT)
        echo(f"[7/8] scripted review by {DEMO_CODER}: {summary}")
        ev = _write_evaluation(store, corpus / "seed_codes.csv", out, corpus / "codebook.yaml")
        model_k = ev["model_human"]["mean_kappa"]
        human_k = ev["human_human"]["mean_pairwise_kappa"]
        echo(f"      stage suggester, 5-fold CV on the seed codes: kappa {model_k:.3f} "
             f"vs the coders' {human_k:.3f} (evaluation.json)")
        rep = project_agreement(store)
        stage = rep.alphas[rep.alphas["target"] == "stage"]
        for row in stage.itertuples():
            echo(f"      stage alpha ({row.coders}): {row.alpha:.3f} on {row.n_units} segments")
        path = write_project_report(store, out / "report.html")
        echo("[8/8] report written")
    return path
