"""`isp-nlp certify`: certify the latest model's threshold again on a wave's blind audit."""

from __future__ import annotations

import json

import click

from isp_nlp.cli.common import FORMATS, echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.suggest.wave_text import wave_sentences


@click.command()
@click.option("--audit", "audit_id", type=int, default=None, metavar="ID",
              help="The audit whose blind codes certify (default: the latest audit).")
@click.option("--target", type=float, default=None, metavar="A",
              help="Agreement to certify, e.g. 0.8 (default: each target's agreement in "
                   "the seeds' certificate).")
@click.option("--confidence", type=float, default=None, metavar="C",
              help="Confidence with which the target must hold (default: train's, 0.9).")
@click.option("--coder", default="isp-nlp", show_default=True,
              help="Who certifies (recorded in the audit trail).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def certify(ctx, audit_id: int | None, target: float | None, confidence: float | None,
            coder: str, fmt: str) -> None:
    """Certify the latest model's suggestion threshold on an audit's blind codes.

    The seeds' certificate (from `isp-nlp train`) holds for segments like the seeds.
    This runs the same fixed-sequence exact binomial test on the blind codes of an
    audit of the segments the model is used on (`isp-nlp audit draw`, then `isp-nlp
    review --blind --audit ID`), for the codes and each dimension; stores a
    certificate per target and logs a `certify` event. When the wave differs from the
    seeds it says by how many agreement points, and how many more blind-coded audit
    segments would settle it. `review`, `status`, `precode` and the report show the
    latest wave certificate.
    """
    from isp_nlp.suggest.certify import CONFIDENCE
    from isp_nlp.suggest.wave_certify import certify_wave

    store = open_store(ctx)
    result = certify_wave(store, audit_id=audit_id, target=target,
                          level=CONFIDENCE if confidence is None else confidence,
                          coder=coder)
    if fmt == "json":
        click.echo(json.dumps({"model_id": result.model_id, "audit_id": result.audit_id,
                               "audit_size": result.audit_size, "uncoded": result.uncoded,
                               "targets": list(result.targets),
                               "corrections": result.corrections},
                              indent=2, ensure_ascii=False))
        return
    echo_wrapped(one_line(
        f"Model {result.model_id} on audit {result.audit_id}: {result.audit_size} segments, "
        f"{result.audit_size - result.uncoded} coded blind, {result.uncoded} still uncoded "
        "(uncoded segments are not covered)."))
    for row in result.targets:
        for sentence in wave_sentences({**row, "audit_id": result.audit_id}):
            echo_wrapped(one_line(sentence))
    if result.corrections_text:
        echo_wrapped(one_line(f"Corrections on the audit's segments: "
                              f"{result.corrections_text}."))
    if result.uncoded:
        echo_wrapped(f"Code the rest with `isp-nlp review --blind --coder NAME --audit "
                     f"{result.audit_id}`, then certify again.")
