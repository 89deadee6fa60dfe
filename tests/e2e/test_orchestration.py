"""Dagster: definitions, one lineage, a full in-process run, blocking checks, sensor, schedules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT
from ingestion.api import APP_TABLES, EXPORTS

# The full in-process run took 249 s and the blocking-check run 91 s at load ≈ 8 on 2 cores,
# each timed with the module's world fixture when it is the first test selected.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

CAMPAIGN_PERFORMANCE = dg.AssetKey(["marts", "campaign_performance"])
BI_ACCESS = dg.AssetKey(["serving", "bi_access"])


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs

    return defs


def test_dagster_definitions_validate_cli():
    result = subprocess.run(
        [
            str(PROJECT_ROOT / ".venv" / "bin" / "dagster"),
            "definitions",
            "validate",
            "-m",
            "orchestration.definitions",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,  # inside the test's 300 s: fails as a subprocess timeout, not a test one
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_one_connected_lineage_from_source_table_to_mart(defs):
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    raw = {dg.AssetKey(["raw", t]) for t in (*APP_TABLES, *EXPORTS)}
    assert raw <= keys
    # every raw asset is materialized by ingestion and reads one source-system asset
    for key in raw:
        node = graph.get(key)
        assert node.is_materializable, key
        assert len(node.parent_keys) == 1 and next(iter(node.parent_keys)).path[0] in (
            "app_db",
            "landing",
        )
    # every dbt source resolved to an ingestion asset: no dbt node has a parent outside the graph
    dbt_keys = {k for k in keys if k.path[0] in ("staging", "intermediate", "marts", "snapshots")}
    assert len(dbt_keys) > 30
    for key in dbt_keys:
        for parent in graph.get(key).parent_keys:
            assert parent in keys and graph.get(parent).is_materializable, (key, parent)
    # staging reads raw (a staging model over a base model reads raw through it); each public
    # mart is reached from its source tables (raw → app table above)
    staging = {k for k in dbt_keys if k.path[0] == "staging"}
    staging_parents = {p for k in staging for p in graph.get(k).parent_keys}
    assert staging_parents - staging == raw
    assert all(p.path[-1].startswith("base_") for p in staging_parents & staging)
    sources = {
        "campaign_performance": [
            "raw/email_sends",
            "raw/campaigns",
            "raw/ad_metrics",
            "raw/orders",
        ],
        "retailer_ranking": ["raw/retailer_performance_metrics", "raw/retailers"],
        "regional_wish_list": ["raw/wish_list_items", "raw/watch_models", "raw/retailers"],
    }
    for mart, tables in sources.items():
        ancestors = dg.AssetSelection.assets(dg.AssetKey(["marts", mart])).upstream().resolve(graph)
        for table in tables:
            assert dg.AssetKey(table.split("/")) in ancestors, (mart, table)
    groups = {graph.get(k).group_name for k in keys}
    assert {"ingestion", "staging", "intermediate", "marts"} <= groups
    # asset descriptions come from the dbt docs
    assert "campaign" in (graph.get(CAMPAIGN_PERFORMANCE).description or "").lower()


def test_schedules_are_valid_and_off_by_default(defs):
    by_name = {s.name: s for s in defs.schedules}
    assert set(by_name) == {"hourly_refresh", "nightly_full_refresh"}
    # the hourly schedule only ingests; the transform_on_change sensor builds what changed
    assert by_name["hourly_refresh"].job_name == "ingest"
    assert by_name["nightly_full_refresh"].job_name == "full_refresh"
    for schedule in by_name.values():
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        context = dg.build_schedule_context(
            scheduled_execution_time=datetime(2026, 11, 22, 3, tzinfo=UTC)
        )
        data = schedule.evaluate_tick(context)
        assert data.run_requests and len(data.run_requests) == 1
    assert by_name["hourly_refresh"].cron_schedule == "5 * * * *"
    full = defs.resolve_job_def("full_refresh")
    assert full.executor_def.name == "in_process"
    from orchestration.defs.automation.jobs import full_refresh_job

    ops_config = full_refresh_job.config["ops"]
    assert ops_config["raw__email_sends"] == {"config": {"full_refresh": True}}
    assert ops_config["crownsync_dbt_assets"] == {"config": {"full_refresh": True}}


def test_full_in_process_materialization_passes_every_check(world, defs):
    job = defs.resolve_job_def("full_refresh")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    materialized = {m.asset_key for m in result.get_asset_materialization_events()}
    assert {dg.AssetKey(["raw", t]) for t in APP_TABLES} <= {k for k in materialized}
    assert CAMPAIGN_PERFORMANCE in {e.asset_key for e in result.get_asset_materialization_events()}
    evaluations = result.get_asset_check_evaluations()
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    assert failed == []
    names = {e.check_name for e in evaluations}
    assert {
        "emails_sent_reconcile_with_raw",
        "ad_spend_reconciles_with_raw",
        "rows_match_source",
        "ge_raw_email_sends",
    } <= names
    assert len(evaluations) > 150  # dbt tests surface as asset checks too
    assert BI_ACCESS in materialized
    # GE guards raw only (one owner per fact, docs/quality.md); its results are check metadata
    assert not any(e.check_name.startswith("ge_mart_") for e in evaluations)
    ge = next(e for e in evaluations if e.check_name == "ge_raw_email_sends")
    assert ge.metadata["expectations_failed"].value == 0
    assert ge.metadata["expectations_evaluated"].value >= 6
    with psycopg.connect(world.warehouse_url) as conn:
        raw_sends = conn.execute(
            "select count(*) from raw.email_sends where _deleted_at is null"
        ).fetchone()[0]
        src = psycopg.connect(world.source_url)
        assert raw_sends == src.execute("select count(*) from email_sends").fetchone()[0]
        src.close()
        assert conn.execute("select count(*) from marts.campaign_performance").fetchone()[0] > 0


def test_a_broken_mart_value_fails_its_blocking_check_and_blocks_downstream(world, defs):
    with psycopg.connect(world.warehouse_url, autocommit=True) as conn:
        conn.execute(
            "update marts.campaign_performance set emails_sent = emails_sent + 7 "
            "where campaign_id = (select min(campaign_id::text)::uuid from marts.campaign_performance)"
        )
    probe = dg.define_asset_job(
        "probe_blocking",
        selection=dg.AssetSelection.checks_for_assets(CAMPAIGN_PERFORMANCE)
        - dg.AssetSelection.checks(
            *[
                k
                for k in defs.resolve_asset_graph().asset_check_keys
                if k.asset_key == CAMPAIGN_PERFORMANCE and k.name.startswith("freshness")
            ]
        )
        | dg.AssetSelection.assets(BI_ACCESS),
    )
    merged = dg.Definitions.merge(defs, dg.Definitions(jobs=[probe]))
    with dg.instance_for_test() as instance:
        result = merged.resolve_job_def("probe_blocking").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    broken = evaluations["emails_sent_reconcile_with_raw"]
    assert not broken.passed
    meta = {k: v.value for k, v in broken.metadata.items()}
    assert meta["mart_emails_sent"] == meta["raw_live_non_failed_sends"] + 7
    assert evaluations["ad_spend_reconciles_with_raw"].passed
    # the serving step downstream of the mart never ran
    assert BI_ACCESS not in {m.asset_key for m in result.get_asset_materialization_events()}
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert any("emails_sent_reconcile_with_raw" in e.step_key for e in failures)


def test_landing_dir_sensor_requests_runs_for_new_files_only(world, defs, tmp_path):
    from orchestration.defs.automation.sensors import landing_dir_sensor
    from orchestration.defs.resources import WarehouseResource

    landing = tmp_path / "landing"
    (landing / "orders").mkdir(parents=True)
    resource = WarehouseResource(landing_dir=str(landing), database_url=world.warehouse_url)

    def tick(cursor):
        context = dg.build_sensor_context(
            cursor=cursor,
            resources={"warehouse": resource},
            repository_def=defs.get_repository_def(),
        )
        return landing_dir_sensor(context), context.cursor

    result, cursor = tick(None)
    assert isinstance(result, dg.SkipReason)
    (landing / "orders" / "a.csv").write_text("order_id\n1\n")
    (landing / "orders" / "notes.txt").write_text("ignored")
    result, cursor = tick(cursor)
    assert isinstance(result, dg.RunRequest) and result.tags["crownsync/new_files"] == "1"
    # one run: only the feed with files, and what depends on it, with their checks
    graph = defs.resolve_asset_graph()
    below = dg.AssetSelection.assets(dg.AssetKey(["raw", "orders"])).downstream().resolve(graph)
    assert set(result.asset_selection) == below and result.job_name == "refresh"
    assert dg.AssetKey(["raw", "ad_metrics"]) not in below
    assert CAMPAIGN_PERFORMANCE in below and BI_ACCESS in below
    checked = {c.asset_key for c in result.asset_check_keys}
    assert dg.AssetKey(["raw", "orders"]) in checked and CAMPAIGN_PERFORMANCE in checked
    assert not any(c.name == "freshness_check" for c in result.asset_check_keys)
    assert json.loads(cursor).keys() == {"orders/a.csv"}
    first_key = result.run_key
    # already seen: nothing; a restart with the persisted cursor: nothing either
    result, cursor = tick(cursor)
    assert isinstance(result, dg.SkipReason)
    (landing / "orders" / "b.jsonl").write_text("{}\n")
    result, cursor = tick(cursor)
    assert isinstance(result, dg.RunRequest) and result.tags["crownsync/new_files"] == "1"
    assert result.run_key != first_key
    assert set(json.loads(cursor)) == {"orders/a.csv", "orders/b.jsonl"}
    assert [j.name for j in defs.resolve_sensor_def("landing_dir_sensor").jobs] == ["refresh"]


def test_transient_errors_retry_permanent_ones_fail_clearly():
    from psycopg import errors

    from ingestion.app_db.extract import SchemaContractError
    from orchestration.defs.errors import is_transient, run_with_retry_policy

    assert is_transient(psycopg.OperationalError("connection failed: connection refused"))
    assert is_transient(errors.SerializationFailure("could not serialize access"))
    assert not is_transient(errors.UndefinedColumn("column x does not exist"))
    context = dg.build_op_context()

    def raise_(err):
        def _work():
            raise err

        return _work

    with pytest.raises(dg.RetryRequested):
        run_with_retry_policy(context, raise_(errors.SerializationFailure("conflict")))
    with pytest.raises(dg.Failure) as failure:
        run_with_retry_policy(
            context, raise_(SchemaContractError("app_db table x: column y missing"))
        )
    assert "column y missing" in failure.value.description
    with pytest.raises(dg.Failure) as failure:
        run_with_retry_policy(context, raise_(errors.UndefinedColumn("column z does not exist")))
    assert "not retried" in failure.value.description


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
