"""The ``isp-nlp`` command line: a thin layer over the library, one module per command group.

Each command parses options, calls one library function and prints its
result. Domain errors (:class:`isp_nlp.errors.IspNlpError`) become a one-line
message and exit status 2. Heavy modules (torch, sentence-transformers,
spaCy) are imported only by the commands that embed or segment. This module
only assembles the group.
"""

from __future__ import annotations

from pathlib import Path

import click

from isp_nlp.cli.agreement import agreement
from isp_nlp.cli.analysis import disagreements, pathways, resolve, show
from isp_nlp.cli.audit import audit
from isp_nlp.cli.batch import export_suggestions_cmd, import_decisions_cmd
from isp_nlp.cli.certify import certify
from isp_nlp.cli.codebook import codebook
from isp_nlp.cli.codes import export_codes_cmd, export_segments_cmd, import_codes_cmd
from isp_nlp.cli.common import Group
from isp_nlp.cli.evaluate import evaluate, next_to_code
from isp_nlp.cli.export import export
from isp_nlp.cli.ingest import ingest, remove
from isp_nlp.cli.interchange import import_cmd
from isp_nlp.cli.precode import precode
from isp_nlp.cli.privacy import pseudonymise
from isp_nlp.cli.project import backup, check, demo, init, status
from isp_nlp.cli.report import report
from isp_nlp.cli.review import log, review
from isp_nlp.cli.sheets import export_sheet_cmd, import_excerpts_cmd
from isp_nlp.cli.suggester import embed, suggest, train


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--project", "project", type=click.Path(file_okay=False, path_type=Path),
              envvar="ISP_NLP_PROJECT", default=".", show_default=True,
              help="Project folder (or set ISP_NLP_PROJECT).")
@click.version_option(package_name="isp-nlp")
@click.pass_context
def cli(ctx: click.Context, project: Path) -> None:
    """isp-nlp: suggest qualitative codes for interview transcripts, locally.

    Typical flow: init → codebook load → ingest → import-codes → train →
    suggest → review → agreement → report. `isp-nlp demo` runs it all on the
    bundled synthetic corpus.
    """
    ctx.ensure_object(dict)
    ctx.obj["project"] = project


#: In the order of the original single-module CLI (``isp-nlp --help`` sorts by name anyway).
COMMANDS: tuple[click.Command, ...] = (
    init, ingest, codebook, import_codes_cmd, export_codes_cmd, embed, train, suggest,
    review, log, report, status, demo, agreement, pathways, disagreements, resolve,
    evaluate, next_to_code, precode, import_cmd, export, import_excerpts_cmd,
    export_sheet_cmd, pseudonymise, check, backup, export_suggestions_cmd,
    import_decisions_cmd, audit, export_segments_cmd, remove, show, certify,
)
for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="isp-nlp")


if __name__ == "__main__":  # pragma: no cover
    main()
