"""Pieces shared by the command modules: errors → exit 2, opening the project, printing.

Terminal safety lives here: :meth:`Group.main` (what the console script and click's test
runner call) wraps stdout and stderr for the whole command in :class:`TerminalStream`,
so every line any command prints passes through
:func:`isp_nlp.ingest.controls.terminal_text`; error messages are one line
(:func:`isp_nlp.ingest.controls.one_line`).
"""

from __future__ import annotations

import errno
import importlib
import json
import sys
import textwrap
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

import click

from isp_nlp import __version__
from isp_nlp.coded.spans import Coverage
from isp_nlp.errors import ImportCodesError, IspNlpError
from isp_nlp.ingest.controls import one_line, terminal_text
from isp_nlp.store.backend import is_connection_lost
from isp_nlp.store.connection import lock_timeout
from isp_nlp.store.database import Store, project_db
from isp_nlp.store.decisions import lost_connection_error
from isp_nlp.store.failures import DATABASE_ERRORS, explain_database_error
from isp_nlp.store.folder import open_project

#: Where a user reports a genuine bug (a traceback that is not their mistake).
BUG_REPORTS = "https://github.com/isp-nlp/isp-nlp/issues"

FORMATS = click.Choice(["table", "json"])


class LibraryChoice(click.Choice):
    """A choice among the values a library module defines, imported only when the option
    is parsed or its help shown, so building the command group imports no heavy module."""

    def __init__(self, module: str, name: str) -> None:
        self._source = (module, name)
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        module, name = self._source
        return tuple(getattr(importlib.import_module(module), name))

    @choices.setter
    def choices(self, _: Any) -> None:
        """The values are the module's; click's own assignment is ignored."""


class InputError(click.ClickException):
    """A user/input error: one line on stderr, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:  # noqa: D102 - one line, no traceback
        click.echo(f"Error: {one_line(self.format_message())}", err=True, file=file)


class TerminalStream:
    """A text stream passing everything written through :func:`terminal_text`.

    It has no ``buffer`` and refuses bytes, so click cannot go around it to the binary
    stream beneath (click would do so for a stream it thinks misconfigured). Characters
    the stream's encoding lacks are replaced rather than raising.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        safe = terminal_text(text)
        try:
            self._inner.write(safe)
        except UnicodeEncodeError:
            encoding = getattr(self._inner, "encoding", None) or "ascii"
            self._inner.write(safe.encode(encoding, "replace").decode(encoding))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._inner, name)


class Group(click.Group):
    """Maps domain exceptions to :class:`InputError`; every command's output is made safe
    for the terminal (:class:`TerminalStream`)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        out, err = sys.stdout, sys.stderr
        wrapped = [s if isinstance(s, TerminalStream) or s is None else TerminalStream(s)
                   for s in (out, err)]
        sys.stdout, sys.stderr = wrapped[0], wrapped[1]
        try:
            return super().main(*args, **kwargs)
        finally:
            for stream in wrapped:
                try:
                    if stream is not None:
                        stream.flush()
                except (OSError, ValueError):  # a closed pipe: nothing more to show
                    pass
            sys.stdout, sys.stderr = out, err

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportCodesError as exc:
            # The message names the first problem and any header problem (line 1); the
            # rows are listed only when there are several.
            rows = [p for p in exc.problems if not p.startswith("line 1:")]
            for problem in (rows[:50] if len(rows) > 1 else ()):
                click.echo(f"  {one_line(problem)}", err=True)
            if len(rows) > 50:
                click.echo(f"  … and {len(rows) - 50} more", err=True)
            raise InputError(str(exc)) from None
        except IspNlpError as exc:
            raise InputError(str(exc)) from None
        except DATABASE_ERRORS as exc:
            obj = ctx.obj or {}
            store = obj.get("store")
            if is_connection_lost(exc) and isinstance(store, Store):
                raise InputError(str(lost_connection_error(store, obj.get("coder")))) from None
            folder = obj.get("project", Path("."))
            raise InputError(str(explain_database_error(
                exc, project_db(folder), waited=lock_timeout()))) from None
        except OSError as exc:
            raise InputError(_os_message(exc)) from None
        except MemoryError:
            raise InputError(
                "ran out of memory: the input is larger than this machine can hold; split it "
                "into smaller files, or run on a machine with more memory") from None
        except RecursionError:
            raise InputError(
                "the input is nested too deeply to read (thousands of levels); it is not a "
                "file a QDA tool or editor writes: check that it is the file you meant") from None
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            raise InputError(f"{exc.format_message()} (see `{where} --help`)") from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception:
            for line in traceback.format_exc().splitlines():
                click.echo(line, err=True)
            click.echo(f"This is a bug in isp-nlp {__version__}, not a mistake of yours; "
                       f"please report it at {BUG_REPORTS} with the command you ran and the "
                       "lines above.", err=True)
            raise click.exceptions.Exit(1) from None


def _os_message(exc: OSError) -> str:
    """One line for a file-system error, naming the file."""
    name = getattr(exc, "filename", None) or ""
    if exc.errno == errno.ENOSPC:
        return (f"{name}: the disk is full; free some space and run the command again"
                .lstrip(": "))
    return f"{name}: {exc.strerror or exc}".lstrip(": ")


def open_store(ctx: click.Context) -> Store:
    """The project named by ``--project``, closed when the command ends (and kept in
    ``ctx.obj["store"]``, for the message if its server goes away)."""
    store = open_project(ctx.obj["project"])
    store.on_wait = _announce_wait
    ctx.obj["store"] = store
    ctx.call_on_close(store.close)
    return store


def _announce_wait(timeout: float) -> None:
    click.echo(f"Waiting for another isp-nlp process to finish writing to the project "
               f"(up to {timeout:g} s; ISP_NLP_LOCK_TIMEOUT changes it) …", err=True)


def emit(data: Mapping[str, Any], fmt: str) -> None:
    """Print ``data`` as JSON or as aligned ``key: value`` lines (each value on its line)."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        for key, value in data.items():
            if isinstance(value, list | tuple):
                value = ", ".join(map(str, value))
            click.echo(f"{key:>18}: {one_line(str(value))}")


#: Columns a command's summary lines fit in (continuations indented by two).
WIDTH = 80


def echo_wrapped(text: str, err: bool = False) -> None:
    """``text`` as lines of at most :data:`WIDTH` columns (to stderr when ``err``), keeping
    its leading indent and indenting continuations two more; a word longer than a line
    (a path) stays whole."""
    indent = text[:len(text) - len(text.lstrip(" "))]
    for line in textwrap.wrap(text.strip(), WIDTH, initial_indent=indent,
                              subsequent_indent=indent + "  ", break_on_hyphens=False,
                              break_long_words=False):
        click.echo(line, err=err)


def coverage_lines(coverage: Sequence[Coverage]) -> list[str]:
    """An import's coded region per coder and document (up to each coder's last coding),
    one line each after a heading; none when nothing was coded."""
    if not coverage:
        return []
    return ["  coded region (to each coder's last coding; later segments stay uncoded):"] + [
        one_line(f"    {c.coder} in '{c.document}': {c.share:.0%} of the text, "
                 f"{c.seen_segments} of {c.segments} segments") for c in coverage]
