"""`isp-nlp review` (triage suggestions at the terminal) and `log` (the audit trail)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from isp_nlp.cli.common import InputError, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.review.audit import run_blind
from isp_nlp.review.run import review_project
from isp_nlp.store.decisions import DecisionLog
from isp_nlp.suggest.trust import project_trust, trust_lines


@click.command()
@click.option("--coder", required=True, help="Your name, recorded with every decision.")
@click.option("--order", type=click.Choice(["uncertain", "document"]), default="uncertain",
              show_default=True, help="Most uncertain first, or in transcript order.")
@click.option("--script", "script", default=None, metavar="ACTIONS",
              help="Run non-interactively, e.g. 'a,r,e:code1+code2|phase=late,s,u,q'.")
@click.option("--value", "values", multiple=True, metavar="DIM=VALUE",
              help="With --script: the value its relabels (e:) give dimension DIM unless "
                   "they name one; repeatable.")
@click.option("--blind", is_flag=True,
              help="Code from scratch, seeing no suggestion and no other coder's codes: "
                   "e:codes|DIM=VALUE, s skip, u undo, q quit.")
@click.option("--audit", "audit_id", type=int, default=None, metavar="ID",
              help="With --blind: the segments of audit ID, in drawn order.")
@click.pass_context
def review(ctx, coder: str, order: str, script: str | None, values: tuple[str, ...],
           blind: bool, audit_id: int | None) -> None:
    """Triage suggestions: a accept, r reject, e relabel, s skip, u undo, q quit.

    The first lines say whether to trust the model (certified or not, seed size, kappa).
    With --blind, code uncoded segments (or an audit's) from scratch instead.
    """
    chosen = _parse_values(values)
    if chosen and script is None:
        raise InputError("--value goes with --script; give a script, or choose the values "
                         "when you relabel (e) interactively.")
    if audit_id is not None and not blind:
        raise InputError("--audit goes with --blind; add --blind to code the audit blind.")
    store = open_store(ctx)
    if blind:
        blind_summary = run_blind(
            store, coder, audit_id=audit_id,
            script=None if script is None else _split_script(script),
            write=click.echo, read_line=_read_line, values=chosen)
        click.echo(f"Blind review by {coder}: {blind_summary}")
        return
    summary = review_project(
        store, coder, order=order,
        script=None if script is None else _split_script(script),
        read_key=_read_key, write=click.echo, read_line=_read_line,
        header=[one_line(line) for line in trust_lines(project_trust(store))],
        values=chosen)
    click.echo(f"Review by {coder}: {summary}")


def _parse_values(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in values:
        dim, sep, value = (part.strip() for part in raw.partition("="))
        if not sep or not dim or not value:
            raise InputError(f"--value {raw!r} is not DIM=VALUE; write it as, for example, "
                             "--value phase=late.")
        if dim in out and out[dim] != value:
            raise InputError(f"--value gives dimension {dim!r} twice ({out[dim]!r} and "
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
               "undone", "undoes", "model_id", "item_key")


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
                 e["model_id"] or "", e["item_key"] or ""] for e in entries]
        click.echo(safe_csv_rows([list(LOG_COLUMNS), *rows]), nl=False)
        return
    for e in entries:
        where = f"{e['document']}#{e['segment_index']}" if e["document"] else ""
        what = ", ".join(e["codes"] or []) if e["codes"] is not None else ""
        values = "".join(f" | {dim}={value}" for dim, value in sorted(e["values"].items()))
        flag = " (undone)" if e["undone"] else ""
        click.echo(f"{e['id']:>5} {e['at'][:19]} {e['coder']:<12} {e['action']:<8} "
                   f"{where:<24} {what}{values}{flag}")
