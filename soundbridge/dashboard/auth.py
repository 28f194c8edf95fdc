"""Sign-in for the dashboard: sessions, roles per route, CSRF tokens, slowed-down failures.

Accounts live in the graph (:mod:`kg.accounts`). A successful ``POST /api/login`` makes a
session: a random token in an ``HttpOnly``, ``SameSite=Strict`` cookie, and a second random token
for CSRF that the page sends back in the ``X-CSRF-Token`` header of every state-changing request.
Sessions are kept in this process's memory (a restart signs everyone out) and end after
:data:`IDLE_SECONDS` without a request; the account is re-read at most every
:data:`ACCOUNT_TTL` seconds, so a disabled account or a lowered role takes effect at once.

Routes declare what they need as a FastAPI dependency, ``Depends(auth.require("analyst"))``, so
a route without one stands out in review (and a test asks every ``/api`` route for a 401).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import neo4j
from fastapi import HTTPException, Request

from kg.accounts import ROLES, Account, account_key, authenticate, get_account

__all__ = ["COOKIE", "CSRF_COOKIE", "CSRF_HEADER", "Auth", "Session", "SignInBusy"]

COOKIE = "soundbridge_session"
CSRF_COOKIE = "soundbridge_csrf"
CSRF_HEADER = "X-CSRF-Token"
IDLE_SECONDS = 8 * 3600
ACCOUNT_TTL = 5.0
#: Failed sign-ins allowed (per name and per client address) before each further try must wait.
FREE_FAILURES = 5
FAILURE_WINDOW = 15 * 60
MAX_WAIT = 300.0
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
#: Password checks run at once (each takes ~20 MiB and a core for a few tens of milliseconds); the
#: others queue for up to BUSY_WAIT seconds, so a burst of sign-ins cannot exhaust the memory.
CONCURRENT_CHECKS = 2
BUSY_WAIT = 10.0


class SignInBusy(Exception):
    """Too many sign-ins are being checked at once (answered 503 with Retry-After)."""


@dataclass
class Session:
    """One signed-in browser."""

    account: Account
    csrf: str
    last_seen: float
    checked: float


@dataclass
class _Failures:
    count: int = 0
    first: float = 0.0
    last: float = 0.0


@dataclass
class Auth:
    """The dashboard's sessions and sign-in throttle, bound to a driver and a key.

    Args:
        driver: where accounts are read.
        home: ``SOUNDBRIDGE_HOME``, where the password key is (:func:`kg.accounts.account_key`).
        secure_cookies: mark the cookie ``Secure`` (when the dashboard is served over HTTPS).
    """

    driver: neo4j.Driver
    home: Path
    secure_cookies: bool = False
    _sessions: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _checks: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(CONCURRENT_CHECKS)
    )
    _key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = account_key(self.home)
        return self._key

    # -- signing in and out ------------------------------------------------------------------
    def wait_before_login(self, username: str, client: str) -> float:
        """Seconds this name or address must still wait before another try (0: go ahead)."""
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            for k in (f"user:{username}", f"addr:{client}"):
                f = self._failures.get(k)
                if f is None or now - f.first > FAILURE_WINDOW:
                    continue
                if f.count >= FREE_FAILURES:
                    delay = min(MAX_WAIT, 2.0 ** (f.count - FREE_FAILURES))
                    wait = max(wait, f.last + delay - now)
            return max(0.0, wait)

    def login(self, username: str, password: str, client: str) -> tuple[str, Session] | None:
        """Check the password; on success a new session ``(token, session)``, else ``None``.

        Raises:
            SignInBusy: more sign-ins are being checked than :data:`CONCURRENT_CHECKS` and none
                finished within :data:`BUSY_WAIT` seconds.
        """
        if not self._checks.acquire(timeout=BUSY_WAIT):
            raise SignInBusy(
                f"too many sign-ins are being checked at once; try again in {BUSY_WAIT:.0f} s"
            )
        try:
            account = authenticate(self.driver, username, password, key=self.key)
        finally:
            self._checks.release()
        now = time.monotonic()
        with self._lock:
            if account is None:
                for k in (f"user:{username}", f"addr:{client}"):
                    f = self._failures.get(k)
                    if f is None or now - f.first > FAILURE_WINDOW:
                        f = self._failures[k] = _Failures(first=now)
                    f.count += 1
                    f.last = now
                return None
            self._failures.pop(f"user:{username}", None)
            token = secrets.token_urlsafe(32)
            session = Session(account, secrets.token_urlsafe(32), now, now)
            self._sessions[token] = session
            return token, session

    def logout(self, token: str | None) -> None:
        """End the session of ``token`` (nothing when there is none)."""
        if token:
            with self._lock:
                self._sessions.pop(token, None)

    def session(self, token: str | None) -> Session | None:
        """The live session of ``token``, with its account re-read when stale; else ``None``."""
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(token)
            if session is None or now - session.last_seen > IDLE_SECONDS:
                self._sessions.pop(token, None)
                return None
            session.last_seen = now
            stale = now - session.checked > ACCOUNT_TTL
        if stale:
            account = get_account(self.driver, session.account.username)
            with self._lock:
                if account is None or account.disabled:
                    self._sessions.pop(token, None)
                    return None
                session.account = account
                session.checked = now
        return session

    # -- the route dependency ----------------------------------------------------------------
    def require(self, role: str) -> Callable[[Request], Account]:
        """A FastAPI dependency: the signed-in account if it has ``role``.

        Answers 401 without a live session, 403 when the role is too low, and 403 for a
        state-changing request (POST, PUT, PATCH, DELETE) without the session's CSRF token.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")

        def dependency(request: Request) -> Account:
            session = self.session(request.cookies.get(COOKIE))
            if session is None:
                raise HTTPException(401, "sign in first (POST /api/login)")
            if request.method not in _SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not secrets.compare_digest(sent, session.csrf):
                    raise HTTPException(
                        403,
                        f"missing or wrong CSRF token: send the {CSRF_HEADER} header that "
                        "/api/login and /api/session return",
                    )
            if not session.account.can(role):
                raise HTTPException(
                    403,
                    f"this needs the {role} role; {session.account.username} is "
                    f"{session.account.role} (an admin can change that)",
                )
            request.state.account = session.account
            return session.account

        return dependency
