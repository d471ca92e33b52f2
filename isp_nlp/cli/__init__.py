"""The ``isp-nlp`` command line: a thin layer over the library, one module per command group.

Each command parses options, calls one library function and prints its
result. Domain errors (:class:`isp_nlp.errors.IspNlpError`) become a one-line
message and exit status 2. Heavy modules (torch, sentence-transformers,
spaCy) are imported only by the commands that embed or segment. This module
only assembles the group, and imports a command's module only when it is used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from isp_nlp.cli.common import Group

#: Each command's name → the ``module:attribute`` of its click command, in the order of the
#: original single-module CLI (``isp-nlp --help`` sorts by name anyway). A command's module
#: is imported only when that command runs (or help lists them all), so ``isp-nlp review``
#: does not pay for the imports of ``import``, ``report`` or ``agreement`` at start-up.
COMMANDS: dict[str, str] = {
    "init": "project:init", "ingest": "ingest:ingest", "codebook": "codebook:codebook",
    "import-codes": "codes:import_codes_cmd", "export-codes": "codes:export_codes_cmd",
    "embed": "suggester:embed", "train": "suggester:train", "suggest": "suggester:suggest",
    "review": "review:review", "log": "review:log", "report": "report:report",
    "status": "project:status", "demo": "project:demo", "agreement": "agreement:agreement",
    "pathways": "analysis:pathways", "disagreements": "analysis:disagreements",
    "resolve": "analysis:resolve", "evaluate": "evaluate:evaluate",
    "next-to-code": "evaluate:next_to_code", "precode": "precode:precode",
    "import": "interchange:import_cmd", "export": "export:export",
    "import-excerpts": "sheets:import_excerpts_cmd", "export-sheet": "sheets:export_sheet_cmd",
    "pseudonymise": "privacy:pseudonymise", "check": "project:check", "backup": "project:backup",
    "export-suggestions": "batch:export_suggestions_cmd",
    "import-decisions": "batch:import_decisions_cmd", "audit": "audit:audit",
    "export-segments": "codes:export_segments_cmd", "remove": "ingest:remove",
    "show": "analysis:show", "certify": "certify:certify", "memo": "memos:memo",
    "attributes": "attributes:attributes", "team": "team:team", "push": "transfer:push",
    "pull": "transfer:pull",
}


def load_command(name: str) -> click.Command:
    """The click command ``name`` (a key of :data:`COMMANDS`), importing its module."""
    module, _, attribute = COMMANDS[name].partition(":")
    command = getattr(importlib.import_module(f"isp_nlp.cli.{module}"), attribute)
    if not isinstance(command, click.Command) or command.name != name:
        raise TypeError(f"COMMANDS[{name!r}] names {command!r}, not the command {name!r}")
    return command


def all_commands() -> dict[str, click.Command]:
    """Every command by name, all modules imported (for help, docs and tests)."""
    return {name: load_command(name) for name in COMMANDS}


class LazyGroup(Group):
    """The top-level group: commands are loaded by name when first used (click's
    documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            self.add_command(load_command(cmd_name))
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    cli(prog_name="isp-nlp")


if __name__ == "__main__":  # pragma: no cover
    main()
