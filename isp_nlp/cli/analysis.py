"""`isp-nlp pathways`, `disagreements` and `resolve`: stages over time and consensus."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from isp_nlp.cli.common import InputError, open_store
from isp_nlp.errors import ProjectError
from isp_nlp.store.files import atomic_path, check_output
from isp_nlp.store.folder import require_codebook


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--min-run", type=click.IntRange(min=1), default=2, show_default=True,
              help="Consecutive segments a stage needs to count for a participant.")
@click.pass_context
def pathways(ctx, fmt: str, min_run: int) -> None:
    """Each participant's pathway through push → push/pull → exchange, and the transitions."""
    from isp_nlp.analysis.pathways import project_pathways

    store = open_store(ctx)
    if not require_codebook(store).stages:
        raise ProjectError("the project's codebook has no stage dimension, so there are no "
                           "pathways through stages; load a codebook that lists stages "
                           "(`isp-nlp codebook load FILE.yaml`) to trace them")
    summary = project_pathways(store, min_run=min_run)
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(format_pathways(summary))


def format_pathways(summary) -> str:
    """Participants, pathway counts and transitions with their top codes, as text."""
    lines = [f"Pathways (a stage counts from its first run of {summary.min_run}+ segments; "
             "none and unknown ignored)", ""]
    width = max((len(p.document) for p in summary.pathways), default=8)
    for p in summary.pathways:
        lines.append(f"  {p.document:<{width}}  {p.text}   ({p.n_staged} of {p.n_segments} "
                     "segments staged)")
    if summary.pathways:
        lines += ["", "Pathway counts"]
        lines += [f"  {n:>4}  {text}" for text, n in summary.counts]
    if summary.transitions:
        lines += ["", "Transitions (codes around each, by lift over their overall share)"]
        for t in summary.transitions:
            codes = ", ".join(f"{c.code} ×{c.lift:.2f}" for c in t.top_codes) or "—"
            lines.append(f"  {t.from_stage} → {t.to_stage} ({t.kind}): {t.count} "
                         f"participant(s); codes: {codes}")
    lines += ["", *summary.notes] if summary.notes else []
    return "\n".join(lines).rstrip()


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise InputError("--coders is empty; give coder names separated by commas, e.g. ana,ben.")
    return names


@click.command()
@click.option("--code", default=None, help="Compare only this code's presence.")
@click.option("--stage", "stage_only", is_flag=True, help="Compare only the stage label.")
@click.option("--coders", default=None, metavar="A,B", help="Only these coders (default: all).")
@click.option("--include-model", is_flag=True,
              help="Add the model (out-of-fold on coded segments) as a coder.")
@click.option("--unresolved", is_flag=True, help="Only segments without a consensus.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the consensus-meeting sheet (CSV) to this file.")
@click.pass_context
def disagreements(ctx, code, stage_only, coders, include_model, unresolved, fmt, out) -> None:
    """List segments where coders (or model and coder) differ; export a consensus sheet."""
    from isp_nlp.analysis.disagreements import disagreement_frame, project_disagreements
    from isp_nlp.coded.safe_csv import safe_csv_text

    if code is not None and stage_only:
        raise InputError("--code and --stage both given; compare one code or the stage, "
                         "so pass only one of them.")
    if out is not None:
        check_output(out, "--out")
    items, compared = project_disagreements(
        open_store(ctx), code=code, stage_only=stage_only, coders=_split(coders),
        include_model=include_model)
    if unresolved:
        items = [d for d in items if not d.resolved]
    frame = disagreement_frame(items, compared, stage=code is None,
                               codes=not stage_only)
    if out is not None:
        _write_csv(frame, out)
        click.echo(f"Wrote {len(frame)} segment(s) to {out}; fill in consensus_codes "
                   "(codes separated by ';', '-' for none) and consensus_stage, then run "
                   f"`isp-nlp resolve {out}`.")
        return
    if fmt == "json":
        click.echo(json.dumps([d.to_dict() for d in items], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(safe_csv_text(frame), nl=False)
    else:
        click.echo(format_disagreements(items, compared))


def _write_csv(frame, out: Path) -> None:
    from isp_nlp.coded.safe_csv import write_safe_csv

    try:
        with atomic_path(out, what="--out") as tmp:
            write_safe_csv(frame, tmp)
    except OSError as exc:
        raise InputError(f"Cannot write {out}: {exc.strerror or exc}; choose a writable "
                         "--out path.") from None


def format_disagreements(items, compared) -> str:
    """A readable listing: segment, its text, then each coder's codes | stage."""
    from isp_nlp.analysis.disagreements import format_codes

    if not items:
        return f"No disagreements between {', '.join(compared)}."
    lines = []
    for d in items:
        s = d.segment
        status = "resolved" if d.resolved else "unresolved"
        lines.append(f"{s.document}#{s.index}  {s.speaker or ''}  [{status}; differs on "
                     f"{', '.join(d.differs_on)}]  {s.id}")
        lines.append(textwrap.indent(textwrap.shorten(s.text, 200, placeholder=" …"), "    "))
        for coder, got in d.labels.items():
            codes = format_codes(got.codes) or "(not coded)"
            lines.append(f"    {coder:<14} {codes} | {got.stage or '—'}")
        if d.consensus is not None:
            lines.append(f"    {'consensus':<14} {format_codes(d.consensus.codes) or '—'} | "
                         f"{d.consensus.stage or '—'}")
        lines.append("")
    n_open = sum(not d.resolved for d in items)
    lines.append(f"{len(items)} segment(s) with disagreements among {', '.join(compared)}; "
                 f"{n_open} unresolved.")
    return "\n".join(lines)


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--segment", default=None, metavar="ID",
              help="Resolve one segment (its id, or DOCUMENT#INDEX).")
@click.option("--codes", default=None, metavar="A,B", help="Agreed codes ('-' for none).")
@click.option("--stage", default=None, help="Agreed stage.")
@click.pass_context
def resolve(ctx, file: Path | None, segment: str | None, codes: str | None,
            stage: str | None) -> None:
    """Record consensus codes/stage from a filled-in disagreements CSV (or one --segment)."""
    from isp_nlp.analysis.consensus import resolve_csv, resolve_segment

    if (file is None) == (segment is None):
        raise InputError("resolve needs either a filled-in FILE.csv or --segment ID (not both); "
                         "see `isp-nlp resolve --help`.")
    if file is not None and (codes is not None or stage is not None):
        raise InputError("--codes and --stage go with --segment; a FILE.csv carries them in "
                         "its consensus_codes and consensus_stage columns.")
    store = open_store(ctx)
    if file is not None:
        r = resolve_csv(store, file)
        click.echo(f"Recorded the consensus for {r['resolved']} segment(s) from {file} "
                   f"({r['changed']} changed, {r['unchanged']} unchanged); "
                   f"{r['unfilled']} row(s) left unfilled.")
    elif segment is not None:
        one = resolve_segment(store, segment, codes=codes, stage=stage)
        parts = []
        if one["codes"] is not None:
            parts.append("codes " + (", ".join(one["codes"]) or "none"))
        if one["stage"] is not None:
            parts.append(f"stage {one['stage']}")
        click.echo(f"Recorded the consensus for {one['document']}#{one['index']}: "
                   f"{'; '.join(parts)}.")
