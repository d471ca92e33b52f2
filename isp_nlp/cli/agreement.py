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
    from collections.abc import Sequence

    from isp_nlp.agreement.describe import Block, PairRow, Readout

HELP = """Reliability per code, per dimension (such as the stage) and overall, with
bootstrap CIs.

Without CSV: the project's human coders and the model (coder `model`,
out-of-fold labels). With CODED.csv (coded-segments format): the file alone,
no project needed; units are (document, segment id, else start-end, else
text). With CODED.csv inside a project: rows are placed on the project's
segments (id, exact offsets, else the segment covering at least 50 % of the
row's span, else equal text) and the model is added.

The table fits 80 columns. By default: each dimension and all codes pooled, a
row per statistic (percent agreement, Cohen's kappa, Krippendorff's alpha) for
the human coders ("humans") and, with the model, for the humans plus the model
counted as one more coder ("humans + model"); targets whose statistics are all
undefined for one reason (such as fewer than 2 coders), or codes no coder
applied, get one line with the count and the reason. --detail adds each code,
the other statistics, each human coder pair and the model vs each coder. --metric
shows the statistics named. Each statistic is named exactly: percent agreement,
Cohen's kappa (with 3+ coders: mean pairwise Cohen's kappa over N coder pairs,
each pair on the units both coded), Scott's pi (likewise), Fleiss' kappa,
Krippendorff's alpha (overall also with MASI and Jaccard set distances), Gwet's
AC1, Brennan-Prediger kappa. With one human coder there is no reliability (one
line says why); "Model vs coder" rows say how often the model's suggestions
match the coder and are not reliability. Codes are presence (0/1) per segment;
overall pools every (segment, code) unit. CIs are percentile bootstrap over
segments or whole documents. When each coder
gives each unit exactly one code (or with --single-label), single-variable
mode: the codes are the values of ONE variable (target `code`) and --level
applies to it (numbers for ordinal/interval/ratio; kappa/pi/fleiss/ac1/bp
weighted linearly for ordinal, quadratically for interval/ratio); on per-code
presence tables only nominal applies. --dimension NAME compares only the codes
(`code`) or one single-choice dimension of the codebook (a CSV column without
a project); ordinal level needs a dimension declared ordered (its unordered
values, such as the stage's 'none', are left out). A dimension nobody coded
(e.g. no stage column) gets no row.

--attribute NAME splits the project's documents by an attribute (`isp-nlp
attributes`) and gives each value a column: Krippendorff's alpha (or the
--metric named) with its CI for each dimension and all codes pooled (--detail:
each code), the humans' row and, with the model, a "+ model" row; a value with
fewer than 2 coders on a target shows "–" and the reason under the table.

JSON and CSV hold every row; their target rows count the model as one more
coder when it labelled the target's units, and say so: "population" is
"humans+model" (else "humans"; --no-model gives the humans' alone). JSON:
{"settings": {...}, "dimensions": {DIMENSION: {METRIC: EST}},
"codes": {CODE: {METRIC: EST}},
"overall": {METRIC: EST} (one variable: "code": {METRIC: EST} instead, and
settings "categories"), "pairs": [{"target", "coder_a", "coder_b", "kind",
"population", "percent": EST, "kappa": EST, "pi": EST}]}, where EST is
{"value", "ci_low", "ci_high", "n_units", "n_coders", "note"} and, outside the
pairs, "population"; null = undefined (the note says why); in a project,
settings "notes" holds the lines on which codes count and the correction rate.
CSV: one row per EST, its last column "population". Definitions:
docs/agreement.md.
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
@click.option("--detail", is_flag=True,
              help="Table: every code, every statistic, each coder pair and the model vs "
                   "each coder (default: the dimensions and all codes pooled).")
@click.option("--attribute", "attribute", default=None, metavar="NAME",
              help="Split by a document attribute (`isp-nlp attributes`): one column per "
                   "value, e.g. each site's alpha.")
@click.pass_context
def agreement(ctx, csv_file, dimension, coders, metric, level, by, ci, seed, resamples,
              fmt, no_model, single_label, include_assisted, detail, attribute) -> None:

    from isp_nlp.agreement.describe import HEADLINE, mode_sentence, readout
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
    if detail and fmt != "table":
        raise InputError(f"--detail applies to the table; --format {fmt} always holds every "
                         "row, so drop --detail.")
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
    if attribute is not None:
        _by_attribute(ctx, attribute, chosen, documents, options, dims=dims,
                      coders=wanted or None, single_label=value is not None, fmt=fmt,
                      detail=detail, metric_given=ctx.get_parameter_source("metric")
                      is not click.core.ParameterSource.DEFAULT)
        return
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
        chosen_metrics = (HEADLINE if ctx.get_parameter_source("metric")
                          is click.core.ParameterSource.DEFAULT else None)
        click.echo(format_readout(shown, names, detail=detail, metrics=chosen_metrics))
        for line in scope:
            click.echo("\n" + "\n".join(_wrap(line, later="  ")))
        if not no_model and MODEL_CODER not in rep.data["settings"]["coders"]:
            note = _no_model_note(ctx, csv_file)
            if note:
                click.echo("\n" + textwrap.fill(note, 80))


#: Units × resamples from which a progress bar is shown (about ten seconds of work).
LARGE = 50_000_000


def _by_attribute(ctx, name: str, tables, documents, options, *, dims, coders,
                  single_label: bool, fmt: str, detail: bool, metric_given: bool) -> None:
    """``agreement --attribute NAME``: the statistics on each value's documents."""
    from dataclasses import replace

    from isp_nlp.agreement.by_attribute import attribute_agreement
    from isp_nlp.agreement.project import ATTRIBUTE_METRIC
    from isp_nlp.agreement.tables import dimension_title
    from isp_nlp.analysis.attributes import find_attribute
    from isp_nlp.cli.agreement_by import attribute_data, attribute_frame, attribute_lines
    from isp_nlp.coded.safe_csv import safe_csv_text

    if not project_db(_project_dir(ctx)).exists():
        raise InputError("--attribute needs a project whose documents have attributes "
                         "(`isp-nlp attributes FILE.csv`); run it inside one, or drop "
                         "--attribute.")
    store = open_store(ctx)
    found = find_attribute(store, name, option="--attribute")
    value_of = {d: v[found] for d, v in store.attributes().items() if found in v}
    metrics = options.metrics if metric_given or fmt != "table" else (ATTRIBUTE_METRIC,)
    result = attribute_agreement(tables, documents, value_of, attribute=found,
                                 options=replace(options, metrics=metrics),
                                 dimensions=dims, coders=coders, single_label=single_label)
    if fmt == "json":
        click.echo(json.dumps(attribute_data(result), indent=2, ensure_ascii=False,
                              allow_nan=False))
    elif fmt == "csv":
        click.echo(safe_csv_text(attribute_frame(result)), nl=False)
    else:
        names = {d.id: dimension_title(d) for d in dims}
        click.echo("\n".join(attribute_lines(result, names=names, metrics=metrics,
                                             detail=detail, ci=options.ci, by=options.by)))


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
    """``text`` in lines of :data:`WIDTH` columns, words never broken (a word longer than
    a line keeps its own line)."""
    return textwrap.wrap(text, WIDTH, initial_indent=indent,
                         subsequent_indent=indent if later is None else later,
                         break_on_hyphens=False, break_long_words=False) or [indent.rstrip()]


