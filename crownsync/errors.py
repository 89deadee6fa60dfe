"""Errors a user can act on, and the one place that turns them into a line and a hint.

Every command (``python -m ingestion``, ``orchestration.run``, ``serving``,
``crownsync.warehouse``, ``crownsync.dbt``, ``simulator``) runs its ``main`` through
:func:`cli`: a :class:`UserError` (bad configuration, a server that cannot be reached,
a refused password, a missing folder) prints ``error: …`` and ``hint: …`` on stderr and
exits 2; Ctrl-C prints one line and exits 130. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., int])

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """Something the user can fix: ``message`` says what, ``hint`` says how."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(UserError):
    """A setting is malformed or names something that does not exist."""


class ConnectionFailed(UserError):
    """A database could not be reached or refused the login.

    ``transient`` is True when retrying may help (refused, timed out, starting up), False
    for a wrong password or a missing database.
    """

    def __init__(self, message: str, hint: str | None = None, *, transient: bool = False):
        super().__init__(message, hint)
        self.transient = transient


def connection_failed(
    what: str, setting: str, parts: dict[str, str], err: Exception
) -> ConnectionFailed:
    """A one-line :class:`ConnectionFailed` for a libpq connection error.

    ``what`` names the database for a person ("the warehouse"), ``setting`` the variable
    that configures it, ``parts`` its host/port/user/database (never the password).
    """
    text = str(err).strip()
    lower = text.lower()
    where = f"{parts.get('host') or 'localhost'}:{parts.get('port') or '5432'}"
    user, database = parts.get("user") or "?", parts.get("database") or "?"
    if "password authentication failed" in lower or "no password supplied" in lower:
        return ConnectionFailed(
            f"{what} at {where} refused the password of user {user!r}",
            f"check the password in {setting}",
        )
    if "does not exist" in lower and "database" in lower:
        return ConnectionFailed(
            f"{what} at {where} has no database {database!r}",
            f"create it, or fix the database name in {setting}",
        )
    if "role" in lower and "does not exist" in lower:
        return ConnectionFailed(
            f"{what} at {where} has no user {user!r}", f"fix the user name in {setting}"
        )
    if "timeout" in lower:
        return ConnectionFailed(
            f"{what} at {where} did not answer in time",
            f"is the host right and reachable? check {setting}",
            transient=True,
        )
    if "starting up" in lower or "shutting down" in lower:
        return ConnectionFailed(
            f"{what} at {where} is starting up or shutting down",
            "try again in a moment",
            transient=True,
        )
    if "refused" in lower or "could not connect" in lower or "no such file" in lower:
        return ConnectionFailed(
            f"cannot reach {what} at {where} (connection refused)",
            f"is the server running? check {setting}",
            transient=True,
        )
    first = text.splitlines()[0] if text else type(err).__name__
    return ConnectionFailed(
        f"cannot connect to {what} at {where}: {first}", f"check {setting}", transient=True
    )


def report(err: UserError) -> None:
    print(f"error: {err.message}", file=sys.stderr)
    if err.hint:
        print(f"hint: {err.hint}", file=sys.stderr)


def cli(main: F) -> F:
    """Decorate a command's ``main(argv) -> int``: user errors and Ctrl-C become one line."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except UserError as err:
            report(err)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            print("interrupted (Ctrl-C): stopped", file=sys.stderr)
            return EXIT_INTERRUPTED

    return wrapper  # type: ignore[return-value]
