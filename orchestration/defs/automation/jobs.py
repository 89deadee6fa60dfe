"""Jobs: ingest (what changed lands in raw), transform (what is stale is rebuilt), full refresh.

A refresh is two runs, each cheap when little changed:

1. ``ingest`` loads every app table and export feed. A raw asset materializes only when its
   table's data changed, so its checks run only then.
2. ``transform`` builds the stale part of dbt and serving (``refresh.plan_refresh``): the
   assets downstream of the raw tables that changed, with their checks only. It is launched
   with that selection by ``make run`` (in process) and by the ``transform_on_change``
   sensor (daemon), so the hourly schedule and the landing-folder sensor only start
   ``ingest``. When nothing changed, no transform run starts at all.

``full_refresh`` (nightly) runs everything: whole tables re-read with delete checks, dbt
``--full-refresh``, every check.
"""

from __future__ import annotations

import dagster as dg

from ingestion.api import APP_TABLES, EXPORTS
from orchestration.defs.ingestion.assets import raw_key

INGESTION_OPS = [raw_key(t).to_python_identifier() for t in APP_TABLES]
EXPORT_OPS = [raw_key(e).to_python_identifier() for e in EXPORTS]
DBT_OP = "crownsync_dbt_assets"

RAW_KEYS = [raw_key(t) for t in (*APP_TABLES, *EXPORTS)]
RAW_SELECTION = dg.AssetSelection.assets(*RAW_KEYS)
TRANSFORM_SELECTION = RAW_SELECTION.downstream() - RAW_SELECTION

full_refresh_job = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.all(),
    description="Everything from scratch: whole tables re-read with delete checks, dbt build "
    "--full-refresh (incremental models rebuilt, snapshots taken), every check.",
    config={
        "ops": {
            **{op: {"config": {"full_refresh": True}} for op in [*INGESTION_OPS, *EXPORT_OPS]},
            DBT_OP: {"config": {"full_refresh": True}},
        }
    },
)

ingest_job = dg.define_asset_job(
    "ingest",
    selection=RAW_SELECTION,
    description="Load what changed since the watermarks and the new export files into raw. "
    "Only tables whose data changed materialize (and run their checks); the "
    "transform_on_change sensor then rebuilds what depends on them.",
)

transform_job = dg.define_asset_job(
    "transform",
    selection=TRANSFORM_SELECTION,
    description="dbt build (models, snapshots, tests) and serving. Launched with the stale "
    "assets only (downstream of raw tables that changed); launched whole, it rebuilds "
    "everything below raw.",
)

refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest and transform in one run, launched with a selection: the landing "
    "sensor's new export files and what depends on them. Unchanged feeds do not "
    "materialize, and what is below them is skipped.",
)
