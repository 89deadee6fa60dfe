"""Jobs: full refresh, incremental, and export-triggered."""

from __future__ import annotations

import dagster as dg

from ingestion.api import APP_TABLES, EXPORTS
from orchestration.defs.ingestion.assets import raw_key

INGESTION_OPS = [raw_key(t).to_python_identifier() for t in APP_TABLES]
EXPORT_OPS = [raw_key(e).to_python_identifier() for e in EXPORTS]
DBT_OP = "crownsync_dbt_assets"

full_refresh_job = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.all(),
    description="Everything from scratch: whole tables re-read with delete checks, dbt build "
    "--full-refresh (incremental models rebuilt, snapshots taken), every check.",
    config={
        "ops": {
            **{op: {"config": {"full_refresh": True}} for op in INGESTION_OPS},
            DBT_OP: {"config": {"full_refresh": True}},
        }
    },
)

incremental_job = dg.define_asset_job(
    "incremental",
    selection=dg.AssetSelection.all(),
    description="Ingest what changed since the watermarks and the new export files, then "
    "dbt build (incremental models process only the changed campaigns), every check.",
)

exports_job = dg.define_asset_job(
    "exports",
    selection=dg.AssetSelection.assets(*[raw_key(e) for e in EXPORTS]).downstream(),
    description="New export files: load them, then rebuild what depends on them.",
)
