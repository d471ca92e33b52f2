"""`isp-nlp pathways`, `disagreements` and `resolve`: the pathway dimension over time
and consensus."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from isp_nlp.analysis.show import Shown, show_segments
from isp_nlp.cli.common import WIDTH, InputError, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.records import Note
from isp_nlp.store.files import atomic_path, check_output
from isp_nlp.store.folder import require_codebook

#: The dimension `--stage` stands for (the default codebook's), kept as a shorthand.
STAGE = "stage"


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--min-run", type=click.IntRange(min=1), default=2, show_default=True,
              help="Consecutive segments a value (such as a stage) needs to count for a "
                   "participant.")
@click.pass_context
def pathways(ctx, fmt: str, min_run: int) -> None:
    """Each participant's pathway through the codebook's pathway dimension (by default
    push → push/pull → exchange), and the transitions."""
    from isp_nlp.analysis.pathways import project_pathways

    summary = project_pathways(open_store(ctx), min_run=min_run)
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(format_pathways(summary))


def format_pathways(summary) -> str:
    """Participants, pathway counts and transitions with their top codes, as text at 80
    columns (words name the pathway dimension, e.g. stage or phase)."""
    from isp_nlp.analysis.pathways import with_article

    title = summary.title
    skipped = [v for v in summary.dimension.value_ids if v not in summary.dimension.scale]
    ignored = " and ".join([", ".join(skipped), "unknown"] if skipped else ["unknown"])
    lines = textwrap.wrap(f"Pathways ({with_article(title)} counts from its first run of "
                          f"{summary.min_run}+ segments; {ignored} ignored)", WIDTH)
    lines.append("")
    width = max((len(p.document) for p in summary.pathways), default=8)
    for p in summary.pathways:
        mark = "~" if not p.stable and p.n_staged else " "
        row = f"{mark} {p.document:<{width}}  {p.text}"
        count = f"({p.n_staged} of {p.n_segments} segments with {with_article(title)}"
        count += f": {p.sources_text})" if p.n_staged else ")"
        if len(row) + 3 + len(count) <= WIDTH:
            lines.append(f"{row}   {count}")
        else:  # the count on a line of its own, under the pathway
            lines += [row, *textwrap.wrap(count, WIDTH, initial_indent=" " * (width + 4),
                                          subsequent_indent=" " * (width + 5))]
        if mark == "~":
            readings = "; ".join(f"{n}: {' → '.join(r) or '—'}" for n, r in p.readings)
            lines += textwrap.wrap(f"--min-run {readings}", WIDTH,
                                   initial_indent=" " * (width + 4),
                                   subsequent_indent=" " * (width + 6))
    if summary.pathways:
        lines += ["", "Pathway counts"]
        for text, n in summary.counts:
            lines += textwrap.wrap(f"  {n:>4}  {text}", WIDTH, subsequent_indent=" " * 8)
    if summary.transitions:
        lines += ["", "Transitions (codes around each, by lift over their overall share)"]
        for t in summary.transitions:
            codes = ", ".join(f"{c.code} ×{c.lift:.2f}" for c in t.top_codes) or "—"
            lines += textwrap.wrap(f"  {t.from_stage} → {t.to_stage} ({t.kind}): {t.count} "
                                   f"participant(s); codes: {codes}", WIDTH,
                                   subsequent_indent="    ")
    for note in summary.notes:
        lines += [""] if note == summary.notes[0] else []
        lines += textwrap.wrap(note, WIDTH)
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
@click.option("--dimension", default=None, metavar="NAME",
              help="Compare only this dimension of the codebook (such as stage).")
@click.option("--stage", "stage_only", is_flag=True, help="Short for --dimension stage.")
@click.option("--coders", default=None, metavar="A,B", help="Only these coders (default: all).")
@click.option("--include-model", is_flag=True,
              help="Add the model (out-of-fold on coded segments) as a coder.")
@click.option("--unresolved", is_flag=True, help="Only segments without a consensus.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the consensus-meeting sheet (CSV) to this file.")
@click.pass_context
def disagreements(ctx, code, dimension, stage_only, coders, include_model, unresolved, fmt,
                  out) -> None:
    """List segments where coders (or model and coder) differ; export a consensus sheet."""
    from isp_nlp.analysis.consensus import consensus_columns
    from isp_nlp.analysis.disagreements import disagreement_frame, project_disagreements
    from isp_nlp.coded.safe_csv import safe_csv_text

    if stage_only and dimension is not None and dimension != STAGE:
        raise InputError("--dimension and --stage both given; compare one dimension, so "
                         "pass only one of them.")
    dimension = STAGE if stage_only else dimension
    if code is not None and dimension is not None:
        which = "--stage" if stage_only else "--dimension"
        raise InputError(f"--code and {which} both given; compare one code or one dimension, "
                         "so pass only one of them.")
    if out is not None:
        check_output(out, "--out")
    store = open_store(ctx)
    items, compared = project_disagreements(
        store, code=code, dimension=dimension, coders=_split(coders),
        include_model=include_model)
    if unresolved:
        items = [d for d in items if not d.resolved]
    dims = require_codebook(store).dimension_ids
    shown = [] if code is not None else [dimension] if dimension is not None else list(dims)
    frame = disagreement_frame(items, compared, dimensions=dims, compared=shown,
                               codes=dimension is None)
    if out is not None:
        _write_csv(frame, out)
        values = ", ".join(consensus_columns(dims)[1:])
        click.echo(f"Wrote {len(frame)} segment(s) to {out}; fill in consensus_codes "
                   "(codes separated by ';', '-' for none)"
                   + (f" and {values}" if values else "")
                   + f", then run `isp-nlp resolve {out}`.")
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


def format_disagreements(items, compared, dimensions=None) -> str:
    """A readable listing: segment, its text, then each coder's codes | value of each
    dimension (``dimensions``: ids; by default those of the items)."""
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
        dims = d.dimensions if dimensions is None else dimensions

        def values(got, dims=dims) -> str:
            return "".join(f" | {got.value(dim) or '—'}" for dim in dims)

        for coder, got in d.labels.items():
            codes = format_codes(got.codes) or "(not coded)"
            lines.append(f"    {coder:<14} {codes}{values(got)}")
        if d.consensus is not None:
            lines.append(f"    {'consensus':<14} {format_codes(d.consensus.codes) or '—'}"
                         f"{values(d.consensus)}")
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
@click.option("--value", "values", multiple=True, metavar="DIMENSION=VALUE",
              help="Agreed value of a dimension (repeatable), e.g. stage=exchange.")
@click.option("--stage", default=None, help="Agreed stage: short for --value stage=VALUE.")
@click.pass_context
def resolve(ctx, file: Path | None, segment: str | None, codes: str | None,
            values: tuple[str, ...], stage: str | None) -> None:
    """Record consensus codes/values from a filled-in disagreements CSV (or one --segment)."""
    from isp_nlp.analysis.consensus import resolve_csv, resolve_segment

    if (file is None) == (segment is None):
        raise InputError("resolve needs either a filled-in FILE.csv or --segment ID (not both); "
                         "see `isp-nlp resolve --help`.")
    if file is not None and (codes is not None or stage is not None or values):
        raise InputError("--codes, --value and --stage go with --segment; a FILE.csv carries "
                         "them in its consensus_codes and consensus_<dimension> columns.")
    agreed: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--value '{item}' is not DIMENSION=VALUE; write it like "
                             "stage=exchange.")
        agreed[name.strip()] = value
    if stage is not None:
        agreed[STAGE] = stage
    store = open_store(ctx)
    if file is not None:
        r = resolve_csv(store, file)
        click.echo(f"Recorded the consensus for {r['resolved']} segment(s) from {file} "
                   f"({r['changed']} changed, {r['unchanged']} unchanged); "
                   f"{r['unfilled']} row(s) left unfilled.")
    elif segment is not None:
        one = resolve_segment(store, segment, codes=codes, values=agreed)
        parts = []
        if one["codes"] is not None:
            parts.append("codes " + (", ".join(one["codes"]) or "none"))
        parts += [f"{dim} {value}" for dim, value in one["values"].items()]
        click.echo(f"Recorded the consensus for {one['document']}#{one['index']}: "
                   f"{'; '.join(parts)}.")


@click.command()
@click.option("--code", default=None, metavar="CODE",
              help="Segments any coder gave CODE (an id or name, or DIM=VALUE).")
@click.option("--search", default=None, metavar="TEXT",
              help="Segments whose text contains TEXT (any case).")
@click.option("--document", default=None, metavar="DOC", help="Segments of DOC only.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Show at most this many segments.")
@click.pass_context
def show(ctx, code: str | None, search: str | None, document: str | None,
         limit: int | None) -> None:
    """Coded segments in context: each with its previous turn, every coder's labels
    and source, and the notes on it. Filters combine."""
    from isp_nlp.analysis.memos import code_memos

    store = open_store(ctx)
    shown = show_segments(store, code=code, search=search, document=document, limit=limit)
    if code is not None:
        for note in code_memos(store, code):
            click.echo(_memo_line(f"memo on code {code}", note))
    for i, item in enumerate(shown):
        click.echo(format_shown(item, first=i == 0))
    click.echo(f"{len(shown)} segment{'s' if len(shown) != 1 else ''}"
               + (" (--limit reached)" if limit is not None and len(shown) >= limit else ""))


def _flat(text: str) -> str:
    """``text`` on one line for the terminal: line breaks and runs of spaces become one
    space, any other control character is shown as ``<U+…>``."""
    return one_line(" ".join(text.split()))


def _memo_line(on: str, note: Note) -> str:
    """A memo on a code or document, as ``show`` prints it above the segments."""
    who = f" ({one_line(note.coder)})" if note.coder else ""
    return "\n".join(textwrap.wrap(f"{one_line(on)}{who}: {_flat(note.text)}", WIDTH,
                                    subsequent_indent="    "))


def format_shown(item: Shown, *, first: bool = False) -> str:
    """One segment of `show`: header, previous turn, text, labels and notes, 80 columns."""
    seg = item.segment
    lines = [] if first else [""]
    lines += [_memo_line(f"memo on {seg.document}", n) for n in item.document_notes]
    lines.append(f"{one_line(seg.document)} #{seg.index} · "
                 f"{one_line(seg.speaker or 'unknown speaker')}")
    if item.previous is not None:
        prev = f"… {one_line(item.previous.speaker or 'unknown')}: " \
               f"{_flat(item.previous.text)}"
        lines.append(textwrap.shorten(prev, WIDTH - 2, placeholder=" …"))
    lines += textwrap.wrap(_flat(seg.text), WIDTH, initial_indent="  ",
                           subsequent_indent="  ") or ["  (empty)"]
    by_coder: dict[tuple[str, str], list[str]] = {}
    for a in item.labels:
        label = a.label or "no code"
        text = label if a.dimension == "code" else f"{a.dimension}={label}"
        by_coder.setdefault((a.coder, a.source), []).append(text)
    for (coder, source), labels in by_coder.items():
        lines += textwrap.wrap(f"{one_line(coder)} ({source}): {', '.join(labels)}", WIDTH,
                               initial_indent="  ", subsequent_indent="    ")
    for note in item.notes:
        who = f" ({one_line(note.coder)})" if note.coder else ""
        lines += textwrap.wrap(f"note{who}: {_flat(note.text)}", WIDTH,
                               initial_indent="  ", subsequent_indent="    ")
    return "\n".join(lines)
