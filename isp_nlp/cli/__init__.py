"""The ``isp-nlp`` command line: a thin layer over the library.

Each command parses options, calls one library function and prints its
result. Domain errors (:class:`isp_nlp.errors.IspNlpError`) become a one-line
message and exit status 2. Heavy modules (torch, sentence-transformers,
spaCy) are imported only by the commands that embed or segment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from isp_nlp.cli.common import FORMATS, Group, emit, open_store
from isp_nlp.codebook.load import load_codebook
from isp_nlp.demo import run_demo
from isp_nlp.pipeline import embed_project, suggest_project, train_project
from isp_nlp.project import (
    export_codes,
    import_codes,
    ingest_files,
    init_project,
    load_project_codebook,
    project_status,
    require_codebook,
)
from isp_nlp.report.collect import write_project_report
from isp_nlp.review.items import build_review_items
from isp_nlp.review.queue import SORTERS
from isp_nlp.review.session import ReviewSession
from isp_nlp.review.terminal import run_review, run_scripted
from isp_nlp.store.decisions import DecisionLog


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--project", "project", type=click.Path(file_okay=False, path_type=Path),
              envvar="ISP_NLP_PROJECT", default=".", show_default=True,
              help="Project folder (or set ISP_NLP_PROJECT).")
@click.version_option(package_name="isp-nlp")
@click.pass_context
def cli(ctx: click.Context, project: Path) -> None:
    """isp-nlp: suggest qualitative codes for interview transcripts, locally.

    Typical flow: init → codebook load → ingest → import-codes → train →
    suggest → review → agreement → report. `isp-nlp demo` runs it all on the
    bundled synthetic corpus.
    """
    ctx.ensure_object(dict)
    ctx.obj["project"] = project


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--embedder", type=click.Choice(["minilm", "hashing-256"]), default="minilm",
              show_default=True, help="Embedding model (hashing-256 is a fast test embedder).")
def init(directory: Path, embedder: str) -> None:
    """Create a project folder with its SQLite database."""

    db = init_project(directory, embedder=embedder)
    click.echo(f"Project ready: {db}")


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--unit", type=click.Choice(["turn", "sentence", "paragraph"]), default="turn",
              show_default=True, help="Segmentation unit.")
@click.option("--max-chars", type=click.IntRange(min=50), default=2000, show_default=True,
              help="Split longer turns at sentence boundaries.")
@click.option("--skip-speakers", default="", metavar="NAME,...",
              help="Speakers kept as context but not coded, e.g. Interviewer.")
@click.option("--replace", is_flag=True, help="Replace a changed file already ingested.")
@click.pass_context
def ingest(ctx, files, unit, max_chars, skip_speakers, replace) -> None:
    """Read transcripts (.txt/.md, .vtt, .srt, .sbv, .docx) and segment them.

    All files are read first; if any fails, nothing is stored.
    """

    skip = [s.strip() for s in skip_speakers.split(",") if s.strip()]
    for o in ingest_files(open_store(ctx), files, unit=unit, max_chars=max_chars,
                          skip_speakers=skip, replace=replace):
        for warning in o.warnings:
            click.echo(f"Warning: {warning}", err=True)
        click.echo(f"{o.outcome:>9}  {o.document}: {o.n_turns} turns, {o.n_segments} segments "
                   f"({o.n_codable} codable); speakers: {', '.join(o.speakers) or '—'}")


@cli.group()
def codebook() -> None:
    """Check, load and show the codebook (YAML)."""


@codebook.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def codebook_check(file: Path) -> None:
    """Validate a codebook file: duplicate ids, unknown parents, cycles."""

    cb = load_codebook(file)
    click.echo(f"{file}: OK — {len(cb.codes)} codes, stages {', '.join(cb.stage_ids)}")


@codebook.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def codebook_load(ctx, file: Path) -> None:
    """Make FILE the project's codebook."""

    cb = load_project_codebook(open_store(ctx), file)
    click.echo(f"Loaded codebook '{cb.name}': {len(cb.codes)} codes, {len(cb.stages)} stages")


@codebook.command("show")
@click.pass_context
def codebook_show(ctx) -> None:
    """Print the project's codebook as a tree."""

    cb = require_codebook(open_store(ctx))
    depth: dict[str, int] = {}
    for code in cb.codes:
        depth[code.id] = depth.get(code.parent, -1) + 1 if code.parent else 0
        click.echo(f"{'  ' * depth[code.id]}{code.id}  ({code.name})")
    click.echo("stage: " + ", ".join(cb.stage_ids))


