"""dbt models, snapshots and tests as Dagster assets and asset checks.

The translator makes a dbt source resolve to the ingestion asset that writes it
(``source('app_db', 'email_sends')`` → ``raw/email_sends``), so the graph is one lineage:
app table → raw → staging → intermediate → marts. Models are keyed ``<schema>/<name>`` and
grouped by schema; descriptions come from the dbt docs.
"""

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from crownsync.settings import dbt_env, get_settings, safe_url
from orchestration.defs.dbt.project import crownsync_dbt_project
from orchestration.defs.ingestion.assets import raw_key
from orchestration.defs.resources import WarehouseResource

LAYER_GROUPS = {"staging", "intermediate", "marts", "snapshots"}


class CrownSyncTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = _node(manifest, unique_id)
        if node["resource_type"] == "source":
            return spec.replace_attributes(key=raw_key(node["name"]))
        schema = node.get("schema") or node["config"].get("schema") or "marts"
        group = schema if schema in LAYER_GROUPS else "marts"
        return spec.replace_attributes(key=dg.AssetKey([schema, node["name"]]), group_name=group)


def _node(manifest: Mapping[str, Any], unique_id: str) -> Mapping[str, Any]:
    for section in ("nodes", "sources", "snapshots", "seeds"):
        if unique_id in manifest.get(section, {}):
            return manifest[section][unique_id]
    raise KeyError(unique_id)


# Every dbt test is an asset check: tests of sources are checks of the raw asset they test
# (run by the dbt step, after ingestion), singular tests with several refs name their asset
# in config(meta={'dagster': {'ref': …}}).
translator = CrownSyncTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=True
    )
)


def _check_profile_targets(warehouse_url: str) -> None:
    """dbt (profiles.yml reads DBT_PG_*) must build the warehouse this run's resource names.

    The entry points export DBT_PG_* from the same settings as the resource; a mismatch
    means the process was started some other way, and dbt would build another database.
    """
    wanted = {k: v for k, v in dbt_env_for(warehouse_url).items() if k.startswith("DBT_PG_")}
    actual = {k: os.environ.get(k) for k in wanted}
    wrong = sorted(
        k for k in ("DBT_PG_HOST", "DBT_PG_PORT", "DBT_PG_DBNAME") if actual[k] != wanted[k]
    )
    if wrong:
        raise dg.Failure(
            f"dbt's profile points elsewhere than the warehouse resource ({safe_url(warehouse_url)}): "
            f"{', '.join(f'{k}={actual[k]!r}' for k in wrong)}. Start Dagster with `make run` or "
            "`make ui`, or export the DBT_PG_* variables of crownsync.settings.dbt_env."
        )


def dbt_env_for(warehouse_url: str) -> dict[str, str]:
    return dbt_env(get_settings().model_copy(update={"database_url": warehouse_url}))


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    """Rebuild incremental models from scratch (dbt build --full-refresh)."""
    unit_tests: bool = True
    """Run dbt's unit tests of the selected models. They test the SQL, not the data: a
    refresh whose models' code did not change skips them (refresh.RefreshPlan)."""


@dbt_assets(
    manifest=crownsync_dbt_project.manifest_path,
    project=crownsync_dbt_project,
    dagster_dbt_translator=translator,
)
def crownsync_dbt_assets(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
):
    _check_profile_targets(warehouse.url)
    args = ["build"] + (["--full-refresh"] if config.full_refresh else [])
    if not config.unit_tests:
        args += ["--exclude", "resource_type:unit_test"]
    invocation = dbt.cli(args, context=context)
    try:
        yield from invocation.stream()
    finally:
        _prune_invocation_targets(invocation.target_path.parent, keep=KEEP_INVOCATION_TARGETS)


KEEP_INVOCATION_TARGETS = 10


def _prune_invocation_targets(target_root: Path, keep: int) -> None:
    """Each run's dbt writes its own target folder (10–20 MB: manifest, compiled SQL, logs);
    an hourly schedule would fill the disk. Keep the newest ``keep``, for debugging."""
    folders = sorted(
        (p for p in target_root.glob("crownsync_dbt_assets-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)


dbt_resource = DbtCliResource(
    dbt_executable=str(Path(sys.executable).parent / "dbt"),
    project_dir=crownsync_dbt_project,
    profiles_dir=str(crownsync_dbt_project.profiles_dir),
)
