"""The one DbtProject of the code location.

dagster-dbt builds the asset graph from ``dbt_project/target/manifest.json``. Importing this
module does no work: the entry points (``make run``, ``make ui``, the Docker image, tests)
call :func:`crownsync.dbt.prepare_manifest` first, which parses the project only when the
manifest is missing or older than the project's files.
"""

from __future__ import annotations

from dagster_dbt import DbtProject

from crownsync.dbt import DBT_PROJECT_DIR, MANIFEST_PATH
from crownsync.settings import PROJECT_ROOT

crownsync_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=PROJECT_ROOT)

if not MANIFEST_PATH.exists():
    raise RuntimeError(
        f"dbt manifest {MANIFEST_PATH} is missing: run `python -m crownsync.dbt prepare` "
        "(make run / make ui do it for you) before loading the Dagster definitions"
    )
