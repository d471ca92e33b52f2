"""`isp-nlp evaluate` (classifier-agreement study on coded CSVs) and `isp-nlp next-to-code`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from isp_nlp.cli.common import FORMATS, InputError, open_store
from isp_nlp.errors import ImportCodesError, IspNlpError
from isp_nlp.store.database import Store
from isp_nlp.store.files import atomic_write_text, check_output


def _ks(value: str | None) -> list[int | None]:
    if not value:
        return [None]
    try:
        ks = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise InputError(f"--seed-per-label is '{value}'; expected whole numbers separated by "
                         "commas, e.g. 8,32,128.") from None
    if not ks or ks[0] < 1:
        raise InputError(f"--seed-per-label is '{value}'; expected numbers of 1 or more.")
    return list(ks)


def _domain(exc: IspNlpError) -> InputError:
    if isinstance(exc, ImportCodesError):
        for problem in exc.problems[:20]:
            click.echo(f"  {problem}", err=True)
    return InputError(str(exc))


@click.command()
@click.argument("coded", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--train", type=click.Path(dir_okay=False, path_type=Path),
              help="Coded-segments CSV to draw seeds from.")
@click.option("--test", type=click.Path(dir_okay=False, path_type=Path),
              help="Coded-segments CSV to score (ideally several coders).")
@click.option("--folds", type=int, help="With one CODED.csv: cross-validate grouped by document.")
@click.option("--seed-per-label", "seed_per_label", metavar="K[,K...]",
              help="Seeds per label; several give a learning curve. Default: all of TRAIN.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--label-column", metavar="NAME", default="code", show_default=True,
              help="Column of the labels: code (multi-label or single-label), or any "
              "single-choice column such as stage (one value per segment; spellings read by "
              "the --codebook dimension of that name, or the default stage dimension).")
@click.option("--multi-label/--single-label", "multi_label", default=None,
              help="Score any number of codes per segment, or one. Default: multi-label when "
              "some coder gave a segment several codes.")
@click.option("--target-agreement", type=float, metavar="A",
              help="Certify the confidence threshold whose suggestions agree with the coders "
              "at least this share of the time (chosen on the seeds only, 90 % confidence). "
              "Default: the seed coders' own percent agreement where seeds are double-coded.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--embedder", type=click.Choice(["minilm", "hashing-256"]), default="minilm",
              show_default=True)
@click.option("--cache", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite file to cache embeddings in (created if absent).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--codebook", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Codebook YAML: each label's definition and examples join the model "
              "(single-label studies).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON result here (e.g. <project>/evaluation.json).")
def evaluate(coded, train, test, folds, seed_per_label, repeats, label_column, multi_label,
             target_agreement, fmt, embedder, cache, seed, codebook, out) -> None:
    """Does the suggester agree with your coders as well as they agree with each other?

    Either --train TRAIN.csv --test TEST.csv, or CODED.csv --folds N (folds grouped by
    document). Writing --out <project>/evaluation.json feeds the project report. With
    --codebook, 30 % of each prediction comes from the similarity to the codebook's
    definition and examples of each label, which helps most with few seeds.

    The result shows risk–coverage: for every confidence threshold, the share of segments
    covered and, on the same segments, model–human beside human–human agreement;
    parity_coverage is the largest coverage at which the model agrees with the coders as
    often as they agree with each other. In the CSV, a row with an empty code is that
    coder's "no code"; a coder with no row for a segment did not code it.
    """
    from isp_nlp.pipeline import make_embedder
    from isp_nlp.suggest.evaluate import StudyConfig, evaluate_files

    if coded is not None and (train or test):
        raise InputError("give either CODED.csv with --folds, or --train and --test, not both.")
    if coded is None and folds:
        raise InputError("--folds needs one CODED.csv argument.")
    if out is not None and out.parent.is_dir():  # a missing folder is created at the end
        check_output(out, "--out")
    config = StudyConfig(seed_per_label=_ks(seed_per_label), repeats=repeats, seed=seed,
                         label_column=label_column, multi_label=multi_label, folds=folds,
                         target_agreement=target_agreement)
    try:
        store_cache = None
        if cache is not None:

            store_cache = Store.create(cache).embedding_cache()
        steps = sum(1 if k is None else repeats for k in config.seed_per_label)
        with click.progressbar(length=steps, label="Fitting and scoring", file=sys.stderr,
                               hidden=not sys.stderr.isatty()) as bar:
            result = evaluate_files(train, test, coded=coded, config=config,
                                    embedder=make_embedder(embedder), cache=store_cache,
                                    codebook=codebook, progress=lambda _m: bar.update(1))
    except IspNlpError as exc:
        raise _domain(exc) from None
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, text + "\n", what="--out")
    if fmt == "json":
        click.echo(text)
        return
    for line in result.get("read_as") or []:
        click.echo(f"Read {line}", err=True)
    click.echo(format_evaluation(result))


def _f(x) -> str:
    return "   –  " if x is None else f"{x:6.3f}"


def format_evaluation(result: dict) -> str:
    """Human-readable summary: agreement side by side, learning curve, per label, verdict."""
    hh, mh = result["human_human"], result["model_human"]
    k = mh["seed_per_label"]
    lines = [f"Test units: {result['n_test_units']}   labels: {', '.join(result['labels'])}   "
             f"seeds per label: {'all' if k is None else k}",
             "", f"{'':28}{'kappa':>8}{'alpha':>8}",
             f"{'human-human (mean pair)':28}{_f(hh['mean_pairwise_kappa']):>8}"
             f"{_f(hh['krippendorff_alpha']):>8}",
             f"{'model-human (mean coder)':28}{_f(mh['mean_kappa']):>8}"
             f"{_f(mh['krippendorff_alpha_with_model']):>8}",
             f"macro F1 {_f(mh['macro_f1']).strip()}, accuracy {_f(mh['accuracy']).strip()} "
             "(vs the majority label)"]
    if result.get("codebook"):
        cb = result["codebook"]
        lines.append(f"codebook {cb['path']}: {cb['prototype_weight']:.0%} of each prediction "
                     "from its definitions and examples (0 % in a fit where they alone do "
                     "not beat chance on the seeds)")
    if len(result["learning_curve"]) > 1:
        lines += ["", "Learning curve (K per label: mean kappa ± sd)"]
        lines += [f"  K={c['seed_per_label']:<5} {_f(c['mean_kappa'])} ± {c['sd']:.3f}"
                  for c in result["learning_curve"]]
    lines += ["", f"{'label':24}{'prec':>8}{'recall':>8}{'F1':>8}{'support':>9}"]
    for lab, m in result["per_label"].items():
        lines.append(f"{lab[:23]:24}{_f(m['precision']):>8}{_f(m['recall']):>8}"
                     f"{_f(m['f1']):>8}{m['support']:>9}")
    lines += ["", *format_risk_coverage(result)]
    lines += ["", f"Fit + predict: {result['timing']['fit_predict_seconds_per_repeat']:.2f} s "
              "per repeat", "", "Verdict: " + verdict(result)]
    return "\n".join(lines)


@click.command("next-to-code")
@click.option("--n", "n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def next_to_code(ctx, n: int, fmt: str, seed: int) -> None:
    """Uncoded segments to hand-code next: the model is unsure and they are unlike coded ones."""
    from isp_nlp.pipeline import next_to_code as choose

    try:
        rows = choose(open_store(ctx), n, seed=seed)
    except IspNlpError as exc:
        raise _domain(exc) from None
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("Every codable segment has a human code already.")
        return
    for i, r in enumerate(rows, 1):
        text = " ".join(r["text"].split())
        text = text if len(text) <= 70 else text[:69] + "…"
        click.echo(f"{i:>3}. {r['document']} #{r['segment_index']} [{r['speaker'] or '—'}] "
                   f"score {r['score']:.3f}: {text}")
        click.echo(f"     {r['reason']}")


def _p(x) -> str:
    return "   –  " if x is None else f"{x:6.1%}"


def format_risk_coverage(result: dict) -> list[str]:
    """The risk–coverage table, parity coverage, calibration error and certified threshold."""
    lines = ["Risk–coverage (suggest when confidence ≥ t; agreement on the same segments)",
             f"  {'t':>5}{'coverage':>10}{'model–human':>13}{'human–human':>13}"
             f"{'kappa m–h':>11}{'kappa h–h':>11}  parity"]
    for r in result["risk_coverage"]:
        flag = {True: "yes", False: "no", None: "–"}[r["parity"]]
        lines.append(f"  {r['threshold']:5.2f}{r['coverage']:10.2f}"
                     f"{_p(r['model_human_agreement']):>13}{_p(r['human_human_agreement']):>13}"
                     f"{_f(r['model_human_kappa']):>11}{_f(r['human_human_kappa']):>11}  {flag}")
    pc = result.get("parity_coverage")
    lines.append("Parity coverage: " + ("undefined (one coder in TEST: model–coder agreement "
                                        "only)" if pc is None else f"{pc:.0%} of segments"))
    ece = result["model_human"].get("ece")
    lines.append(f"Expected calibration error: {'–' if ece is None else f'{ece:.3f}'}")
    cert = result.get("certified") or {}
    if cert.get("threshold") is not None:
        parity = {True: "parity held", False: "parity did not hold",
                  None: "no human–human baseline"}[cert["parity"]]
        lines.append(f"Certified threshold {cert['threshold']:.2f} (target "
                     f"{cert['target']:.1%}, {cert['confidence']:.0%} confidence, chosen on "
                     f"TRAIN): covers {cert['coverage']:.0%} of TEST, model–human "
                     f"{_p(cert['model_human_agreement']).strip()} vs human–human "
                     f"{_p(cert['human_human_agreement']).strip()}: {parity}.")
    else:
        lines.append(f"No certified threshold: {cert.get('reason') or 'not requested'}.")
    return lines


def verdict(result: dict) -> str:
    """One line comparing model-human with human-human agreement."""
    mh = result["model_human"]["mean_kappa"]
    hh = result["human_human"]["mean_pairwise_kappa"]
    if mh is None:
        return "model-human kappa is undefined on this test set."
    if hh is None:
        return f"model-human kappa {mh:.2f} (one coder in TEST: no human-human baseline)."
    gap = mh - hh
    where = ("at or above human agreement" if gap >= 0 else
             f"below human agreement by {-gap:.2f}")
    return f"model-human kappa {mh:.2f} vs human-human {hh:.2f}: {where}."
