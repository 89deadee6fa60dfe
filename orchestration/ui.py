"""``make ui``: dagster-webserver (127.0.0.1:3000) and dagster-daemon on one storage.

Both processes get the same DAGSTER_HOME (Postgres storage, see orchestration/dagster.yaml)
and the same settings. Ctrl-C (or SIGTERM) stops both and waits for them: no orphans.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from crownsync.dbt import prepare_manifest
from crownsync.errors import cli
from crownsync.settings import PROJECT_ROOT, get_settings
from crownsync.warehouse import embedded
from crownsync.warehouse.databases import ensure_project_databases
from orchestration.instance import prepare_dagster_home

BIN = Path(sys.executable).parent


def _stop(processes: list[subprocess.Popen], timeout: float = 20) -> None:
    for proc in processes:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.ui", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="default: UI_PORT, else 3000")
    args = parser.parse_args(argv)

    settings = get_settings()
    args.port = args.port or settings.ui_port
    if settings.uses_embedded_server:
        embedded.start(settings.warehouse_pg_dir, settings.warehouse_pg_port)
    ensure_project_databases(settings)
    env = {**os.environ, **prepare_dagster_home(settings), "PYTHONPATH": str(PROJECT_ROOT)}
    prepare_manifest()
    target = ["-m", "orchestration.definitions", "-d", str(PROJECT_ROOT)]
    commands = [
        [str(BIN / "dagster-webserver"), "-h", args.host, "-p", str(args.port), *target],
        [str(BIN / "dagster-daemon"), "run", *target],
    ]
    processes = [
        subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, start_new_session=True) for cmd in commands
    ]
    print(
        f"Dagster UI on http://{args.host}:{args.port} (webserver pid {processes[0].pid}, "
        f"daemon pid {processes[1].pid}); Ctrl-C stops both",
        flush=True,
    )

    stopping = False

    def _on_signal(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        while not stopping:
            if any(proc.poll() is not None for proc in processes):
                print("a Dagster process exited; stopping the other one", file=sys.stderr)
                break
            time.sleep(0.5)
    finally:
        _stop(processes)
    print("Dagster webserver and daemon stopped")
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
