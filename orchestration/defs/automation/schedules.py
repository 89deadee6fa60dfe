"""Schedules (off by default in dev: turn them on in the UI or with `dagster schedule start`).

The hourly schedule only ingests: the raw tables that changed materialize, and the
``transform_on_change`` sensor builds what is downstream of them (nothing when nothing
changed). The nightly schedule runs everything.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.automation.jobs import full_refresh_job, ingest_job

hourly_refresh = dg.ScheduleDefinition(
    name="hourly_refresh",
    job=ingest_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Ingest at five past every hour; transform_on_change rebuilds what changed.",
)

nightly_full_refresh = dg.ScheduleDefinition(
    name="nightly_full_refresh",
    job=full_refresh_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Full refresh (with hard-delete checks on every table) at 02:30 UTC.",
)

schedules = [hourly_refresh, nightly_full_refresh]