@cli.command("import-codes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_codes_cmd(ctx, file: Path) -> None:
    """Import seed codes from a coded-segments CSV (all rows or none)."""

    r = import_codes(open_store(ctx), file)
    click.echo(f"Imported {r['rows']} rows: {r['segments']} segments coded by "
               f"{', '.join(r['coders'])} ({r['changed']} changed, {r['unchanged']} unchanged)")


@cli.command("export-codes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export_codes_cmd(ctx, file: Path) -> None:
    """Write every coder's codes as a coded-segments CSV."""

    n = export_codes(open_store(ctx), file)
    click.echo(f"Wrote {n} rows to {file}")


@cli.command()
@click.pass_context
def embed(ctx) -> None:
    """Embed every segment with the project's local model (cached)."""

    r = embed_project(open_store(ctx), progress=True)
    click.echo(f"Embedded {r['segments']} segments with {r['model_id']}: "
               f"{r['encoded']} new, {r['cached']} from cache")


@cli.command()
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Folds for the out-of-fold predictions used in agreement.")
@click.pass_context
def train(ctx, folds: int) -> None:
    """Fit the code and stage suggesters on the human seed codes."""

    r = train_project(open_store(ctx), folds=folds, progress=True)
    click.echo(f"Trained model {r['model_id']} on {r['segments']} segments coded by "
               f"{', '.join(r['coders'])}; saved to {r['path']}")
    how = ("chosen on the out-of-fold suggestions to agree best with the coders"
           if r["code_threshold_from_cv"] else "the default; too few coded segments or codes "
           "to choose one from the out-of-fold suggestions")
    click.echo(f"Codes are suggested at probability {r['code_threshold']:.2f} or more ({how}).")
    if r["zero_shot_codes"]:
        click.echo(f"No coder has applied {', '.join(r['zero_shot_codes'])} yet: suggested "
                   "from the codebook's definitions and examples only (zero-shot), each on "
                   "about as many segments as a seeded code.")


@cli.command()
@click.option("--code-threshold", type=click.FloatRange(0, 1), default=None,
              help="Suggest a code at or above this probability (default: the model's; "
              "a zero-shot code also needs its floor).")
@click.option("--stage-threshold", type=click.FloatRange(0, 1), default=None,
              help="Abstain on the stage below this probability (default: the model's).")
@click.pass_context
def suggest(ctx, code_threshold, stage_threshold) -> None:
    """Suggest codes and a stage for every segment without human codes."""

    r = suggest_project(open_store(ctx), code_threshold=code_threshold,
                        stage_threshold=stage_threshold, progress=True)
    click.echo(f"Scored {r['segments']} segments with {r['model_id']}: "
               f"{r['suggested_codes']} code suggestions, stage abstained on "
               f"{r['stage_abstained']}")


@cli.command()
@click.option("--coder", required=True, help="Your name, recorded with every decision.")
@click.option("--order", type=click.Choice(["uncertain", "document"]), default="uncertain",
              show_default=True, help="Most uncertain first, or in transcript order.")
@click.option("--script", "script", default=None, metavar="ACTIONS",
              help="Run non-interactively, e.g. 'a,r,e:code1+code2|exchange,s,u,q'.")
@click.pass_context
def review(ctx, coder: str, order: str, script: str | None) -> None:
    """Triage suggestions: a accept, r reject, e relabel, s skip, u undo, q quit."""

    store = open_store(ctx)
    recorder = DecisionLog(store)
    items = list(SORTERS[order](build_review_items(store, coder, recorder.decided(coder))))
    session = ReviewSession(items, recorder, coder, require_codebook(store))
    if script is not None:
        summary = run_scripted(session, _split_script(script))
    else:
        summary = run_review(session, read_key=_read_key, write=click.echo,
                             read_line=_read_line)
    click.echo(f"Review by {coder}: {summary}")


def _split_script(script: str) -> list[str]:
    return [a.strip().replace("+", ",") for a in script.split(",") if a.strip()]


def _read_key() -> str:
    try:
        return click.getchar()
    except (EOFError, KeyboardInterrupt):
        return ""


def _read_line(prompt: str) -> str:
    try:
        return click.prompt(prompt, default="", show_default=False, prompt_suffix="")
    except (EOFError, click.Abort):
        return ""


@cli.command()
@click.option("--coder", default=None, help="Only this coder's entries.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def log(ctx, coder: str | None, fmt: str) -> None:
    """Print every decision (and import and undo) in the audit log."""

    entries = DecisionLog(open_store(ctx)).entries(coder)
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    for e in entries:
        where = f"{e['document']}#{e['segment_index']}" if e["document"] else ""
        what = ", ".join(e["codes"] or []) if e["codes"] is not None else ""
        stage = f" | {e['stage']}" if e["stage"] else ""
        flag = " (undone)" if e["undone"] else ""
        click.echo(f"{e['id']:>5} {e['at'][:19]} {e['coder']:<12} {e['action']:<8} "
                   f"{where:<24} {what}{stage}{flag}")


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="report.html",
              show_default=True, help="Where to write the HTML report.")
@click.pass_context
def report(ctx, out: Path) -> None:
    """Write one self-contained HTML report."""

    path = write_project_report(open_store(ctx), out)
    click.echo(str(path))


@cli.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def status(ctx, fmt: str) -> None:
    """Show what the project holds."""

    emit(project_status(open_store(ctx)), fmt)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="isp-nlp-demo",
              show_default=True, help="Folder for the demo project and report.")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Demo corpus folder (default: the bundled corpora/isp-demo).")
@click.option("--embedder", type=click.Choice(["minilm", "hashing-256"]), default="minilm",
              show_default=True)
def demo(out: Path, corpus: Path | None, embedder: str) -> None:
    """Run the whole pipeline on the bundled synthetic corpus; print the report path."""

    path = run_demo(out, corpus=corpus, embedder=embedder, echo=click.echo)
    click.echo(str(path))


from isp_nlp.cli.cmd_agreement import agreement  # noqa: E402
from isp_nlp.cli.cmd_evaluate import evaluate, next_to_code  # noqa: E402
from isp_nlp.cli.cmd_pathways import disagreements, pathways, resolve  # noqa: E402

for _command in (agreement, pathways, disagreements, resolve, evaluate, next_to_code):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="isp-nlp")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
