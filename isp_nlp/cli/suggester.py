"""`isp-nlp embed`, `train` and `suggest`: the local model path."""

from __future__ import annotations

import click

from isp_nlp.cli.common import open_store
from isp_nlp.ingest.controls import one_line


@click.command()
@click.pass_context
def embed(ctx) -> None:
    """Embed every segment with the project's local model (cached)."""
    from isp_nlp.pipeline import embed_project

    r = embed_project(open_store(ctx), progress=True)
    click.echo(f"Embedded {r['segments']} segments with {r['model_id']}: "
               f"{r['encoded']} new, {r['cached']} from cache")


@click.command()
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Folds for the out-of-fold predictions used in agreement.")
@click.option("--target-agreement", type=float, metavar="A",
              help="Certify the abstain threshold: suggestions at or above it agree with the "
              "seed coders at least this share of the time (90 % confidence, out-of-fold). "
              "Default: the seed coders' own percent agreement on double-coded segments.")
@click.pass_context
def train(ctx, folds: int, target_agreement: float | None) -> None:
    """Fit the code and stage suggesters on the human seed codes.

    Probabilities are calibrated on out-of-fold predictions (folds grouped by document).
    With a target agreement (given, or the seed coders' own where segments are
    double-coded) the abstain threshold is certified: `suggest` abstains below it, and
    `review` and the report mark suggestions above it as within the certified range.
    """
    from isp_nlp.pipeline import train_project

    r = train_project(open_store(ctx), folds=folds, target_agreement=target_agreement,
                      progress=True)
    click.echo(f"Trained model {r['model_id']} on {r['segments']} segments coded by "
               f"{', '.join(map(one_line, r['coders']))}; saved to {r['path']}")
    how = ("chosen on the out-of-fold suggestions to agree best with the coders"
           if r["code_threshold_from_cv"] else "the default; too few coded segments or codes "
           "to choose one from the out-of-fold suggestions")
    click.echo(f"Codes are suggested at probability {r['code_threshold']:.2f} or more ({how}).")
    if r["zero_shot_codes"]:
        unseen = r["zero_shot_codes"]
        shown = ", ".join(unseen[:_SHOWN]) + (f" and {len(unseen) - _SHOWN} more"
                                              if len(unseen) > _SHOWN else "")
        click.echo(f"No coder has applied {len(unseen)} code(s) yet ({shown}): suggested "
                   "from the codebook's definitions and examples only (zero-shot), each on "
                   "about as many segments as a seeded code.")
    for dim, cert in r["certified"].items():
        if cert["threshold"] is not None:
            click.echo(f"Certified {dim} threshold {cert['threshold']:.2f}: {cert['reason']} "
                       f"(target from {cert['target_from']}).")
        else:
            click.echo(f"No certified {dim} threshold: {cert['reason']}.")
    if not r["certified"]:
        click.echo("No certified threshold: no segment is double-coded, so give "
                   "--target-agreement A to certify one.")


#: Zero-shot codes named in train's summary before "and N more".
_SHOWN = 5


@click.command()
@click.option("--code-threshold", type=click.FloatRange(0, 1), default=None,
              help="Suggest a code at or above this probability (default: the model's; "
              "a zero-shot code also needs its floor).")
@click.option("--stage-threshold", type=click.FloatRange(0, 1), default=None,
              help="Abstain on the stage below this probability (default: the model's).")
@click.pass_context
def suggest(ctx, code_threshold, stage_threshold) -> None:
    """Suggest codes and a stage for every segment without human codes."""
    from isp_nlp.pipeline import suggest_project

    r = suggest_project(open_store(ctx), code_threshold=code_threshold,
                        stage_threshold=stage_threshold, progress=True)
    stage = (f", stage abstained on {r['stage_abstained']}"
             if r.get("has_stage", True) else "")
    click.echo(f"Scored {r['segments']} segments with {r['model_id']}: "
               f"{r['suggested_codes']} code suggestions{stage}")
