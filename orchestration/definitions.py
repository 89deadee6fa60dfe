"""The CrownSync code location: assembles the Definitions from orchestration/defs/.

Nothing here reads the environment: resources resolve their settings when a run uses them.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.automation.jobs import (
    full_refresh_job,
    ingest_job,
    refresh_job,
    transform_job,
)
from orchestration.defs.automation.schedules import schedules
from orchestration.defs.automation.sensors import landing_dir_sensor, transform_on_change
from orchestration.defs.dbt.assets import crownsync_dbt_assets, dbt_resource
from orchestration.defs.ingestion.assets import app_table_assets, export_assets, source_specs
from orchestration.defs.quality.checks import all_checks, freshness_checks, freshness_sensor
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.serving.assets import bi_access

defs = dg.Definitions(
    assets=[*source_specs, *app_table_assets, *export_assets, crownsync_dbt_assets, bi_access],
    asset_checks=[*all_checks, *freshness_checks],
    jobs=[ingest_job, transform_job, refresh_job, full_refresh_job],
    schedules=schedules,
    sensors=[landing_dir_sensor, transform_on_change, freshness_sensor],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource},
    executor=dg.in_process_executor,
)
