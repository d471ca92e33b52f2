"""`isp-nlp agreement`: reliability coefficients with bootstrap CIs, humans and model."""

from __future__ import annotations

import json
import math
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from isp_nlp.agreement.corrections import project_correction_rate
from isp_nlp.cli.common import WIDTH, InputError, LibraryChoice, open_store
from isp_nlp.project import place_coded_csv
from isp_nlp.records import AGREEMENT_SOURCES, CODE_DIMENSION, Dimension
from isp_nlp.store.database import project_db
from isp_nlp.store.folder import require_codebook

if TYPE_CHECKING:
    from isp_nlp.agreement.describe import PairRow, Readout

HELP = """Reliability per code, per dimension (such as the stage) and overall, with
bootstrap CIs.

Without CSV: the project's human coders and the model (coder `model`,
out-of-fold labels). With CODED.csv (coded-segments format): the file alone,
no project needed; units are (document, segment id, else start-end, else
text). With CODED.csv inside a project: rows are placed on the project's
segments (id, exact offsets, else the segment covering at least 50 % of the
row's span, else equal text) and the model is added.

The table names each statistic exactly: percent agreement, Cohen's kappa
(with 3+ coders: mean pairwise Cohen's kappa over N coder pairs, each pair on
the units both coded), Scott's pi (likewise), Fleiss' kappa, Krippendorff's
alpha (overall also with MASI and Jaccard set distances), Gwet's AC1,
Brennan-Prediger kappa. "Human-human reliability" uses the human coders only
(one coder: one line saying why there is none); "Model vs coder" rows say how
often the model's suggestions match each coder and are not reliability. Codes
are presence (0/1) per segment; overall pools every (segment, code) unit. CIs
are percentile bootstrap over segments or whole documents. When each coder
gives each unit exactly one code (or with --single-label), single-variable
mode: the codes are the values of ONE variable (target `code`) and --level
applies to it (numbers for ordinal/interval/ratio; kappa/pi/fleiss/ac1/bp
weighted linearly for ordinal, quadratically for interval/ratio); on per-code
presence tables only nominal applies. --dimension NAME compares only the codes
(`code`) or one single-choice dimension of the codebook (a CSV column without
a project); ordinal level needs a dimension declared ordered (its unordered
values, such as the stage's 'none', are left out). A dimension nobody coded
(e.g. no stage column) gets no row.

JSON and CSV count the model as one more coder in the all-coder rows. JSON:
{"settings": {...}, "dimensions": {DIMENSION: {METRIC: EST}},
"codes": {CODE: {METRIC: EST}},
"overall": {METRIC: EST} (one variable: "code": {METRIC: EST} instead, and
settings "categories"), "pairs": [{"target", "coder_a", "coder_b", "kind",
"percent": EST, "kappa": EST, "pi": EST}]}, where EST is {"value", "ci_low",
"ci_high", "n_units", "n_coders", "note"}; null = undefined (the note says
why); in a project, settings "notes" holds the lines on which codes count and
the correction rate. Definitions: docs/agreement.md.
"""


def _metrics(value: str) -> tuple[str, ...]:
    from isp_nlp.agreement.coefficients import METRICS

    names = [m.strip().lower() for m in value.split(",") if m.strip()]
    if not names or names == ["all"]:
        return METRICS
    bad = [m for m in names if m not in METRICS]
    if bad:
        raise InputError(
            f"--metric '{bad[0]}' is not known; expected all or a comma list of "
            f"{', '.join(METRICS)}, so pass one of those."
        )
    return tuple(dict.fromkeys(names))


@click.command(help=HELP)
@click.argument("csv_file", metavar="[CODED.csv]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dimension", "--label-column", "dimension", default=None, metavar="NAME",
              help="Only the codes (`code`) or one dimension, such as stage (default: all); "
                   "on a CSV without a project, any column.")
@click.option("--coders", default="", metavar="A,B,...", help="Only these coders.")
@click.option("--metric", "metric", default="all", show_default=True,
              metavar="all|percent|kappa|pi|fleiss|alpha|ac1|bp",
              help="One metric, a comma list, or all.")
@click.option("--level", type=LibraryChoice("isp_nlp.agreement.ratings", "LEVELS"),
              default="nominal", show_default=True, help="Level of measurement.")
@click.option("--by", type=LibraryChoice("isp_nlp.agreement.bootstrap", "BY"), default="segment",
              show_default=True, help="Bootstrap unit: segments or whole documents.")
@click.option("--ci", type=float, default=0.95, show_default=True, help="Confidence level.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--resamples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Bootstrap resamples.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--no-model", is_flag=True, help="Humans only.")
@click.option("--include-assisted", is_flag=True,
              help="Also count codes coders gave by deciding on suggestions (assisted); "
                   "they depend on the model, so this flatters it (labelled as such).")
