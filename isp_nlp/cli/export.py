"""`isp-nlp export`: the project as a REFI-QDA .qdpx, or its codebook as a .qdc."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from isp_nlp.cli.common import InputError, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.interchange.offsets import TOOL_UNITS, UNITS
from isp_nlp.project import dimensions_text, export_project_codebook

FORMATS = ("qdpx", "qdc")


@click.command("export")
@click.option("--format", "fmt", default=None, metavar="qdpx|qdc",
              help="qdpx: transcripts, coders, codebook and codings; qdc: the codebook "
                   "only. Default: the suffix of --out.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="The file to write (.qdpx or .qdc); its folder must exist.")
@click.option("--include-suggestions", is_flag=True,
              help="Add the latest model's suggestions, as codings of the user "
                   "'isp-nlp model <id>' (qdpx only).")
@click.option("--pseudonymised-only", is_flag=True,
              help="Refuse unless `isp-nlp pseudonymise` has processed every transcript "
                   "and nothing exported holds a name of its key (needs --key).")
@click.option("--key", "key_path", type=click.Path(path_type=Path),
              help="The key the last `isp-nlp pseudonymise` run wrote (with "
                   "--pseudonymised-only); read, never exported.")
@click.option("--for", "tool", type=click.Choice(list(TOOL_UNITS)), default=None,
              help="The tool that will read the file; positions are written in its units "
                   "(NVivo: UTF-16 code units; the others: code points). Default: the tool "
                   "the project was imported from, else code points.")
@click.option("--positions", type=click.Choice(list(UNITS)), default=None,
              help="Write selection positions in these units, whatever --for says.")
@click.pass_context
def export(ctx, fmt: str | None, out: Path, include_suggestions: bool,
           pseudonymised_only: bool, key_path: Path | None, tool: str | None,
           positions: str | None) -> None:
    """Export for NVivo, ATLAS.ti, MAXQDA, QualCoder (REFI-QDA).

    `--format qdpx` writes a project archive: every transcript as UTF-8 text,
    every coder as a user, the codebook (each single-choice dimension as a
    non-codable code, named by the dimension, holding its values), and every
    coded span and labelled annotation as a coding
    whose selection says its provenance (human, assisted, blind, consensus,
    model). Positions are in the units the target tool reads (`--for`,
    `--positions`). Beside it goes isp-nlp's own state, so importing the file
    into isp-nlp restores the project exactly. `--format qdc` writes the codebook alone,
    like `isp-nlp codebook export`. The file appears only when complete.
    `--pseudonymised-only --key KEY` checks, before writing, that every transcript was
    pseudonymised and that nothing in the archive still holds a name of the key.
    """
    from isp_nlp.interchange.refi_export import check_out_path, require_pseudonymised, write_qdpx

    if pseudonymised_only and key_path is None:
        store = open_store(ctx)  # say first what is not pseudonymised at all
        require_pseudonymised(store, store.transcript_texts())
        raise InputError("--pseudonymised-only needs --key KEY, the key the last `isp-nlp "
                         "pseudonymise` run wrote, to check that no listed name is left")
    if key_path is not None and not pseudonymised_only:
        raise InputError("--key is read only with --pseudonymised-only; add that flag or "
                         "leave out --key")
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InputError(f"unknown export format '{fmt}'; use --format qdpx (a project "
                         "archive) or --format qdc (the codebook)")
    if fmt == "qdc":
        if include_suggestions:
            raise InputError("--include-suggestions applies to --format qdpx only; a .qdc "
                             "holds the codebook alone")
        cb = export_project_codebook(open_store(ctx), check_out_path(out, ".qdc"))
        click.echo(one_line(f"Wrote {out}: {len(cb.codes)} codes; {dimensions_text(cb)}"))
        return
    r = write_qdpx(open_store(ctx), out, include_suggestions=include_suggestions,
                   pseudonymised_only=pseudonymised_only, key=key_path, tool=tool,
                   positions=positions)
    by = ", ".join(f"{p} {n}" for p, n in r.codings.items()) or "none"
    click.echo(f"Wrote {r.path} ({r.size:,} bytes)")
    dims = "".join(f" + {name} ({n} values)" for name, n in r.dimensions)
    click.echo(textwrap.fill(one_line(f"{r.sources} transcripts, {r.users} users, {r.codes} "
                                      f"codes{dims}, {r.selections} selections"),
                             80, initial_indent="  ", subsequent_indent="    ",
                             break_on_hyphens=False, break_long_words=False))
    click.echo(f"  {sum(r.codings.values())} codings ({by})")
    unit = "UTF-16 code units" if r.positions == "utf16" else "code points"
    click.echo(f"  positions in {unit}: {r.positions_why} (change: --for, --positions)")
    if r.covered:
        click.echo(f"  {r.covered} segment labels are written once, as the same coder's "
                   "coded spans")
    for note in r.skipped:
        click.echo(f"Warning: {note}", err=True)
