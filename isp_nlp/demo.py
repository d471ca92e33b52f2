"""``isp-nlp demo``: the whole pipeline on the bundled synthetic corpus."""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from isp_nlp.agreement.project import project_agreement
from isp_nlp.errors import ProjectError
from isp_nlp.pipeline import embed_project, project_embedder, suggest_project, train_project
from isp_nlp.project import dimensions_text, import_codes, ingest_files, load_project_codebook
from isp_nlp.records import CODE_DIMENSION, Codebook
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


def evaluated_dimension(codebook: Codebook) -> str:
    """The label the demo's learning curve is for: the pathway dimension's id, else the
    first dimension's, else the codes."""
    dim = codebook.pathway or next(iter(codebook.dimensions), None)
    return dim.id if dim is not None else CODE_DIMENSION


def _write_evaluation(store: Store, coded: Path, out: Path, codebook: Path,
                      label: str) -> dict:
    """A small learning curve for ``label`` (a dimension's id; grouped 5-fold CV on the
    seed codes), saved as ``evaluation.json`` so the report can plot it."""
    result = evaluate_files(
        None, None, coded=coded, embedder=project_embedder(store),
        cache=store.embedding_cache(),
        config=StudyConfig(seed_per_label=[4, 8, None], repeats=2, label_column=label,
                           folds=5),
        codebook=codebook,  # the dimension's prior, as `train` ships it
    )
    (out / "evaluation.json").write_text(json.dumps(result, indent=2, default=str),
                                         encoding="utf-8")
    return result


def duration(since: float) -> str:
    """``12 s`` or ``2 min 05 s``: the time since ``since`` (time.monotonic)."""
    seconds = round(time.monotonic() - since)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def took(since: float) -> str:
    """`` (12 s)``: :func:`duration` in brackets, to end a step's line."""
    return f" ({duration(since)})"


def _wrapped(echo: Callable[[str], None]) -> Callable[[str], None]:
    """``echo`` writing lines of at most 80 columns, continuations under the step's text."""
    def say(text: str) -> None:
        for line in textwrap.wrap(text, 80, subsequent_indent=" " * 6,
                                  break_long_words=False, break_on_hyphens=False):
            echo(line)
    return say


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
    echo = _wrapped(echo)
    begun = time.monotonic()
    echo(f"isp-nlp demo: 8 steps on {len(transcripts)} synthetic transcripts; embedding "
         "and training take longest, and each step says how long it took.")
    init_project(out, embedder=embedder)
    with open_project(out) as store:
        store.set_setting("demo", "1")
        echo(f"[1/8] project: {out}")
        cb = load_project_codebook(store, corpus / "codebook.yaml").codebook
        echo(f"[2/8] codebook: {len(cb.codes)} codes; {dimensions_text(cb)}")
        done = ingest_files(store, transcripts, skip_speakers=("Interviewer",))
        echo(f"[3/8] ingested {len(done)} transcripts: "
             f"{sum(o.n_codable for o in done)} codable segments")
        r = import_codes(store, corpus / "seed_codes.csv")
        echo(f"[4/8] seed codes: {r['segments']} segments by {', '.join(r['coders'])}")
        step = time.monotonic()
        echo("      embedding the segments (a progress bar follows)…")
        e = embed_project(store, progress=True)
        echo(f"[5/8] embedded {e['segments']} segments with {e['model_id']} "
             f"({e['encoded']} new, {e['cached']} cached){took(step)}")
        step = time.monotonic()
        echo("      training: cross-validation on the seed codes, then the final model…")
        t = train_project(store, progress=False)
        echo(f"[6/8] trained {t['model_id']} on {t['segments']} seed segments{took(step)}")
        step = time.monotonic()
        s = suggest_project(store)
        abstained = s.get("abstained", {})
        left_open = "; ".join(f"{d.name} left open on {abstained[d.id]}"
                              for d in cb.dimensions if d.id in abstained)
        echo(f"[6/8] suggestions for {s['segments']} uncoded segments"
             + (f" ({left_open})" if left_open else "") + took(step))
        summary = review_project(store, DEMO_CODER, script=DEMO_SCRIPT)
        echo(f"[7/8] scripted review by {DEMO_CODER}: {summary}")
        label = evaluated_dimension(cb)
        named = cb.dimension(label)
        ev = _write_evaluation(store, corpus / "seed_codes.csv", out, corpus / "codebook.yaml",
                               label)
        model_k = ev["model_human"]["mean_kappa"]
        human_k = ev["human_human"]["mean_pairwise_kappa"]
        echo(f"      {named.name if named else 'code'} suggester, 5-fold CV on the seed "
             f"codes: kappa {model_k:.3f} vs the coders' {human_k:.3f} (evaluation.json)")
        rep = project_agreement(store)
        for dim in cb.dimensions:
            for row in rep.alphas[rep.alphas["target"] == dim.id].itertuples():
                echo(f"      {dim.name} alpha ({row.coders}): {row.alpha:.3f} on "
                     f"{row.n_units} segments")
        step = time.monotonic()
        path = write_project_report(store, out / "report.html")
        echo(f"[8/8] report written{took(step)}; the whole demo took {duration(begun)}.")
    return path
