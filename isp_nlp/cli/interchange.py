"""`isp-nlp import FILE.qdpx|FILE.qde|FILE.qdc [--init DIR]`: a QDA tool's project export."""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.common import coverage_lines, echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.interchange.refi_import import (
    RefiImportOutcome,
    import_refi,
    import_refi_new_project,
)
from isp_nlp.store.folder import DEFAULT_EMBEDDER, EMBEDDERS


def _report(out: RefiImportOutcome) -> None:
    """The import's summary; each line stays one line whatever names the file holds."""
    _say(f"Imported {out.file}" + (f" ({out.origin})" if out.origin else ""))
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(out.skipped.items()))
    left = f", {len(out.left_out)} left out" if out.left_out else ""
    _say(f"  sources: {len(out.added)} added, {len(out.unchanged)} unchanged, "
         f"{len(out.missing)} missing{left}" + (f", skipped {skipped}" if skipped else ""))
    for name, why in out.missing:
        _say(f"    missing '{name}': {why}")
    if out.left_out:
        _say(_left_out(out.left_out))
    _say(f"  codebook: {out.codebook}, {out.codes} codes in the file, "
         f"{out.codes_added} added")
    if out.coders:
        _say(f"  coders: {', '.join(out.coders)} ({out.coders_added} new)")
    mapping = ", ".join(f"{n} {kind}" for kind, n in out.mapping.items())
    if out.from_state:
        mapping = ""
    _say(f"  codings: {out.codings} imported ({out.codings_added} new), "
         f"{out.codings_skipped} skipped" + (f"; {mapping}" if mapping else ""))
    if out.from_state:
        _say(f"  our own export: segments, annotations, provenance as written; "
             f"{out.log_restored} log rows")
    for r in out.readings:
        _say(f"    '{r.document}': read as {r.reading}; {r.inside_word} of "
             f"{2 * r.selections} ends mid-word")
    for line in coverage_lines(out.coverage):
        _say(line)
    _say(f"  annotations changed: {out.annotations_changed}; notes: {out.notes} "
         f"({out.notes_added} new)")
    if out.attributes:
        _say(f"  document attributes: {out.attributes} value(s) ({out.attributes_set} new "
             "or changed; `isp-nlp attributes` lists them)")
    for warning in out.warnings:
        _say(f"Warning: {warning}", err=True)


def _say(line: str, err: bool = False) -> None:
    echo_wrapped(one_line(line), err=err)


def _left_out(left_out: tuple[tuple[str, str], ...]) -> str:
    """One line: the sources not read from disk, grouped by why."""
    by_why: dict[str, list[str]] = {}
    for name, why in left_out:
        by_why.setdefault(why, []).append(f"'{name}'")
    parts = [f"{', '.join(names)} ({why})" for why, names in by_why.items()]
    noun = "source" if len(left_out) == 1 else "sources"
    return f"  left out {len(left_out)} {noun}: " + "; ".join(parts)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--init", "init_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Create a project in DIR and import into it (removed again "
              "if the import fails).")
@click.option("--embedder", type=click.Choice(list(EMBEDDERS)), default=DEFAULT_EMBEDDER,
              show_default=True, help="Embedder of the project made with --init.")
@click.option("--sources-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding source files the project names outside its archive "
              "(absolute:// or relative:// paths); only .txt files inside it are read.")
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, init_dir: Path | None, embedder: str,
               sources_dir: Path | None) -> None:
    """Import a REFI-QDA project (.qdpx, .qde) or codebook (.qdc) from NVivo, ATLAS.ti,
    MAXQDA, QualCoder ...: sources, codebook, users, codings and notes, all or nothing.
    Source files are read only from inside the archive (or the sources/ folder beside a
    .qde), and from --sources-dir when given.
    """
    if init_dir is not None:
        outcome = import_refi_new_project(init_dir, file, embedder=embedder,
                                          sources_dir=sources_dir)
    else:
        outcome = import_refi(open_store(ctx), file, sources_dir=sources_dir)
    _report(outcome)
