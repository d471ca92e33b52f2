"""`isp-nlp pseudonymise`: replace people's names in the project's transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from isp_nlp.cli.common import FORMATS, open_store
from isp_nlp.store.backend import POSTGRES, dialect


@click.command()
@click.option("--names", "names_csv", type=click.Path(path_type=Path),
              help="CSV with columns name[,pseudonym][,kind][,person].")
@click.option("--key", "key_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the key (real name → pseudonym); outside the project.")
@click.option("--detect-names", is_flag=True,
              help="Also find PERSON names with the spaCy pipeline en_core_web_sm (if installed).")
@click.option("--show-key", is_flag=True,
              help="Also print the key, with the real names (not for a shared screen).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def pseudonymise(ctx, names_csv, key_path, detect_names, show_key, fmt) -> None:
    """Replace people's names in every transcript, consistently, before sharing.

    Names listed in names.csv and speaker labels (except roles such as Interviewer,
    Speaker 2, Q, A) become pseudonyms (P01, [Colleague 1], ...) in the texts, segments,
    speakers, suggestions' evidence and notes; codings keep covering the same words. The
    key is written to --key (mode 0600; refused inside the project) and reused by the next
    run, so a later wave keeps the same pseudonyms (--key alone reuses its names). Output
    shows documents and pseudonyms only, unless --show-key. All changes are made in one
    transaction.
    """
    from isp_nlp.interchange.pseudonymise import pseudonymise_project
    store = open_store(ctx)
    report = pseudonymise_project(store, ctx.obj["project"], names_csv, key_path,
                                  detect_names=detect_names)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(show_key=show_key), indent=2, ensure_ascii=False))
        return
    for doc in report.documents:
        detail = ", ".join(f"{p} {n}" for p, n in doc.by_pseudonym.items()) or "no names found"
        click.echo(f"{doc.replacements:>6}  {doc.label}: {detail}")
    c = report.changed
    click.echo(f"{sum(d.replacements for d in report.documents)} replacements of "
               f"{report.people} people in {c['documents']} changed documents; "
               f"{c['segments']} segment ids, {c['codings']} codings, {c['notes']} notes "
               f"updated; {c['embeddings_deleted']} stale embeddings deleted")
    if report.detected:
        click.echo(f"{report.detected} names were found by --detect-names; check them in the key")
    if report.unfound_lines:  # by line: the names themselves are never printed
        n = len(report.unfound_lines)
        lines = ", ".join(map(str, report.unfound_lines[:20])) + (
            f" and {n - 20} more" if n > 20 else "")
        click.echo(f"Warning: {n} name{'s' if n > 1 else ''} in {names_csv.name} "
                   f"({'lines' if n > 1 else 'line'} {lines}) "
                   f"{'were' if n > 1 else 'was'} not found in any transcript; check the "
                   f"spelling (the key lists {'them' if n > 1 else 'it'} with count 0)",
                   err=True)
    if report.named_documents:
        click.echo(f"Warning: {report.named_documents} document names hold a listed name and "
                   "were not renamed; rename those files and ingest them again before sharing",
                   err=True)
    if report.stale_models and dialect(store.conn) == POSTGRES:
        click.echo("Warning: the trained models in the project's database (and in each "
                   "machine's model cache) hold segment texts from before pseudonymising; run "
                   "`isp-nlp train` and `isp-nlp suggest` again before sharing the database",
                   err=True)
    elif report.stale_models:
        click.echo("Warning: trained models under models/ hold segment texts from before "
                   "pseudonymising; run `isp-nlp train` and `isp-nlp suggest` again, and delete "
                   "the old model folders before sharing the project folder", err=True)
    click.echo(f"Key: {report.key_path} (keep it apart from the project)")
    if show_key:
        for row in report.key:
            click.echo(f"{row['pseudonym']:>16}  {row['name']} ({row['kind'] or 'person'}, "
                       f"{row['count']})")
