"""`isp-nlp review` (triage suggestions at the terminal) and `log` (the audit trail)."""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime

import click

from isp_nlp.cli.common import InputError, echo_wrapped, open_store
from isp_nlp.errors import did_you_mean
from isp_nlp.ingest.controls import one_line
from isp_nlp.review.blind import BlindRun, run_blind
from isp_nlp.review.queue import DEFAULT_SEED, SORTERS, ReviewFilter
from isp_nlp.review.retrain import BackgroundRetrainer
from isp_nlp.review.run import (
    check_coder,
    quick_review,
    retrain_tick,
    review_project,
    save_memo,
)
from isp_nlp.store.database import Store
from isp_nlp.store.decisions import DECISION_ACTIONS, DecisionLog
from isp_nlp.store.folder import require_codebook
from isp_nlp.store.team import recording_coder
from isp_nlp.suggest.trust import project_trust, trust_lines

ORDERS = tuple(SORTERS)


@click.command()
@click.option("--coder", default=None,
              help="Your name, recorded with every decision (on a PostgreSQL project your "
                   "database login, the default; another name is refused).")
@click.option("--order", type=click.Choice(list(ORDERS)), default="uncertain",
              show_default=True,
              help="Most uncertain first, least uncertain first, in transcript order, or "
                   "shuffled (--seed).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="With --order random: the seed of the shuffle.")
@click.option("--line", "line_mode", is_flag=True,
              help="Review line by line even at a terminal (no full screen).")
@click.option("--code", "code", default=None, metavar="CODE",
              help="Only segments where CODE is suggested or among the codes shown.")
@click.option("--document", "documents", multiple=True, metavar="NAME",
              help="Only segments of document NAME; repeatable.")
@click.option("--speaker", default=None, metavar="NAME",
              help="Only segments spoken by NAME (any case).")
@click.option("--has-value", "has_values", multiple=True, metavar="DIM=VALUE",
              help="Only segments where the model suggests VALUE on dimension DIM; "
                   "repeatable.")
@click.option("--min-words", type=click.IntRange(min=0), default=0, show_default=True,
              help="Only segments of at least N words.")
@click.option("--backchannels", is_flag=True,
              help="Keep backchannels ('Mm-hmm.', 'Yeah.') in order instead of at the back.")
@click.option("--script", "script", default=None, metavar="ACTIONS",
              help="Run non-interactively, e.g. 'a,r,e:code1+code2|phase=late,s,u,q'.")
@click.option("--value", "values", multiple=True, metavar="DIM=VALUE",
              help="With --script: the value its relabels (e:) give dimension DIM unless "
                   "they name one; repeatable.")
@click.option("--blind", is_flag=True,
              help="Code from scratch, seeing no suggestion and no other coder's codes "
                   "(full screen at a terminal; script: e:codes|DIM=VALUE, s skip, u undo, "
                   "q quit).")
@click.option("--audit", "audit_id", type=int, default=None, metavar="ID",
              help="With --blind: the segments of audit ID, in drawn order.")
@click.option("--retrain-every", "retrain_every", type=click.IntRange(min=1), default=None,
              metavar="N", help="Full screen: retrain in the background after every N "
              "decisions and re-rank the queue with the new model.")
@click.pass_context
def review(ctx, coder: str | None, order: str, seed: int, line_mode: bool, code: str | None,
           documents: tuple[str, ...], speaker: str | None, has_values: tuple[str, ...],
           min_words: int, backchannels: bool, script: str | None, values: tuple[str, ...],
           blind: bool, audit_id: int | None, retrain_every: int | None) -> None:
    """Triage suggestions: a accept, r reject, e relabel, s skip, u undo, q quit.

    At a terminal this opens the full-screen review (--line for line by line); with
    --script or a pipe it reads actions line by line. The first lines say whether to
    trust the model (certified or not, seed size, kappa). With --blind, code uncoded
    segments (or an audit's) from scratch instead.
    """
    chosen = _parse_values(values)
    if chosen and script is None:
        raise InputError("--value goes with --script; give a script, or choose the values "
                         "when you relabel (e) interactively.")
    if audit_id is not None and not blind:
        raise InputError("--audit goes with --blind; add --blind to code the audit blind.")
    if retrain_every is not None and (blind or script is not None or line_mode):
        raise InputError("--retrain-every works in the full-screen review only; leave out "
                         "--blind, --script and --line, or run `isp-nlp train` and "
                         "`isp-nlp suggest` between sessions.")
    only = ReviewFilter(
        code=code.strip() if code else None, documents=tuple(d.strip() for d in documents),
        speaker=speaker, has_values=tuple(_parse_values(has_values, "--has-value").items()),
        min_words=min_words, backchannels=backchannels)
    ctx.obj["coder"] = coder  # named in the message if the server goes away
    store = open_store(ctx)
    coder = recording_coder(store, coder)
    check_coder(store, coder)
    if blind:
        if script is None and not line_mode and _at_terminal():
            from isp_nlp.review.blind_screen import run_blind_screen  # Textual: full screen

            blind_summary = run_blind_screen(BlindRun(store, coder, audit_id=audit_id))
        else:
            blind_summary = run_blind(
                store, coder, audit_id=audit_id,
                script=None if script is None else _split_script(script),
                write=click.echo, read_line=_read_line, values=chosen)
        echo_wrapped(f"Blind review by {one_line(coder)}: {blind_summary}")
        return
    only = _check_filter(store, only)
    header = [one_line(line) for line in trust_lines(project_trust(store))]
    if script is None and not line_mode and _at_terminal():
        from isp_nlp.review.screen import run_screen  # Textual only for the full screen

        session, complete = quick_review(store, coder, order=order, seed=seed, only=only)
        for line in header:
            click.echo(line)
        retrainer = None if retrain_every is None else BackgroundRetrainer(
            store.path.parent, retrain_every, coder=session.coder, store=store)
        tick = None if retrainer is None else retrain_tick(
            session, retrainer, order=order, seed=seed, only=only)
        try:
            summary = run_screen(session, trust=header, tick=tick, complete=complete,
                                 memo=lambda item, text: save_memo(store, session.coder,
                                                                   item, text))
        finally:
            if retrainer is not None:
                retrainer.close()
        echo_wrapped(f"Review by {one_line(coder)}: {summary}")
        return
    summary = review_project(
        store, coder, order=order, seed=seed, only=only,
        script=None if script is None else _split_script(script),
        read_key=_read_key, write=click.echo, read_line=_read_line,
        header=header, values=chosen)
    echo_wrapped(f"Review by {one_line(coder)}: {summary}")


def _at_terminal() -> bool:
    """Whether stdin, stdout and stderr (where Textual draws) are all terminals."""
    return all(stream is not None and stream.isatty()
               for stream in (sys.stdin, sys.stdout, sys.__stderr__))


def _check_filter(store: Store, only: ReviewFilter) -> ReviewFilter:
    """``only`` with its documents by their stored names; an unknown code, document or
    dimension is an input error."""
    codebook = require_codebook(store)
    if only.code and only.code not in codebook.code_ids:
        raise InputError(f"--code {one_line(only.code)!r} is not a code of the codebook"
                         f"{one_line(did_you_mean(only.code, codebook.code_ids))}; give a "
                         "code id as `isp-nlp codebook show` lists it.")
    known = store.document_names()
    for doc in only.documents:
        if doc not in known:
            raise InputError(f"--document {one_line(doc)!r} is not in the project"
                             f"{one_line(did_you_mean(doc, set(known.values())))}; give a "
                             "document name as `isp-nlp status` lists it.")
    for dim, _ in only.has_values:
        if codebook.dimension(dim) is None:
            raise InputError(f"--has-value names dimension {one_line(dim)!r}, which the "
                             f"codebook lacks; give one of "
                             f"{', '.join(codebook.dimension_ids) or '(none)'}.")
    return replace(only, documents=tuple(known[d] for d in only.documents))


def _parse_values(values: tuple[str, ...], option: str = "--value") -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in values:
        dim, sep, value = (part.strip() for part in raw.partition("="))
        if not sep or not dim or not value:
            raise InputError(f"{option} {raw!r} is not DIM=VALUE; write it as, for example, "
                             f"{option} phase=late.")
        if dim in out and out[dim] != value:
            raise InputError(f"{option} gives dimension {dim!r} twice ({out[dim]!r} and "
                             f"{value!r}); give it once.")
        out[dim] = value
    return out


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


#: The columns of `log --format csv`, in order.
LOG_COLUMNS = ("id", "at", "coder", "action", "document", "segment_index", "codes", "values",
               "undone", "undoes", "model_id", "item_key", "detail")


def _since(text: str | None) -> str | None:
    """``--since`` as the log's UTC timestamps are written (a time without a zone is
    UTC); a value that is not a date or date-time is an input error."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--since '{one_line(text)}' is not a date or time; write it as "
                         "2026-12-01 or 2026-12-01T09:30 (UTC).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@click.command()
@click.option("--coder", default=None, help="Only this coder's entries.")
@click.option("--since", default=None, metavar="T",
              help="Only entries at or after T (2026-12-01 or 2026-12-01T09:30; UTC unless "
              "T gives a zone).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.pass_context
def log(ctx, coder: str | None, since: str | None, fmt: str) -> None:
    """Print every decision (and import and undo) in the audit log."""
    entries = DecisionLog(open_store(ctx)).entries(coder, _since(since))
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        from isp_nlp.coded.safe_csv import safe_csv_rows

        rows = [[e["id"], e["at"], e["coder"], e["action"], e["document"] or "",
                 "" if e["segment_index"] is None else e["segment_index"],
                 ",".join(e["codes"] or []),
                 ";".join(f"{d}={v}" for d, v in sorted(e["values"].items())),
                 e["undone"], "" if e["undoes"] is None else e["undoes"],
                 e["model_id"] or "", e["item_key"] or "",
                 "" if e["action"] in DECISION_ACTIONS else json.dumps(
                     e["detail"], ensure_ascii=False, sort_keys=True)] for e in entries]
        click.echo(safe_csv_rows([list(LOG_COLUMNS), *rows]), nl=False)
        return
    for e in entries:
        for line in _log_lines(e):
            click.echo(line)


def _log_lines(e: dict) -> list[str]:
    """One log row for the table: id, time, coder, action and segment on the first line,
    then what it recorded (codes and values, or an event's detail such as an import's
    source file), wrapped at 80 columns."""
    where = f"{e['document']}#{e['segment_index']}" if e["document"] else ""
    head = f"{e['id']:>5} {e['at'][:16].replace('T', ' ')} {one_line(e['coder'])} " \
           f"{e['action']} {one_line(where)}".rstrip()
    if e["action"] in DECISION_ACTIONS:
        what = ", ".join(e["codes"] or []) if e["codes"] is not None else ""
        what += "".join(f" | {dim}={value}" for dim, value in sorted(e["values"].items()))
        if not what and e["action"] in ("accept", "relabel"):
            what = "no code applies"
    else:
        what = _event_text(e["detail"])
    what = (what.strip(" |") + (" (undone)" if e["undone"] else "")).strip()
    lines = textwrap.wrap(head, 80, subsequent_indent=" " * 6, break_long_words=False,
                          break_on_hyphens=False)
    return lines + textwrap.wrap(one_line(what), 80, initial_indent=" " * 6,
                                 subsequent_indent=" " * 6, break_long_words=False,
                                 break_on_hyphens=False)


def _event_text(detail: object) -> str:
    """An event's detail in words: an import's source file and rows, a memo's text, the
    model a retrain made; otherwise its fields as name=value."""
    if not isinstance(detail, dict):
        return "" if detail is None else str(detail)
    out = []
    if detail.get("source"):
        out.append(f"from {detail['source']}")
    for key, value in detail.items():
        if key == "source" or value in (None, "", [], {}):
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        out.append(f"{key}={value}")
    return ", ".join(out)
