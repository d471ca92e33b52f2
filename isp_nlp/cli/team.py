"""`isp-nlp team add-coder|list|remove`: who works on a PostgreSQL project, and as what."""

from __future__ import annotations

import json

import click

from isp_nlp.cli.common import FORMATS, echo_wrapped, open_store
from isp_nlp.ingest.controls import one_line
from isp_nlp.store.team import (
    DEFAULT_ROLE,
    ROLES,
    add_member,
    members,
    remove_member,
)


@click.group()
def team() -> None:
    """Give people database roles on a PostgreSQL project: owner, coder or viewer.

    The server enforces them: coders record decisions, codes and memos only as
    themselves and cannot see other coders' codes on an open blind audit; viewers
    read only. Run by the project's owner.
    """


@team.command("add-coder")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default=DEFAULT_ROLE, show_default=True,
              help="owner: everything; coder: review and code; viewer: read and report.")
@click.option("--password-prompt", is_flag=True,
              help="Ask for a password for NAME (sent to the server already hashed). "
                   "Without it the server's own authentication (pg_hba.conf, "
                   "certificates) decides how NAME logs in.")
@click.pass_context
def add_coder(ctx, name: str, role: str, password_prompt: bool) -> None:
    """Give NAME the project's ROLE (and only it), creating NAME's login if absent."""
    store = open_store(ctx)
    password = None
    if password_prompt:
        password = click.prompt(f"Password for {one_line(name)}", hide_input=True,
                                confirmation_prompt=True)
    added = add_member(store, name, role, password=password)
    made = "created and made" if added["created"] else "made"
    echo_wrapped(one_line(f"{added['name']} {made} {added['role']} of this project; they "
                          "connect with the project's URL under their own user name "
                          f"(postgresql://{added['name']}@HOST/DATABASE, or PGUSER)."))


@team.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def team_list(ctx, fmt: str) -> None:
    """List the project's team: each member and their role."""
    people = members(open_store(ctx))
    if fmt == "json":
        click.echo(json.dumps(people, indent=2, ensure_ascii=False))
        return
    if not people:
        click.echo("No team yet; add people with `isp-nlp team add-coder NAME`.")
    for person in people:
        click.echo(one_line(f"{person['role']:<7} {person['name']}"))


@team.command("remove")
@click.argument("name")
@click.pass_context
def team_remove(ctx, name: str) -> None:
    """Take NAME off the project's team (their login and their rows stay)."""
    if remove_member(open_store(ctx), name):
        echo_wrapped(one_line(f"{name} is off the project's team; their decisions and codes "
                              "stay, under their name."))
    else:
        echo_wrapped(one_line(f"{name} was not on the project's team; nothing changed."))
