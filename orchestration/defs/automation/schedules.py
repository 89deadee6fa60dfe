"""Schedules (off by default in dev: turn them on in the UI or with `dagster schedule start`)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.automation.jobs import full_refresh_job, incremental_job

hourly_incremental = dg.ScheduleDefinition(
    name="hourly_incremental",
    job=incremental_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Incremental refresh at five past every hour.",
)

nightly_full_refresh = dg.ScheduleDefinition(
    name="nightly_full_refresh",
    job=full_refresh_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Full refresh (with hard-delete checks on every table) at 02:30 UTC.",
)

schedules = [hourly_incremental, nightly_full_refresh]