@click.option("--single-label", is_flag=True,
              help="Each coder gives each unit one value: the codes are one variable.")
@click.pass_context
def agreement(ctx, csv_file, dimension, coders, metric, level, by, ci, seed, resamples,
              fmt, no_model, single_label, include_assisted) -> None:

    from isp_nlp.agreement.describe import mode_sentence, readout
    from isp_nlp.agreement.reliability import ReliabilityOptions, reliability_report
    from isp_nlp.agreement.tables import (
        MODEL_CODER,
        VALUE_TARGET,
        check_value_level,
        dimension_title,
        single_value_table,
    )
    from isp_nlp.coded.safe_csv import safe_csv_text

    if not 0 < ci < 1:
        raise InputError(f"--ci is {ci}; expected a level between 0 and 1 such as 0.95.")
    if include_assisted and csv_file is not None:
        raise InputError("--include-assisted applies to the project's own codes, not to "
                         "CODED.csv; drop --include-assisted or the CSV.")
    options = ReliabilityOptions(metrics=_metrics(metric), level=level, ci=ci, by=by,
                                 n_resamples=resamples, seed=seed)
    wanted = [c.strip() for c in coders.split(",") if c.strip()]
    name = dimension.strip() if dimension is not None else None
    tables, documents, info, dims = _load(ctx, csv_file, include_model=not no_model,
                                          dimension=name, include_assisted=include_assisted)
    chosen_dim = next((d for d in dims if d.id == name), None)
    if name == CODE_DIMENSION:
        tables = {t: v for t, v in tables.items() if t not in {d.id for d in dims}}
    elif chosen_dim is not None:
        tables = {chosen_dim.id: tables.get(chosen_dim.id)}
    _check_coders(tables, wanted)
    labels = {d.id: tables.pop(d.id) for d in dims if d.id in tables}
    value = None if chosen_dim is not None else single_value_table(tables,
                                                                   force=single_label)
    mode = mode_sentence(value is not None, forced=single_label, level=level)
    if value is not None:
        check_value_level(value, level)
        tables = {VALUE_TARGET: value}
        if fmt != "table":  # the table states the mode itself
            info.append(mode)
    elif level != "nominal" and any(t is not None and not t.empty for t in tables.values()):
        raise InputError(
            f"--level {level} applies to one variable whose values are numbers; these "
            "codings give units several codes each, so agreement is per code presence "
            "(0/1) where only nominal applies; pass --single-label if each coder gives "
            "each unit one value."
        )
    coded = [d for d in dims if labels.get(d.id) is not None and not labels[d.id].empty]
    _check_dimension_level(chosen_dim, coded, level)
    # no row for a dimension nobody coded
    tables = {**{d.id: labels[d.id] for d in coded}, **tables}
    scope = [m for m in info if m.startswith(SCOPE_PREFIXES)]
    for message in info:
        if message not in scope:
            click.echo(message, err=True)
    chosen = {t: v for t, v in tables.items() if v is not None}
    units = max((len(v) for v in chosen.values()), default=0)
    hidden = units * options.n_resamples < LARGE
    with click.progressbar(length=1, label="Agreement", file=sys.stderr,
                           hidden=hidden) as bar:

        def advance(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        rep = reliability_report(chosen, options=options, documents=documents,
                                 coders=wanted or None, progress=advance,
                                 single_label=value is not None, dimensions=dims)
        humans = None
        if fmt == "table" and MODEL_CODER in rep.data["settings"]["coders"]:
            people = {t: v[[c for c in v.columns if str(c) != MODEL_CODER]]
                      for t, v in chosen.items()}
            humans = reliability_report(people, options=options, documents=documents,
                                        coders=wanted or None,
                                        single_label=value is not None, dimensions=dims)
    if fmt == "json":
        data = rep.to_dict()
        if scope:
            data["settings"]["notes"] = scope
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))
    elif fmt == "csv":
        click.echo(safe_csv_text(rep.to_frame()), nl=False)
    else:
        names = {d.id: dimension_title(d) for d in dims}
        shown = readout(rep, humans=humans, mode=mode if value is not None else "",
                        names=names)
        click.echo(format_readout(shown, names))
        for line in scope:
            click.echo("\n" + "\n".join(_wrap(line, later="  ")))
        if not no_model and MODEL_CODER not in rep.data["settings"]["coders"]:
            note = _no_model_note(ctx, csv_file)
            if note:
                click.echo("\n" + textwrap.fill(note, 80))


#: Units × resamples from which a progress bar is shown (about ten seconds of work).
LARGE = 50_000_000


