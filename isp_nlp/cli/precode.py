"""`isp-nlp precode`: pre-code a new interview wave with a trained project's model."""

from __future__ import annotations

import shlex
import textwrap
from pathlib import Path

import click

from isp_nlp.cli.common import InputError
from isp_nlp.ingest.controls import one_line
from isp_nlp.suggest.trust import trust_lines


@click.command()
@click.argument("wave_dir", type=click.Path(path_type=Path))
@click.option("--from", "source", required=True, type=click.Path(path_type=Path),
              help="The seed project whose latest trained model pre-codes the wave.")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the wave project and its files (created if needed).")
@click.option("--unit", type=click.Choice(["turn", "sentence", "paragraph"]), default="turn",
              show_default=True, help="Segmentation unit.")
@click.option("--max-chars", type=click.IntRange(min=50), default=2000, show_default=True,
              help="Split longer turns at sentence boundaries.")
@click.option("--skip-speakers", default="", metavar="NAME,...",
              help="Speakers kept as context but not coded, e.g. Interviewer.")
def precode(wave_dir: Path, source: Path, out_dir: Path, unit: str, max_chars: int,
            skip_speakers: str) -> None:
    """Ingest every transcript in WAVE_DIR, suggest codes and dimension values with the seed
    project's model, and write OUT/summary.html, OUT/suggestions.csv and OUT/wave.qdpx,
    each opening with whether to trust the model (certified or not, seed size, kappa).

    OUT is itself a project: coders can review the suggestions with
    `isp-nlp --project OUT review`. A file that cannot be read is reported and skipped,
    and so is an entry that is not a plain file (a pipe, a device, a link out of WAVE_DIR);
    the exit status is 0 when every file was pre-coded, 1 when some were skipped, and
    2 when nothing could be done (no transcripts, no trained model).
    """
    from isp_nlp.precode.wave import precode_wave
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is not a folder (a file, device or pipe); give "
                         "the path of a new or existing folder for the wave")
    skip = [s.strip() for s in skip_speakers.split(",") if s.strip()]
    outcome = precode_wave(wave_dir, source, out_dir, unit=unit, max_chars=max_chars,
                           skip_speakers=skip, progress=True)
    for line in trust_lines(outcome.trust):
        click.echo(one_line(line))
    for t in outcome.transcripts:
        for warning in t.warnings:
            _say(f"Warning: {one_line(t.name)}: {one_line(warning)}", err=True)
        left_open = "".join(
            f", {one_line(name)} left open on {'—' if share is None else f'{share:.0%}'}"
            for name, share in outcome.left_open.get(t.document, ()))
        _say(f"pre-coded  {one_line(t.name)}: {t.codable} codable segments, "
             f"{sum(n for _, n in t.code_counts)} code suggestions{left_open}")
    for f in outcome.failed:
        _say(f"   skipped  {one_line(f.path)}: {one_line(f.reason)}", err=True)
    _say(f"Pre-coded {len(outcome.transcripts)} transcripts with model {outcome.model_id} "
         f"({outcome.segments_scored} segments scored); {len(outcome.failed)} skipped.", indent=2)
    for kind, path in outcome.outputs.items():
        click.echo(f"Wrote {path} ({kind})")
    if outcome.transcripts:
        _say("Next, certify the model on this wave: draw an audit of its segments, code it "
             "blind, then certify (the id is what `audit draw` prints):", indent=2)
        for step in audit_commands(outcome.out_dir, [t.document for t in outcome.transcripts],
                                   sum(t.codable for t in outcome.transcripts)):
            _say(one_line(f"  {step}"), indent=4)
    if outcome.failed:
        raise click.exceptions.Exit(1)


#: Segments `precode` proposes to audit per wave (at most the wave's codable segments):
#: enough for the certificate's test to pass at the default targets when most agree.
AUDIT_SIZE = 40


def audit_commands(project: Path, documents: list[str], codable: int) -> list[str]:
    """The commands that draw an audit of ``documents`` in the wave project, code it blind
    and certify the model on it."""
    where = f"isp-nlp --project {shlex.quote(str(project))}"
    docs = " ".join(f"--document {shlex.quote(d)}" for d in documents)
    n = max(1, min(AUDIT_SIZE, codable))
    return [f"{where} audit draw --n {n} {docs}",
            f"{where} review --blind --coder NAME --audit ID",
            f"{where} certify --audit ID"]


def _say(text: str, *, err: bool = False, indent: int = 11) -> None:
    """``text`` wrapped at 80 columns, continuation lines indented (past the label)."""
    click.echo(textwrap.fill(text, 80, subsequent_indent=" " * indent, break_on_hyphens=False,
                             break_long_words=False), err=err)
