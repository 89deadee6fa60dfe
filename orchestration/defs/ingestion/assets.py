"""One asset per raw table and per export feed, each calling the ingestion API.

Upstream of each raw asset sits an external asset for the thing it reads (the app-database
table, the landing folder of an export), so the lineage starts at the source system.

A raw asset materializes only when its table changed. Each load runs, then the table's data
version (``ingestion.api.data_versions``: the latest load that changed rows, from the
ledger) is compared with the version of the asset's last materialization. Unchanged: an
observation is logged and no materialization, so nothing downstream is stale and the raw
checks (which depend on the materialization) do not run. Loads made outside Dagster (the
CLI) count too: their version differs from the one Dagster last saw. The full-refresh job
(``full_refresh`` config) always materializes, so the nightly run checks everything.
"""

import time

import dagster as dg

from ingestion.api import APP_TABLES, EXPORTS, data_versions, ingest_app_table, ingest_export
from ingestion.app_db.manifest import load_manifest
from orchestration.defs.errors import run_with_retry_policy
from orchestration.defs.resources import WarehouseResource

INGESTION_GROUP = "ingestion"
SOURCES_GROUP = "sources"


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


def app_source_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["app_db", table])


def landing_key(export: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", export])


def _last_data_version(context: dg.AssetExecutionContext, key: dg.AssetKey) -> str | None:
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    return event.asset_materialization.tags.get("dagster/data_version")


def _changed_or_observed(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    table: str,
    warehouse_url: str,
    metadata: dict,
    force: bool,
):
    """Yield a materialization when the table's data version moved (or force), else an
    observation saying it is unchanged."""
    version = data_versions(warehouse_url).get(table) or "none"  # "none": never changed
    previous = _last_data_version(context, key)
    changed = force or version != previous
    metadata = {**metadata, "data_version": version, "changed": changed}
    if changed:
        yield dg.MaterializeResult(
            asset_key=key,
            data_version=dg.DataVersion(version),
            metadata=metadata,
        )
    else:
        context.log.info(f"raw.{table}: unchanged since {previous}; not materialized")
        # compared with its source just now: current, for the freshness checks
        metadata["dagster/last_updated_timestamp"] = dg.MetadataValue.timestamp(time.time())
        yield dg.AssetObservation(asset_key=key, metadata=metadata)


def _affected_keys(result) -> dict:
    """For the big facts (a change_keys entry in the manifest): the (parent, day) groups the
    load touched, which the incremental models rebuild."""
    if not (result.affected_groups or result.change_log_reset):
        return {}
    return {
        "affected_parents": result.affected_parents,
        "affected_days": result.affected_days,
        "affected_groups": result.affected_groups,
        "affected_sample": ", ".join(result.affected_sample) or "none",
        "change_log_reset": result.change_log_reset,
    }


class IngestConfig(dg.Config):
    full_refresh: bool = False
    """Re-read whole tables (ignore the watermark) and check hard deletes."""
    check_deletes: bool | None = None
    """True: compare primary keys for every table; None: as the manifest says."""


source_specs = [
    dg.AssetSpec(
        app_source_key(table),
        description=f"CrownSync app database table public.{table} (read only).",
        group_name=SOURCES_GROUP,
        kinds={"postgres"},
    )
    for table in APP_TABLES
] + [
    dg.AssetSpec(
        landing_key(export),
        description=f"Platform export files in LANDING_DIR/{export}/ (read only).",
        group_name=SOURCES_GROUP,
        kinds={"file"},
    )
    for export in EXPORTS
]


class ExportConfig(dg.Config):
    full_refresh: bool = False
    """Materialize even when no new file changed the table (the full-refresh job)."""


def _app_table_asset(table: str) -> dg.AssetsDefinition:
    spec = load_manifest()[table]

    @dg.asset(
        key=raw_key(table),
        deps=[app_source_key(table)],
        output_required=False,
        group_name=INGESTION_GROUP,
        kinds={"python", "postgres"},
        description=(
            f"raw.{table}: public.{table} merged on ({', '.join(spec.primary_key)}), "
            f"incremental on {spec.cursor}; hard deletes marked _deleted_at "
            f"({spec.delete_check.replace('_', ' ')})."
        ),
        metadata={"primary_key": list(spec.primary_key), "cursor": spec.cursor},
    )
    def _asset(
        context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource
    ):
        result = run_with_retry_policy(
            context,
            lambda: ingest_app_table(
                table,
                warehouse_url=warehouse.url,
                source_url=warehouse.source_url,
                full_refresh=config.full_refresh,
                check_deletes=config.check_deletes,
            ),
        )
        context.log.info(result.summary())
        yield from _changed_or_observed(
            context,
            raw_key(table),
            table,
            warehouse.url,
            {
                "rows_read": result.rows_read,
                "rows_inserted": result.rows_inserted,
                "rows_updated": result.rows_updated,
                "rows_deleted": result.rows_deleted,
                "rows_per_second": round(result.rows_per_second),
                "seconds": round(result.seconds, 3),
                "mode": result.mode,
                "watermark": str(result.watermark_after),
                "extra_columns": ", ".join(result.extra_columns) or "none",
                "load_id": result.load_id,
                **_affected_keys(result),
            },
            force=config.full_refresh,
        )

    return _asset


def _export_asset(export: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(export),
        deps=[landing_key(export)],
        output_required=False,
        group_name=INGESTION_GROUP,
        kinds={"python", "postgres"},
        description=(
            f"raw.{export}: every version of every row of the {export} export files, exactly "
            f"once per file; _is_current marks the row of the latest landed file per key. "
            f"Bad rows are in raw._rejected_rows, the file ledger in raw._files."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, config: ExportConfig, warehouse: WarehouseResource
    ):
        results = run_with_retry_policy(
            context,
            lambda: ingest_export(
                export, warehouse_url=warehouse.url, landing_dir=warehouse.landing_path
            ),
        )
        new = [r for r in results if r.status != "skipped"]
        for result in new:
            context.log.info(result.summary())
        yield from _changed_or_observed(
            context,
            raw_key(export),
            export,
            warehouse.url,
            {
                "files_loaded": sum(r.status == "loaded" for r in new),
                "rows_inserted": sum(r.rows_loaded for r in new),
                "files_duplicate": sum(r.status == "duplicate" for r in new),
                "files_rejected": sum(r.status == "rejected" for r in new),
                "rows_loaded": sum(r.rows_loaded for r in new),
                "rows_rejected": sum(r.rows_rejected for r in new),
            },
            force=config.full_refresh,
        )

    return _asset


app_table_assets = [_app_table_asset(table) for table in APP_TABLES]
export_assets = [_export_asset(export) for export in EXPORTS]
