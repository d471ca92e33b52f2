"""`isp-nlp embed`, `train` and `suggest`: the local model path."""

from __future__ import annotations

import click

from isp_nlp.cli.common import echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line


@click.command()
@click.pass_context
def embed(ctx) -> None:
    """Embed every segment with the project's local model (cached)."""
    from isp_nlp.pipeline import embed_project

    r = embed_project(open_store(ctx), progress=True)
    echo_wrapped(f"Embedded {r['segments']} segments with {r['model_id']}: "
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
    """Fit the code and dimension suggesters on the seed codes.

    One single-label suggester per single-choice dimension of the codebook (the stage by
    default); a dimension with too little data is named and left out.

    Probabilities are calibrated on out-of-fold predictions (folds grouped by document).
    With a target agreement (given, or the seed coders' own where segments are
    double-coded) the abstain threshold is certified: `suggest` abstains below it, and
    `review` and the report mark suggestions above it as within the certified range.
    """
    from isp_nlp.pipeline import train_project

    r = train_project(open_store(ctx), folds=folds, target_agreement=target_agreement,
                      progress=True)
    echo_wrapped(f"Trained model {r['model_id']} on {r['segments']} segments coded by "
                 f"{', '.join(map(one_line, r['coders']))}; saved to {one_line(str(r['path']))}")
    learned = r.get("learned_from") or {}
    reviewed = learned.get("assisted", 0) + learned.get("rejected", 0)
    if reviewed:
        _echo(f"Learned from {learned['independent']} coded segments + {reviewed} reviewed "
              f"({learned['assisted']} accepted/relabelled, {learned['rejected']} rejected); "
              f"calibrated and certified on the {learned['independent']} only.")
    how = ("chosen on the out-of-fold suggestions to agree best with the coders"
           if r["code_threshold_from_cv"] else "the default; too few coded segments or codes "
           "to choose one from the out-of-fold suggestions")
    if r["code_labels"]:
        _echo(f"Codes are suggested at probability {r['code_threshold']:.2f} or more ({how}).")
    if r["zero_shot_codes"]:
        unseen = r["zero_shot_codes"]
        shown = ", ".join(unseen[:_SHOWN]) + (f" and {len(unseen) - _SHOWN} more"
                                              if len(unseen) > _SHOWN else "")
        _echo(f"No coder has applied {len(unseen)} code(s) yet ({shown}): suggested "
              "from the codebook's definitions and examples only (zero-shot), each on "
              "about as many segments as a seeded code.")
    names = r.get("dimension_names") or {}
    for dim, got in (r.get("model_human") or {}).items():
        if got.get("mean_kappa") is not None:
            _echo(f"{one_line(names.get(dim, dim))}: out-of-fold kappa with the coders "
                  f"{got['mean_kappa']:.3f} on {got['segments']} segments (mean over "
                  f"{got['coders']} coder(s), before abstaining).")
    for dim, why in (r.get("skipped") or {}).items():
        _echo(f"{one_line(names.get(dim, dim))}: not trained: {why}.")
    for dim, cert in r["certified"].items():
        name = "Codes" if dim == "code" else one_line(names.get(dim, dim))
        if cert["threshold"] is not None:
            _echo(f"{name}: certified threshold {cert['threshold']:.2f}: {cert['reason']} "
                  f"(target from {cert['target_from']}).")
        else:
            _echo(f"{name}: no certified threshold: {cert['reason']}.")
    if not r["certified"]:
        _echo("No certified threshold: no segment is double-coded, so give "
              "--target-agreement A to certify one.")


#: Zero-shot codes named in train's summary before "and N more".
_SHOWN = 5
#: Columns of the per-dimension lines of train and suggest.
WIDTH = 80


def _echo(text: str) -> None:
    echo_wrapped(text)


@click.command()
@click.option("--code-threshold", type=click.FloatRange(0, 1), default=None,
              help="Suggest a code at or above this probability (default: the model's; "
              "a zero-shot code also needs its floor).")
@click.option("--value-threshold", type=click.FloatRange(0, 1), default=None,
              help="Abstain on every dimension's value below this confidence (default: "
              "each dimension's threshold in the model).")
@click.pass_context
def suggest(ctx, code_threshold, value_threshold) -> None:
    """Suggest codes and dimension values for uncoded segments."""
    from isp_nlp.pipeline import suggest_project

    store = open_store(ctx)
    r = suggest_project(store, code_threshold=code_threshold,
                        value_threshold=value_threshold, progress=True)
    echo_wrapped(f"Scored {r['segments']} segments with {r['model_id']}: "
                 f"{r['suggested_codes']} code suggestions")
    codebook = store.codebook()
    for dim in r["dimensions"]:
        found = None if codebook is None else codebook.dimension(dim)
        name = found.name if found is not None and found.name else dim
        _echo(f"{one_line(name)}: abstained on {r['abstained'][dim]}")
