"""One asset per raw table and per export feed, each calling the ingestion API.

Upstream of each raw asset sits an external asset for the thing it reads (the app-database
table, the landing folder of an export), so the lineage starts at the source system.
"""

import dagster as dg

from ingestion.api import APP_TABLES, EXPORTS, ingest_app_table, ingest_export
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


def _app_table_asset(table: str) -> dg.AssetsDefinition:
    spec = load_manifest()[table]

    @dg.asset(
        key=raw_key(table),
        deps=[app_source_key(table)],
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
    ) -> dg.MaterializeResult:
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
        return dg.MaterializeResult(
            metadata={
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
            }
        )

    return _asset


def _export_asset(export: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(export),
        deps=[landing_key(export)],
        group_name=INGESTION_GROUP,
        kinds={"python", "postgres"},
        description=(
            f"raw.{export}: every version of every row of the {export} export files, exactly "
            f"once per file; _is_current marks the row of the latest landed file per key. "
            f"Bad rows are in raw._rejected_rows, the file ledger in raw._files."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        results = run_with_retry_policy(
            context,
            lambda: ingest_export(
                export, warehouse_url=warehouse.url, landing_dir=warehouse.landing_path
            ),
        )
        new = [r for r in results if r.status != "skipped"]
        for result in new:
            context.log.info(result.summary())
        return dg.MaterializeResult(
            metadata={
                "files_loaded": sum(r.status == "loaded" for r in new),
                "files_duplicate": sum(r.status == "duplicate" for r in new),
                "files_rejected": sum(r.status == "rejected" for r in new),
                "rows_loaded": sum(r.rows_loaded for r in new),
                "rows_rejected": sum(r.rows_rejected for r in new),
            }
        )

    return _asset


app_table_assets = [_app_table_asset(table) for table in APP_TABLES]
export_assets = [_export_asset(export) for export in EXPORTS]
