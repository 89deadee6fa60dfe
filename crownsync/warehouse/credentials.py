"""The embedded server's superuser password: where it lives, how it is read and written.

Every embedded cluster (the dev server ``.warehouse/pgdata``, each test server
``.warehouse/test-pgdata-<port>``, any ``WAREHOUSE_PG_DIR``) has its own password, generated
when the cluster is made (or migrated, see :mod:`crownsync.warehouse.embedded`) and kept in a file
*next to* the data dir: ``<data_dir>.superuser-password`` (e.g.
``.warehouse/pgdata.superuser-password``), mode 0600, owned by the OS user who runs the
project's tools. It is never in the repository (``.warehouse/`` is git-ignored).

This module imports nothing heavy: :mod:`crownsync.settings` reads the password through it
to build the embedded server's URL.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SUPERUSER = "postgres"
PASSWORD_FILE_SUFFIX = ".superuser-password"


class CredentialsError(RuntimeError):
    pass


def superuser_password_file(data_dir: Path) -> Path:
    """``<data_dir>.superuser-password``, a sibling of the data dir (not inside it)."""
    data_dir = Path(data_dir)
    return data_dir.with_name(data_dir.name + PASSWORD_FILE_SUFFIX)


def generate_password() -> str:
    """A new random password; URL-safe, so it goes into connection URLs unquoted."""
    return secrets.token_urlsafe(32)


def read_superuser_password(data_dir: Path) -> str | None:
    """The password of the cluster in ``data_dir``; None when there is no password file."""
    path = superuser_password_file(data_dir)
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise CredentialsError(
            f"Cannot read {path}: the embedded server's superuser password is private to the "
            f"OS user who started it (mode 0600). Run the project's tools as that user, or "
            f"set DATABASE_URL to a login of your own."
        ) from exc
    if not password:
        raise CredentialsError(
            f"{path} is empty. Restore the password, or reset it: see docs/runbook.md "
            f"('The embedded server's password')."
        )
    return password


def write_superuser_password(data_dir: Path, password: str) -> Path:
    """Write the password file atomically with mode 0600; returns its path."""
    path = superuser_password_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (password + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path
