"""People's accounts: who may sign in to the dashboard, and with which role.

Accounts are ``(:Account {username, role, scopes, disabled, password_hash, created})`` nodes in
the graph (a uniqueness constraint on ``username``). The roles are ordered; each can do what the
ones before it can:

============  ================================================================================
``viewer``    browse the graph, search, see recommendations
``analyst``   + the Cypher console and the analyst API (:func:`kg.cypher.run_read`)
``expert``    + the expert's writes (labels, constraints, concepts), within ``scopes``: the ids of
              the cultures the expert answers for
``admin``     + accounts
============  ================================================================================

Passwords are hashed with Argon2id (argon2-cffi) after an HMAC with a secret key kept outside the
graph, in ``$SOUNDBRIDGE_HOME/account-key`` (0600, made on first use): Neo4j Community has no
per-label access control, so whoever can query the graph could read the hashes, and a hash is
worth nothing without that key. Passwords are never logged, stored or returned.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import neo4j.exceptions
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kg import queries as q
from kg.config import load_or_create_password
from loaders.errors import SoundbridgeError

__all__ = [
    "ROLES",
    "Account",
    "AccountError",
    "account_key",
    "add_account",
    "authenticate",
    "count_accounts",
    "disable_account",
    "get_account",
    "list_accounts",
]

#: The roles, from least to most; each includes the ones before it.
ROLES = ("viewer", "analyst", "expert", "admin")

KEY_FILE_NAME = "account-key"
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # Argon2 hashes any length; a cap keeps a huge body from costing the server
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
# OWASP's Argon2id setting (19 MiB, 2 passes, 1 lane): the library's default takes 64 MiB and
# four lanes per check, which let 50 people signing in at once hold 2.5 GB of the dashboard's
# memory for ten seconds. Hashes made with other settings are upgraded at the next sign-in.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the username is unknown, so that an unknown name costs the same time as a
# wrong password and does not tell an attacker which names exist.
_DUMMY_HASH = _HASHER.hash("no account has this password")


class AccountError(SoundbridgeError):
    """An account cannot be made or changed: a bad name, role, scope or password, a name that is
    taken, or an account that does not exist."""


@dataclass(frozen=True)
class Account:
    """One person's account (never its password or hash).

    Args:
        username: lower-case name, 2–32 characters of ``a-z 0-9 . _ -``.
        role: one of :data:`ROLES`.
        scopes: Culture ids an expert answers for (empty for other roles).
        disabled: a disabled account cannot sign in, and its sessions end.
        created: when it was made (ISO 8601).
    """

    username: str
    role: str
    scopes: tuple[str, ...] = ()
    disabled: bool = False
    created: str = ""

    def can(self, role: str) -> bool:
        """Whether this account has ``role`` or a higher one (and is not disabled).

        Examples:
            >>> Account("ana", "analyst").can("viewer"), Account("ana", "analyst").can("expert")
            (True, False)
        """
        return not self.disabled and ROLES.index(self.role) >= ROLES.index(role)

    def to_dict(self) -> dict[str, Any]:
        """The account as JSON-able values."""
        return {
            "username": self.username,
            "role": self.role,
            "scopes": list(self.scopes),
            "disabled": self.disabled,
            "created": self.created,
        }


def account_key(home: Path) -> bytes:
    """The secret key passwords are hashed with, from ``home/account-key`` (made on first use).

    Args:
        home: ``SOUNDBRIDGE_HOME``; every process that signs people in must see the same file.
    """
    return load_or_create_password(home / KEY_FILE_NAME).encode()


def _peppered(password: str, key: bytes) -> str:
    return hmac.new(key, password.encode(), hashlib.sha256).hexdigest()


def _account(record: neo4j.Record | dict[str, Any]) -> Account:
    return Account(
        username=record["username"],
        role=record["role"],
        scopes=tuple(record["scopes"]),
        disabled=bool(record["disabled"]),
        created=record["created"] or "",
    )


def check_username(username: str) -> str:
    """Return ``username`` if it is a valid account name, else raise :class:`AccountError`."""
    if not _USERNAME.match(username):
        raise AccountError(
            f"account name {username!r} is not valid: use 2-32 characters of a-z, 0-9, '.', '_' "
            "and '-', starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    """Return ``password`` if it is long enough and not absurdly long, else raise."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"the password has {len(password)} characters; use at least {MIN_PASSWORD}"
        )
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is longer than {MAX_PASSWORD} characters")
    return password


