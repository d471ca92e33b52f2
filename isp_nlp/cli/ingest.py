"""`isp-nlp ingest`: read and segment transcripts into the project."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import open_store
from isp_nlp.project import ingest_files


@click.command()
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
