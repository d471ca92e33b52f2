"""`isp-nlp audit draw|list`: seeded random samples of uncoded segments, to code blind."""

from __future__ import annotations

import json

import click

from isp_nlp.cli.common import FORMATS, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.review.audit import draw_audit


@click.group()
def audit() -> None:
    """Draw and list audit samples: random uncoded segments to code blind."""


@audit.command("draw")
@click.option("--n", "n", type=int, required=True, help="How many segments to draw.")
@click.option("--document", "documents", multiple=True, metavar="DOC",
              help="Draw only from this document; repeatable (default: every document).")
@click.option("--seed", type=int, default=None,
              help="Random seed; the same seed on the same project draws the same segments "
                   "(default: a new one, recorded).")
@click.pass_context
def audit_draw(ctx, n: int, documents: tuple[str, ...], seed: int | None) -> None:
    """Draw N codable segments no person has coded, stratified by document.

    Uniform over every uncoded codable segment, suggested or not; each document gets its
    proportional share (largest remainder, so the shares sum to N). The sample, its seed
    and time are recorded; code it with `isp-nlp review --blind --audit ID`.
    """
    store = open_store(ctx)
    drawn = draw_audit(store, n, documents=documents, seed=seed)
    click.echo(f"Audit {drawn.id}: {len(drawn.segment_ids)} segments drawn with seed "
               f"{drawn.seed}; code them with `isp-nlp review --blind --coder NAME "
               f"--audit {drawn.id}`.")


@audit.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def audit_list(ctx, fmt: str) -> None:
    """List the audit samples drawn: id, time, seed, N and documents."""
    audits = open_store(ctx).audits()
    if fmt == "json":
        click.echo(json.dumps(audits, indent=2, ensure_ascii=False))
        return
    if not audits:
        click.echo("No audits yet; draw one with `isp-nlp audit draw --n N`.")
    for a in audits:
        docs = ", ".join(a["documents"]) or "all documents"
        click.echo(one_line(f"{a['id']:>4} {a['created_at'][:19]} seed {a['seed']} "
                            f"n {a['n']} ({a['segments']} segments) {docs}"))