def _check_coders(tables, wanted: list[str]) -> None:
    known = sorted({str(c) for t in tables.values() if t is not None for c in t.columns})
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise InputError(
            f"--coders names '{unknown[0]}', who has no codings here; known coders: "
            f"{', '.join(known) or 'none'}, so use those names."
        )


def _check_dimension_level(chosen: Dimension | None, coded: list[Dimension],
                           level: str) -> None:
    """Refuse a level a dimension cannot take: interval or ratio on the one dimension
    compared (its labels are text), ordinal on a dimension not declared ordered."""
    from isp_nlp.agreement.tables import dimension_title

    if chosen is not None and level in ("interval", "ratio"):
        title = dimension_title(chosen)
        scale = f" or ordinal ({' < '.join(chosen.scale)})" if chosen.scale else ""
        raise InputError(
            f"{title[:1].upper() + title[1:]} labels are text but --level {level} needs "
            f"numbers; use --level nominal{scale} for the {title}."
        )
    if level != "ordinal":
        return
    unordered = [d for d in ([chosen] if chosen is not None else coded) if not d.scale]
    if unordered:
        d = unordered[0]
        title = dimension_title(d)
        named = d.id if title == d.id else f"{title} ({d.id})"
        fix = ("" if chosen is not None
               else ", or pick an ordered dimension with --dimension")
        raise InputError(
            f"The dimension {named} is not declared ordered in the codebook, so it has no "
            f"ordinal level; use --level nominal{fix}."
        )


#: How the lines on the codes compared and the corrections begin (printed after the table).
SCOPE_PREFIXES = ("Model vs coders:", "Corrections:")


def _scope(store, include_model: bool, include_assisted: bool) -> list[str]:
    """The line on which human codes the model is compared with, and the correction rate."""
    from isp_nlp.agreement.project import annotation_frame, model_scope

    sources = (*AGREEMENT_SOURCES, "assisted") if include_assisted else AGREEMENT_SOURCES
    out = []
    if include_model and store.latest_model() is not None:
        out.append(model_scope(store, annotation_frame(store, sources=sources), sources))
    rate = project_correction_rate(store).overall
    if rate.decided:
        out.append(f"Corrections: {rate.sentence()}.")
    return out


def _load(ctx, csv_file: Path | None, *, include_model: bool, dimension: str | None,
          include_assisted: bool = False):
    """Coding tables, segment → document map, messages for stderr and the dimensions
    (the codebook's; on a CSV without a project the default stage, or the column
    ``dimension`` names)."""
    from isp_nlp.agreement.project import mapped_tables, project_tables
    from isp_nlp.agreement.tables import csv_coding_tables, default_dimensions
    from isp_nlp.coded.read import iter_coded_csv
    if csv_file is not None and not project_db(_project_dir(ctx)).exists():
        dims = _csv_dimensions(csv_file, dimension) or default_dimensions()
        tables, documents = csv_coding_tables(iter_coded_csv(csv_file), dimensions=dims)
        return tables, documents, [], dims
    store = open_store(ctx)
    dims = require_codebook(store).dimensions
    if dimension is not None and dimension != CODE_DIMENSION \
            and dimension not in {d.id for d in dims}:
        have = ", ".join(d.id for d in dims) or "no dimensions"
        raise InputError(
            f"--dimension '{dimension}' is not a dimension of the project's codebook (it "
            f"has {have}), so pass one of those or code."
        )
    if csv_file is None:
        sources = (*AGREEMENT_SOURCES, "assisted") if include_assisted else AGREEMENT_SOURCES
        tables, documents = project_tables(store, include_model=include_model,
                                           sources=sources)
        return tables, documents, _scope(store, include_model, include_assisted), dims
    placed = place_coded_csv(store, csv_file)
    mapping = placed.mapping
    exact = len(mapping.mapped) - mapping.by_overlap
    info = [f"{csv_file.name}: {exact} rows placed exactly, {mapping.by_overlap} by span "
            f"overlap (>= 50 %), {len(mapping.dropped)} dropped."]
    info += [f"  dropped {reason}" for _, reason in mapping.dropped[:10]]
    tables = mapped_tables(store, placed.frame, include_model=include_model)
    return tables, placed.documents, info + _scope(store, False, False), dims