def _note(note: str) -> list[str]:
    return _wrap(f"note: {note}", " " * NOTE_INDENT) if note else []


#: Each population's row label in the table, by its ``population`` in JSON and CSV
#: (agreement.tables.HUMANS and COMBINED, spelled here to keep that module out of --help).
POPULATION_LABELS = {"humans": "humans", "humans+model": "humans + model"}
#: Width of the population column, and where a row's note starts (under its value).
WHO, NOTE_INDENT = 14, 16
#: The widest coder-pair name beside its numbers in 80 columns (longer: a line of its own).
PAIR_NAME = 27
#: The statistics the default table leaves to --detail, in words.
OTHER_METRICS = {"pi": "Scott's pi", "fleiss": "Fleiss' kappa", "ac1": "Gwet's AC1",
                 "bp": "Brennan-Prediger kappa"}


def _pair_target(target: str, names: dict[str, str]) -> str:
    from isp_nlp.agreement.tables import VALUE_TARGET

    if target in names:
        return names[target]
    if target == VALUE_TARGET:
        return "code (one variable)"
    return "all codes pooled" if target == "overall" else f"code {target}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def skipped_line(targets: list[str], *, codes: bool, reason: str, perfect: bool = False,
                 who: str = "", pairs: bool = False) -> list[str]:
    """One line for targets left out of the table, naming as many as fit: "118 codes (a,
    b, and 116 more): not computed, fewer than 2 coders." (``who``: the population's
    label; ``pairs``: said of coder pairs; ``perfect``: every coding is one label, so each
    statistic is 1 or undefined); wrapped only when even the count does not fit."""
    from isp_nlp.agreement.describe import SAME_LABEL

    for_who = f" for {who}" if who else ""
    if perfect:
        if codes and reason == f"{SAME_LABEL}0":
            reason = "never applied"
        tail = f"{for_who}: {reason}, so each statistic is 1.000 or undefined."
    else:
        tail = f": not computed{for_who or ' for any pair' if pairs else for_who}, {reason}."
    if not codes:
        return _wrap(", ".join(targets) + tail, later="  ")
    head, shown = _plural(len(targets), "code"), 0
    for k in range(1, len(targets) + 1):
        more = f", and {len(targets) - k} more" if k < len(targets) else ""
        if len(f"{head} ({', '.join(targets[:k])}{more}){tail}") > WIDTH:
            break
        shown = k
    if shown:
        more = f", and {len(targets) - shown} more" if shown < len(targets) else ""
        head += f" ({', '.join(targets[:shown])}{more})"
    return _wrap(head + tail, later="  ")


