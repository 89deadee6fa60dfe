"""Run real dbt against a scratch warehouse database from a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crownsync.settings import PROJECT_ROOT, dbt_env, get_settings

DBT = Path(sys.executable).parent / "dbt"


def dbt_env_for(warehouse_url: str) -> dict[str, str]:
    """The environment the project's entry points give dbt, for a scratch warehouse."""
    settings = get_settings().model_copy(update={"database_url": warehouse_url})
    return {**os.environ, **dbt_env(settings), "DBT_PROFILES_DIR": str(PROJECT_ROOT)}


def run_dbt(
    args: list[str], warehouse_url: str, target_path: Path, check: bool = True
) -> subprocess.CompletedProcess:
    """``dbt <args>`` on ``warehouse_url``, with a private target dir (tests run in parallel)."""
    cmd = [
        str(DBT),
        *args,
        "--project-dir",
        str(PROJECT_ROOT / "dbt_project"),
        "--target-path",
        str(target_path),
    ]
    env = {**dbt_env_for(warehouse_url), "DBT_LOG_PATH": str(target_path / "logs")}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
        )
    return result