def _csv_dimensions(csv_file: Path, name: str | None) -> tuple[Dimension, ...]:
    """The dimension a CSV read without a project compares: the column ``name`` (the
    default codebook's stage for ``stage``, else its cells as written); () for none."""
    from isp_nlp.agreement.tables import default_dimensions
    from isp_nlp.coded.read import csv_header

    if name is None or name == CODE_DIMENSION:
        return ()
    header = csv_header(csv_file)
    if name.casefold() not in header:
        found = ", ".join(h for h in header if h) or "none"
        raise InputError(
            f"{csv_file.name} has no column '{name}' (found: {found}), so name the column "
            "that holds the labels with --dimension (or code)."
        )
    known = {d.id: d for d in default_dimensions()}
    return (known.get(name.casefold()) or Dimension(id=name.casefold(), name=name, values=()),)


def _project_dir(ctx) -> Path:
    return Path(ctx.obj["project"]) if ctx.obj and "project" in ctx.obj else Path(".")


def _no_model_note(ctx, csv_file: Path | None) -> str:
    """Why the table has no model-vs-coder rows, when the model was not left out."""
    if csv_file is not None and not project_db(_project_dir(ctx)).exists():
        return ""
    info = open_store(ctx).latest_model()
    if info is None:
        return "Model vs coder: none; the project has no trained model (run `isp-nlp train`)."
    return ("Model vs coder: none; the latest model has no out-of-fold suggestions (its "
            "seed codes could not be split into folds grouped by document: code a second "
            "document, then train again).")




def _num(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _ci(est: dict[str, Any]) -> str:
    if est.get("ci_low") is None or est.get("ci_high") is None:
        return ""
    return f"[{_num(est['ci_low'])}, {_num(est['ci_high'])}]"


def _wrap(text: str, indent: str = "", later: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent,
                         subsequent_indent=indent if later is None else later,
                         break_on_hyphens=False) or [indent.rstrip()]


def _note(note: str) -> list[str]:
    return _wrap(f"note: {note}", " " * 10) if note else []


def _pair_target(target: str, names: dict[str, str]) -> str:
    from isp_nlp.agreement.tables import VALUE_TARGET

    if target in names:
        return names[target]
    if target == VALUE_TARGET:
        return "code (one variable)"
    return "all codes pooled" if target == "overall" else f"code {target}"


def _pair_lines(rows: list[PairRow], titles: dict[str, str]) -> list[str]:
    from isp_nlp.agreement.coefficients import PAIR_METRICS

    if not rows:
        return []
    metrics = [m for m in PAIR_METRICS if any(m in r.estimates for r in rows)]
    names = [f"{r.coder_a} vs {r.coder_b}" for r in rows]
    width = max(len(n) for n in names)
    head = {"percent": f"{'percent':>7}", "kappa": f"{'kappa':>6}  {'kappa CI':<16}",
            "pi": f"{'pi':>6}"}
    out = [f"  {'pair':<{width}}  " + "  ".join(head[m] for m in metrics) + "   units"]
    target = None
    for row, name in zip(rows, names, strict=True):
        if row.target != target:
            target = row.target
            out.append(f"  {_pair_target(target, titles)}:")
        cells = []
        for m in metrics:
            est = row.estimates.get(m, {})
            cell = f"{_num(est.get('value')):>7}" if m == "percent" else \
                f"{_num(est.get('value')):>6}"
            if m == "kappa":
                cell += f"  {_ci(est):<16}"
            cells.append(cell)
        first = next(iter(row.estimates.values()), {})
        out.append(f"  {name:<{width}}  " + "  ".join(cells) + f"  {first.get('n_units', 0):>6}")
        notes = dict.fromkeys(e.get("note") or "" for e in row.estimates.values())
        out += [line for n in notes if n for line in _note(n)]
    return out


def format_readout(out: Readout, names: dict[str, str] | None = None) -> str:
    """The agreement table at 80 columns: mode, human–human reliability (or why there is
    none) with each statistic named exactly, coder pairs, then model vs coder; ``names``
    gives each dimension's name in words by id."""
    names = names or {}
    level = round(out.ci * 100)
    lines: list[str] = []
    if out.mode:
        lines += _wrap(out.mode) + [""]
    lines += _wrap(out.human_heading)
    for block in out.human_blocks:
        lines += [""] + _wrap(block.title)
        lines.append(f"{'value':>6}  {f'{level}% CI':<16}  {'units':>5}  statistic")
        for line in block.lines:
            est = line.estimate
            lead = f"{_num(est.get('value')):>6}  {_ci(est):<16}  {est.get('n_units', 0):>5}  "
            lines += _wrap(line.label, lead, " " * len(lead))
            lines += _note(str(est.get("note") or ""))
    if out.human_pairs:
        lines += ["", "Human coder pairs:"] + _pair_lines(out.human_pairs, names)
    if out.model_heading:
        lines += [""] + _wrap(out.model_heading)
        lines += _pair_lines(out.model_pairs, names) or ["  no segments with model labels"]
    return "\n".join(lines)
