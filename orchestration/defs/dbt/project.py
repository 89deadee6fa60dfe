"""The one DbtProject of the code location.

dagster-dbt needs ``target/manifest.json`` to build the asset graph. In ``dagster dev``
``prepare_if_dev()`` refreshes it; everywhere else (``make run``, ``make ui``, tests, a fresh
clone) :func:`ensure_manifest` parses the project once when the manifest is missing or older
than the project's files, so no manual ``dbt parse`` is ever needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from crownsync.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

crownsync_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=PROJECT_ROOT)


def _newest_source_mtime() -> float:
    newest = 0.0
    for folder in ("models", "snapshots", "macros", "tests", "seeds"):
        for path in (DBT_PROJECT_DIR / folder).rglob("*"):
            if path.suffix in {".sql", ".yml", ".yaml", ".csv"}:
                newest = max(newest, path.stat().st_mtime)
    return max(newest, (DBT_PROJECT_DIR / "dbt_project.yml").stat().st_mtime)


def ensure_manifest(project: DbtProject = crownsync_dbt_project) -> Path:
    """Parse the dbt project if its manifest is missing or stale. Returns the manifest path."""
    manifest = project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
        return manifest
    dbt = Path(sys.executable).parent / "dbt"
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    result = subprocess.run(
        [str(dbt), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    if result.returncode != 0 or not manifest.exists():
        raise RuntimeError(
            f"dbt parse failed; fix the dbt project first:\n{result.stdout}\n{result.stderr}"
        )
    return manifest


crownsync_dbt_project.prepare_if_dev()
ensure_manifest()