def add_account(
    driver: neo4j.Driver,
    username: str,
    password: str,
    role: str,
    *,
    key: bytes,
    scopes: Sequence[str] = (),
) -> Account:
    """Create an account.

    Args:
        driver: an open driver.
        username: the new account's name (see :class:`Account`).
        password: at least ten characters; only its hash is stored.
        role: one of :data:`ROLES`.
        key: :func:`account_key`.
        scopes: for an expert, the cultures they answer for: Culture ids or names, each matching
            exactly one Culture node; stored as ids.

    Raises:
        AccountError: a bad name, role, password or scope, or a name already taken.

    Examples:
        >>> # add_account(driver, "rosa", "a long passphrase", "expert", key=k, scopes=["Ewe"])
    """
    check_username(username)
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if scopes and role != "expert":
        raise AccountError(
            f"scopes are for experts; a {role} sees every culture (drop --scope, or use "
            "--role expert)"
        )
    check_password(password)
    ids = _scope_ids(driver, scopes)
    digest = _HASHER.hash(_peppered(password, key))
    driver.execute_query(q.ACCOUNT_CONSTRAINT)
    try:
        records, _, _ = driver.execute_query(
            q.CREATE_ACCOUNT, username=username, role=role, scopes=ids, hash=digest
        )
    except neo4j.exceptions.ConstraintError as e:
        raise AccountError(
            f"an account named {username!r} exists already; pick another name "
            "(`soundbridge users list` shows them)"
        ) from e
    return _account(records[0])


def _scope_ids(driver: neo4j.Driver, names: Sequence[str]) -> list[str]:
    if not names:
        return []
    records, _, _ = driver.execute_query(
        q.FIND_SCOPE_CULTURES, names=list(names), routing_=neo4j.RoutingControl.READ
    )
    ids: list[str] = []
    for r in records:
        if len(r["ids"]) != 1:
            what = "no culture" if not r["ids"] else f"{len(r['ids'])} cultures"
            raise AccountError(
                f"scope {r['name']!r} names {what}; give a Culture id or exact name (list them "
                'with: soundbridge cypher "MATCH (c:Culture) RETURN c.id, c.name, c.level")'
            )
        ids.append(r["ids"][0])
    return sorted(set(ids))


def get_account(driver: neo4j.Driver, username: str) -> Account | None:
    """The account named ``username``, or ``None``."""
    records, _, _ = driver.execute_query(
        q.GET_ACCOUNT, username=username, routing_=neo4j.RoutingControl.READ
    )
    return _account(records[0]) if records else None


def list_accounts(driver: neo4j.Driver) -> list[Account]:
    """Every account, by name."""
    records, _, _ = driver.execute_query(q.LIST_ACCOUNTS, routing_=neo4j.RoutingControl.READ)
    return [_account(r) for r in records]


def count_accounts(driver: neo4j.Driver) -> int:
    """How many accounts exist (disabled ones included)."""
    records, _, _ = driver.execute_query(q.COUNT_ACCOUNTS, routing_=neo4j.RoutingControl.READ)
    return int(records[0]["n"])


def disable_account(driver: neo4j.Driver, username: str) -> Account:
    """Disable an account: it can no longer sign in, and its open sessions end.

    Raises:
        AccountError: no account has that name.
    """
    records, _, _ = driver.execute_query(q.DISABLE_ACCOUNT, username=username)
    if not records:
        raise AccountError(
            f"no account named {username!r} (`soundbridge users list` shows the accounts)"
        )
    return _account(records[0])


def authenticate(
    driver: neo4j.Driver, username: str, password: str, *, key: bytes
) -> Account | None:
    """The account if ``password`` is its password and it is enabled, else ``None``.

    An unknown name, a wrong password and a disabled account all cost one Argon2 verification
    and give the same answer, so the answer says nothing about which names exist.
    """
    if len(password) > MAX_PASSWORD or not _USERNAME.match(username):
        _verify(_DUMMY_HASH, password[:MAX_PASSWORD], key)
        return None
    records, _, _ = driver.execute_query(
        q.GET_ACCOUNT_HASH, username=username, routing_=neo4j.RoutingControl.READ
    )
    if not records:
        _verify(_DUMMY_HASH, password, key)
        return None
    record = records[0]
    if not _verify(record["hash"], password, key) or record["disabled"]:
        return None
    if _HASHER.check_needs_rehash(record["hash"]):
        driver.execute_query(
            q.SET_ACCOUNT_HASH, username=username, hash=_HASHER.hash(_peppered(password, key))
        )
    return _account(record)


def _verify(digest: str, password: str, key: bytes) -> bool:
    try:
        return _HASHER.verify(digest, _peppered(password, key))
    except (VerificationError, InvalidHashError):
        return False
