"""Sensors: new export files start an ingest of their feeds; changed raw tables start a
transform of what depends on them.

``landing_dir_sensor``: one ``refresh`` run per batch of new files: the feeds that have
them, and everything downstream, with their checks (one launch, so a file is published
quickly). The cursor (persisted by Dagster in its storage) is the set of files
already seen, each as ``<export>/<name>`` with its size and modification time, so a restart
neither reloads nor skips files. The ingestion itself is exactly-once anyway (the ledger
raw._files).

``transform_on_change``: when a raw asset materialized since the sensor last looked (any
run: the schedule's, the landing sensor's, one started in the UI), it launches the
``transform`` job with the stale selection of :func:`refresh.plan_refresh`. The queued run
coordinator runs one run at a time, so the transform starts after the ingest that caused it.
"""

import hashlib
import json

import dagster as dg

from ingestion.api import EXPORTS
from ingestion.platform_exports.load import SUPPORTED_SUFFIXES, discover
from orchestration.defs.automation.jobs import (
    DBT_OP,
    RAW_KEYS,
    ingest_job,
    refresh_job,
    transform_job,
)
from orchestration.defs.automation.refresh import plan_for_repository, report_current
from orchestration.defs.ingestion.assets import raw_key
from orchestration.defs.quality.checks import FRESHNESS_MARTS
from orchestration.defs.resources import WarehouseResource

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
DBT_WITHOUT_UNIT_TESTS = {"ops": {DBT_OP: {"config": {"unit_tests": False}}}}
LANDING_INTERVAL_S = 5
TRANSFORM_INTERVAL_S = 10


def _file_ids(warehouse: WarehouseResource) -> dict[str, str]:
    ids = {}
    for export in EXPORTS:
        for landed in discover(warehouse.landing_path, export):
            if landed.path.suffix.lower() in SUPPORTED_SUFFIXES:
                ids[f"{export}/{landed.name}"] = f"{landed.size}:{landed.modified_at.isoformat()}"
    return ids


@dg.sensor(
    name="landing_dir_sensor",
    jobs=[refresh_job],
    minimum_interval_seconds=LANDING_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New files in LANDING_DIR/<export>/: one run that ingests those feeds and "
    "rebuilds and checks what depends on them.",
)
def landing_dir_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = _file_ids(warehouse)
    new = sorted(name for name, ident in current.items() if seen.get(name) != ident)
    if not new:
        return dg.SkipReason(f"no new files in {warehouse.landing_path} ({len(current)} seen)")
    context.update_cursor(json.dumps({**seen, **current}, sort_keys=True))
    run_key = hashlib.sha256("\n".join(f"{n}={current[n]}" for n in new).encode()).hexdigest()[:32]
    feeds = sorted({name.split("/", 1)[0] for name in new})
    assets, checks = feed_selection(context.repository_def.asset_graph, feeds)
    return dg.RunRequest(
        run_key=run_key,
        job_name=refresh_job.name,
        asset_selection=assets,
        asset_check_keys=checks,
        run_config=DBT_WITHOUT_UNIT_TESTS if any(a.path[0] != "raw" for a in assets) else {},
        tags={"crownsync/new_files": str(len(new)), "crownsync/feeds": ",".join(feeds)},
    )


def feed_selection(asset_graph, feeds: list[str]) -> tuple[list, list]:
    """The feeds' raw assets, everything downstream of them, and the checks of those.

    One run does it all, with one launch: when a feed's files change nothing (duplicates),
    its raw asset does not materialize and what is below it is skipped. If another feed of
    the same run did change, ``transform_on_change`` builds what that skip left stale.
    """
    from orchestration.defs.automation.refresh import SCHEDULED_CHECKS, dbt_check_inputs

    keys = dg.AssetSelection.assets(*[raw_key(f) for f in feeds]).downstream().resolve(asset_graph)
    checks = {
        c for k in keys for c in asset_graph.get(k).check_keys if c.name not in SCHEDULED_CHECKS
    }
    checks |= {c for c, reads in dbt_check_inputs().items() if reads & keys}
    return (
        sorted(keys, key=lambda k: k.path),
        sorted(checks, key=lambda c: (c.asset_key.path, c.name)),
    )


@dg.sensor(
    name="transform_on_change",
    job=transform_job,
    minimum_interval_seconds=TRANSFORM_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Builds and checks what is downstream of raw tables that changed, and only that.",
)
def transform_on_change(context: dg.SensorEvaluationContext):
    instance = context.instance
    busy = next(
        (
            records[0]
            for job in (ingest_job.name, refresh_job.name, "full_refresh")
            if (
                records := instance.get_run_records(
                    dg.RunsFilter(job_name=job, statuses=IN_FLIGHT), limit=1
                )
            )
        ),
        None,
    )
    if busy:  # plan once the ingest has finished: one transform for all it changed
        return dg.SkipReason(f"waiting for run {busy.dagster_run.run_id} to finish")
    cursor = _cursor(context.cursor)
    latest = instance.event_log_storage.get_latest_materialization_storage_ids(RAW_KEYS)
    high = max((v for v in latest.values() if v), default=0)
    ingested = instance.get_run_records(
        dg.RunsFilter(job_name=ingest_job.name, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
    )
    last_ingest = ingested[0] if ingested else None
    new_ingest = last_ingest is not None and last_ingest.dagster_run.run_id != cursor["ingest"]
    if high <= cursor["raw"] and not new_ingest:
        return dg.SkipReason("no raw table changed since the last transform")
    plan = plan_for_repository(instance, context.repository_def)
    context.update_cursor(
        json.dumps({"raw": high, "ingest": last_ingest.dagster_run.run_id if last_ingest else None})
    )
    if new_ingest and last_ingest.start_time:
        report_current(instance, plan, FRESHNESS_MARTS, last_ingest.start_time)
    if plan.empty:
        return dg.SkipReason(plan.describe())
    return dg.RunRequest(
        run_key=f"transform-{plan.state}",
        asset_selection=sorted(plan.assets, key=lambda k: k.path),
        asset_check_keys=sorted(plan.checks, key=lambda c: (c.asset_key.path, c.name)),
        run_config=plan.run_config(),
        tags={"crownsync/changed_raw": ",".join(k.path[-1] for k in plan.changed_raw)[:200]},
    )


def _cursor(raw: str | None) -> dict:
    """{"raw": highest raw materialization storage id handled, "ingest": last ingest run id}."""
    if not raw:
        return {"raw": 0, "ingest": None}
    if raw.isdigit():  # the first version kept only the storage id
        return {"raw": int(raw), "ingest": None}
    value = json.loads(raw)
    return {"raw": int(value.get("raw") or 0), "ingest": value.get("ingest")}