def _pair_lines(rows: list[PairRow], titles: dict[str, str], summary: frozenset[str]
                ) -> list[str]:
    """Each target's coder pairs with percent agreement, Cohen's kappa (CI) and Scott's pi;
    targets whose pairs say nothing but one reason get one line after them."""
    from isp_nlp.agreement.coefficients import PAIR_METRICS
    from isp_nlp.agreement.describe import undefined_reason

    if not rows:
        return []
    metrics = [m for m in PAIR_METRICS if any(m in r.estimates for r in rows)]
    names = [f"{r.coder_a} vs {r.coder_b}" for r in rows]
    width = min(max(len(n) for n in names), PAIR_NAME)
    head = {"percent": f"{'percent':>7}", "kappa": f"{'kappa':>6}  {'kappa CI':<16}",
            "pi": f"{'pi':>6}"}
    out = [f"  {'pair':<{width}}  " + "  ".join(head[m] for m in metrics) + "   units"]
    by_target: dict[str, list[tuple[PairRow, str]]] = {}
    for row, name in zip(rows, names, strict=True):
        by_target.setdefault(row.target, []).append((row, name))
    left: dict[tuple[str, bool, bool], list[str]] = {}
    for target, group in by_target.items():
        why = {undefined_reason(row.estimates) for row, _ in group}
        single = next(iter(why))
        if len(why) == 1 and single is not None:
            code = target not in summary
            left.setdefault((*single, code), []).append(
                target if code else _pair_target(target, titles))
            continue
        out += _wrap(f"{_pair_target(target, titles)}:", "  ", "    ")
        for row, name in group:
            cells = []
            for m in metrics:
                est = row.estimates.get(m, {})
                cell = f"{_num(est.get('value')):>7}" if m == "percent" else \
                    f"{_num(est.get('value')):>6}"
                if m == "kappa":
                    cell += f"  {_ci(est):<16}"
                cells.append(cell)
            first = next(iter(row.estimates.values()), {})
            numbers = "  ".join(cells) + f"  {first.get('n_units', 0):>6}"
            if len(name) > width:
                out += _wrap(name, "  ", "    ") + [f"  {'':<{width}}  {numbers}"]
            else:
                out.append(f"  {name:<{width}}  {numbers}")
            notes = dict.fromkeys(e.get("note") or "" for e in row.estimates.values())
            out += [line for n in notes if n for line in _note(n)]
    for (reason, perfect, code), targets in left.items():
        out += skipped_line(targets, codes=code, reason=reason, perfect=perfect, pairs=True)
    return out


