"""`isp-nlp ingest` (read and segment transcripts into the project) and `remove`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from isp_nlp.cli.common import InputError, echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.project import ingest_files, remove_document


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--unit", type=click.Choice(["turn", "sentence", "paragraph"]), default="turn",
              show_default=True, help="Segmentation unit.")
@click.option("--max-chars", type=click.IntRange(min=50), default=2000, show_default=True,
              help="Split longer turns at sentence boundaries.")
@click.option("--skip-speakers", default=None, metavar="NAME,...",
              help="Speakers kept as context but not coded, e.g. Interviewer "
                   "(case-insensitive; each must be a speaker of these files; "
                   "'' codes everyone again).")
@click.option("--replace", is_flag=True, help="Replace a changed file already ingested.")
@click.pass_context
def ingest(ctx, files, unit, max_chars, skip_speakers, replace) -> None:
    """Read transcripts (.txt/.md, .vtt, .srt, .sbv, .docx) and segment them.

    All files are read first; if any fails, nothing is stored. Speaker labels
    as people and transcription services write them are read (``Name:``,
    ``[00:01:02] Name:``, Rev ``Name (00:03):``, Otter/Teams ``Name  0:03``
    headings, Teams .vtt voice tags and .docx); a warning is printed when a
    file seems to have fewer than two speakers or one turn holds most of it.
    A misspelt --skip-speakers name stops the run (exit 2) with the speakers
    found. Ingesting an unchanged file again with --skip-speakers applies it
    to the stored segments ("updated"); ids and codes are kept; without the
    option the stored flags stay.
    """

    skip = None if skip_speakers is None else [s.strip() for s in skip_speakers.split(",")]
    for o in ingest_files(open_store(ctx), files, unit=unit, max_chars=max_chars,
                          skip_speakers=skip, replace=replace):
        for warning in o.warnings:
            click.echo(f"Warning: {warning}", err=True)
        echo_wrapped(f"{o.outcome:>9}  {o.document}: {o.n_turns} turns, {o.n_segments} "
                     f"segments ({o.n_codable} codable); speakers: "
                     f"{', '.join(o.speakers) or '—'}")


@click.command()
@click.argument("document")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def remove(ctx, document: str, yes: bool) -> None:
    """Remove a document with its segments, codes, notes and suggestions.

    All or nothing, recorded in the log (`isp-nlp log`); the log keeps the decisions
    made on it. Asks first unless --yes.
    """
    store = open_store(ctx)
    shown = one_line(document)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(f"removing '{shown}' cannot be undone; add --yes to confirm.")
        click.confirm(f"Remove '{shown}' and every code on it? This cannot be undone",
                      abort=True)
    n = remove_document(store, document)
    echo_wrapped(f"Removed '{shown}': {n['segments']} segments, {n['annotations']} "
                 f"annotations, {n['codings']} coded spans, {n['notes']} notes, "
                 f"{n['suggestions']} suggestions; its {n['decisions']} decisions stay "
                 "in the log.")
