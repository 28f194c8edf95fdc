"""``soundbridge users add | list | disable``: the dashboard's accounts, for operators.

Whoever can run these can already reach the graph with its Neo4j credentials (``NEO4J_*``, or the
local server's password file): that is the operator's check. Passwords are read from standard
input when it is not a terminal (one line), else prompted twice without echo; never from an
argument, which would land in the shell's history and the process list.
"""

from __future__ import annotations

import json
import sys

import click

from kg.accounts import ROLES, account_key, add_account, disable_account, list_accounts
from kg.config import Neo4jSettings, soundbridge_home
from kg.connection import connect

__all__ = ["users"]


@click.group("users")
def users() -> None:
    """Accounts for the dashboard: viewer < analyst < expert < admin."""


def _read_password() -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise click.UsageError("no password on standard input (give it as one line)")
        return line.rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("add")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(ROLES), required=True, help="What the account may do (see docs)."
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="CULTURE",
    help="For experts: a culture they answer for (id or exact name; repeatable).",
)
def add_cmd(name: str, role: str, scopes: tuple[str, ...]) -> None:
    """Create account NAME (password from standard input, or prompted)."""
    password = _read_password()
    with connect(Neo4jSettings.from_env()) as driver:
        account = add_account(
            driver, name, password, role, key=account_key(soundbridge_home()), scopes=scopes
        )
    where = f" for {', '.join(account.scopes)}" if account.scopes else ""
    click.echo(f"added {account.username} ({account.role}{where})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
def list_cmd(as_json: bool) -> None:
    """List the accounts (never their passwords)."""
    with connect(Neo4jSettings.from_env()) as driver:
        accounts = list_accounts(driver)
    if as_json:
        click.echo(json.dumps([a.to_dict() for a in accounts], indent=2))
        return
    if not accounts:
        click.echo(
            "no accounts yet; create the first admin with: soundbridge users add NAME --role admin"
        )
        return
    width = max(len(a.username) for a in accounts)
    for a in accounts:
        state = "disabled" if a.disabled else "active"
        scopes = f"  scopes: {', '.join(a.scopes)}" if a.scopes else ""
        click.echo(
            f"{a.username:<{width}}  {a.role:<8} {state:<8} created {a.created[:19]}{scopes}"
        )


@users.command("disable")
@click.argument("name")
def disable_cmd(name: str) -> None:
    """Disable account NAME: it cannot sign in any more and its sessions end."""
    with connect(Neo4jSettings.from_env()) as driver:
        account = disable_account(driver, name)
    click.echo(f"disabled {account.username}")
