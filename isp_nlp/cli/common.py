"""Pieces shared by the command modules: errors → exit 2, opening the project, printing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

import click

from isp_nlp.errors import ImportCodesError, IspNlpError
from isp_nlp.project import open_project
from isp_nlp.store.database import Store

FORMATS = click.Choice(["table", "json"])


class InputError(click.ClickException):
    """A user/input error: one line on stderr, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:  # noqa: D102 - one line, no traceback
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


class Group(click.Group):
    """Maps domain exceptions to :class:`InputError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportCodesError as exc:
            for problem in exc.problems[:50]:
                click.echo(f"  {problem}", err=True)
            if len(exc.problems) > 50:
                click.echo(f"  … and {len(exc.problems) - 50} more", err=True)
            raise InputError(str(exc)) from None
        except IspNlpError as exc:
            raise InputError(str(exc)) from None
        except OSError as exc:
            name = getattr(exc, "filename", None) or ""
            raise InputError(f"{name}: {exc.strerror or exc}".lstrip(": ")) from None


def open_store(ctx: click.Context) -> Store:
    """The project named by ``--project``, closed when the command ends."""
    store = open_project(ctx.obj["project"])
    ctx.call_on_close(store.close)
    return store


def emit(data: Mapping[str, Any], fmt: str) -> None:
    """Print ``data`` as JSON or as aligned ``key: value`` lines."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        for key, value in data.items():
            if isinstance(value, list | tuple):
                value = ", ".join(map(str, value))
            click.echo(f"{key:>18}: {value}")
