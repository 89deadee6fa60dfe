"""The dbt launcher: dbt against the configured warehouse, and its prepared manifest.

``python -m crownsync.dbt <dbt args>`` sets the ``DBT_PG_*`` variables that ``profiles.yml``
reads (derived from ``DATABASE_URL`` or the embedded server, see
:func:`crownsync.settings.dbt_env`) and points dbt at ``dbt_project/`` and the root
``profiles.yml``. ``python -m crownsync.dbt prepare`` only (re)parses the project when its
manifest is missing or older than the project's files — what every entry point that loads
the Dagster definitions calls first, so importing the definitions never runs dbt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from crownsync.errors import cli
from crownsync.settings import PROJECT_ROOT, dbt_env, get_settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
PARSE_TIMEOUT_S = 600
_SOURCE_FOLDERS = ("models", "snapshots", "macros", "tests", "seeds")


def dbt_executable() -> Path:
    return Path(sys.executable).parent / "dbt"


def dbt_environment() -> dict[str, str]:
    """The environment for a dbt process: this one's, plus the warehouse's DBT_PG_*."""
    env = {**os.environ, **dbt_env(get_settings())}
    env.setdefault("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    env.setdefault("DBT_PROJECT_DIR", str(DBT_PROJECT_DIR))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def _newest_source_mtime() -> float:
    newest = (DBT_PROJECT_DIR / "dbt_project.yml").stat().st_mtime
    for folder in _SOURCE_FOLDERS:
        for path in (DBT_PROJECT_DIR / folder).rglob("*"):
            if path.suffix in {".sql", ".yml", ".yaml", ".csv"}:
                newest = max(newest, path.stat().st_mtime)
    return newest


def manifest_is_current() -> bool:
    return MANIFEST_PATH.exists() and MANIFEST_PATH.stat().st_mtime >= _newest_source_mtime()


class DbtParseError(RuntimeError):
    pass


def prepare_manifest() -> Path:
    """Parse the dbt project if its manifest is missing or stale. Returns the manifest path."""
    if manifest_is_current():
        return MANIFEST_PATH
    command = [str(dbt_executable()), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--quiet"]
    try:
        result = subprocess.run(
            command,
            env=dbt_environment(),
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            timeout=PARSE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise DbtParseError(f"dbt parse did not finish within {PARSE_TIMEOUT_S} s") from None
    if result.returncode != 0 or not MANIFEST_PATH.exists():
        raise DbtParseError(
            f"dbt parse failed; fix the dbt project first:\n{result.stdout}\n{result.stderr}"
        )
    return MANIFEST_PATH


SERVER_STOP_TIMEOUT_S = 10


def serve(command: list[str]) -> int:
    """Run a dbt server command (``docs serve``) until Ctrl-C, then stop it quietly.

    dbt runs in its own session, so Ctrl-C reaches only this process, which stops dbt with
    SIGTERM (no KeyboardInterrupt traceback) and exits 0: stopping a server is its end.
    """
    child = subprocess.Popen(command, env=dbt_environment(), start_new_session=True)
    try:
        return child.wait()
    except KeyboardInterrupt:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=SERVER_STOP_TIMEOUT_S)
        print("\ndbt docs server stopped", file=sys.stderr)
        return 0


@cli
def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["prepare"]:
        try:
            print(f"dbt manifest: {prepare_manifest()}")
        except DbtParseError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    dbt = str(dbt_executable())
    if args[:2] == ["docs", "serve"]:
        return serve([dbt, *args])
    os.execve(dbt, [dbt, *args], dbt_environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
