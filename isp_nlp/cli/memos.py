"""`isp-nlp memo`: write or list memos on a segment, a code or a document."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict

import click

from isp_nlp.cli.common import FORMATS, WIDTH, echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.records import Note
from isp_nlp.store.team import recording_coder


@click.command()
@click.argument("text", required=False)
@click.option("--segment", default=None, metavar="ID",
              help="The memo is on this segment (its id, or DOCUMENT#INDEX).")
@click.option("--code", default=None, metavar="X",
              help="The memo is on this code (an id or name, or DIM=VALUE).")
@click.option("--document", default=None, metavar="D",
              help="The memo is on this whole document.")
@click.option("--coder", default=None, envvar="ISP_NLP_CODER", metavar="NAME",
              help="Who writes the memo (or set ISP_NLP_CODER); when listing, only theirs.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help="How memos are listed.")
@click.pass_context
def memo(ctx, text: str | None, segment: str | None, code: str | None, document: str | None,
         coder: str | None, fmt: str) -> None:
    """Write a memo on one segment, code or document, or with no TEXT list its memos.

    The memo is kept as a note (shown by `isp-nlp show`, exported as a REFI-QDA note) and
    logged as a `memo` event under --coder.
    """
    from isp_nlp.analysis.memos import memo_target, memos_on, write_memo

    store = open_store(ctx)
    target = memo_target(store, segment=segment, code=code, document=document)
    if text is not None:
        note = write_memo(store, target, text, recording_coder(store, coder, required=False))
        echo_wrapped(one_line(f"Memo kept on {target.label} by {note.coder}."))
        return
    notes = memos_on(store, target, coder)
    if fmt == "json":
        click.echo(json.dumps({"target": target.kind, "on": target.label,
                               "memos": [asdict(n) for n in notes]},
                              indent=2, ensure_ascii=False))
        return
    for line in format_memos(notes):
        click.echo(line)
    whose = f" by {coder}" if coder else ""
    echo_wrapped(one_line(f"{len(notes)} memo{'s' if len(notes) != 1 else ''}{whose} on "
                          f"{target.label}."))


def format_memos(notes: list[Note]) -> list[str]:
    """Each memo as lines of at most 80 columns: who and when, then its text indented."""
    lines: list[str] = []
    for note in notes:
        when = note.created_at[:16].replace("T", " ")
        head = " · ".join(p for p in (note.coder or "unknown", when) if p)
        if note.start is not None and note.end is not None:
            head += f" · characters {note.start}-{note.end}"
        lines.append(textwrap.shorten(one_line(head), WIDTH, placeholder=" …"))
        lines += textwrap.wrap(one_line(" ".join(note.text.split())), WIDTH,
                               initial_indent="  ", subsequent_indent="  ") or ["  (empty)"]
    return lines