def _block_lines(block: Block, level: int, metrics: Sequence[str] | None) -> list[str]:
    """A target's title, the column heads and a row per statistic and population (only
    ``metrics`` when given)."""
    rows = [ln for ln in block.lines if metrics is None or ln.metric in metrics]
    if not rows:
        return []
    out = [""] + _wrap(block.title)
    out.append(f"{'who':<{WHO}}  {'value':>6}  {f'{level}% CI':<16}  {'units':>5}  statistic")
    for line in rows:
        est = line.estimate
        lead = (f"{POPULATION_LABELS.get(line.population, line.population):<{WHO}}  "
                f"{_num(est.get('value')):>6}  {_ci(est):<16}  {est.get('n_units', 0):>5}  ")
        out += _wrap(line.label, lead, " " * len(lead))
        out += _note(str(est.get("note") or ""))
    return out


def format_readout(out: Readout, names: dict[str, str] | None = None, *,
                   detail: bool = False, metrics: Sequence[str] | None = None) -> str:
    """The agreement table at 80 columns: mode, the reliability heading (or why there is
    none), then per target a row per statistic for the humans and for the humans plus the
    model (each statistic named exactly), one line for the targets left out and why.

    By default only the dimensions, the one variable and all codes pooled, with
    ``metrics`` (all when None), and a line on what --detail adds; with ``detail`` every
    code and statistic, the human coder pairs and the model vs each coder. ``names``
    gives each dimension's name in words by id."""
    names = names or {}
    level = round(out.ci * 100)
    lines: list[str] = []
    if out.mode:
        lines += _wrap(out.mode) + [""]
    lines += _wrap(out.human_heading)
    shown = metrics if not detail else None
    hidden_metrics: set[str] = set()
    for block in out.blocks:
        if block.code and not detail:
            continue
        lines += _block_lines(block, level, shown)
        hidden_metrics |= {ln.metric for ln in block.lines
                           if shown is not None and ln.metric not in shown}
    skipped = [line for s in out.skipped
               for line in skipped_line(s.targets, codes=s.codes, reason=s.reason,
                                        perfect=s.perfect, who=_who(s.populations, out))]
    if skipped:
        lines += [""] + skipped
    model_pairs = out.model_pairs
    if not detail and out.populations:
        model_pairs = []  # the humans + model rows stand for the model
    elif not detail:
        model_pairs = [p for p in model_pairs if p.target in out.summary]
    if detail and out.human_pairs:
        lines += ["", "Human coder pairs:"] + _pair_lines(out.human_pairs, names, out.summary)
    if out.model_heading and (detail or not out.populations):
        lines += [""] + _wrap(out.model_heading)
        lines += _pair_lines(model_pairs, names, out.summary) or \
            ([] if out.model_pairs else ["  no segments with model labels"])
    if not detail:
        lines += _more(out, hidden_metrics)
    return "\n".join(lines)


def _who(populations: Sequence[str], out: Readout) -> str:
    """The populations a line is said of, in words; '' when it is every one shown."""
    if set(populations) >= set(out.populations):
        return ""
    return " and ".join(POPULATION_LABELS.get(p, p) for p in populations)


def _more(out: Readout, hidden: set[str]) -> list[str]:
    """What --detail adds to the default table, as one sentence (none when nothing)."""
    codes = {b.target for b in out.blocks if b.code} | {
        p.target for p in (*out.human_pairs, *out.model_pairs) if p.target not in out.summary}
    parts = [f"each code ({_plural(len(codes), 'code')})"] if codes else []
    if out.human_pairs:
        parts.append("each human coder pair")
    if out.model_pairs and out.populations:
        parts.append("the model vs each coder")
    words = [w for m, w in OTHER_METRICS.items() if m in hidden]
    sets = [d for d in ("MASI", "Jaccard") if f"alpha_{d.lower()}" in hidden]
    if sets:
        words.append(f"Krippendorff's alpha with {' and '.join(sets)} set "
                     f"distance{'s' if len(sets) > 1 else ''}")
    if words:
        parts.append(f"the other statistics ({', '.join(words)})")
    if not parts:
        return []
    said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return [""] + _wrap(f"--detail adds {said}.")
