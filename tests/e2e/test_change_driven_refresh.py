"""A refresh costs what changed: unchanged raw tables do not materialize, only their
descendants are built, only the rebuilt assets' checks run, and the sensor asks for that."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import psycopg
import pytest

from ingestion.api import APP_TABLES, EXPORTS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

RAW = [dg.AssetKey(["raw", t]) for t in (*APP_TABLES, *EXPORTS)]
CAMPAIGNS = dg.AssetKey(["raw", "campaigns"])
BI_ACCESS = dg.AssetKey(["serving", "bi_access"])


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _run(defs, instance, job, assets=None, checks=None, run_config=None):
    job_def = defs.resolve_job_def(job)
    if assets is not None:
        job_def = job_def.get_subset(
            asset_selection=set(assets), asset_check_selection=set(checks or ())
        )
    return job_def.execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config or {}
    )


def _plan(defs, instance):
    from orchestration.defs.automation.refresh import plan_for_graph

    return plan_for_graph(instance, defs.resolve_asset_graph())


def _materialized(result) -> set[dg.AssetKey]:
    return {m.asset_key for m in result.get_asset_materialization_events()}


def _checked(result) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def built(world, defs, instance):
    """A first refresh of the world: everything built and published."""
    first = _run(defs, instance, "ingest")
    assert first.success
    assert _materialized(first) == set(RAW)  # first sight of every table
    plan = _plan(defs, instance)
    assert plan.code_changed  # never materialized: the first transform runs the unit tests too
    graph = defs.resolve_asset_graph()
    below_raw = dg.AssetSelection.assets(*RAW).downstream().resolve(graph) - set(RAW)
    assert plan.assets == below_raw
    transform = _run(defs, instance, "transform", plan.assets, plan.checks, plan.run_config())
    assert transform.success
    assert _materialized(transform) == below_raw
    return world


def test_unchanged_sources_materialize_nothing_and_run_no_check(built, defs, instance):
    again = _run(defs, instance, "ingest")
    assert again.success
    assert _materialized(again) == set()
    assert _checked(again) == set()  # raw checks follow their asset's materialization
    observed = {o.asset_key for o in again.asset_observations_for_node("raw__campaigns")}
    assert observed == {CAMPAIGNS}
    plan = _plan(defs, instance)
    assert plan.empty and not plan.checks, plan.reasons


def test_one_changed_table_rebuilds_and_checks_its_descendants_only(built, defs, instance):
    with psycopg.connect(built.source_url, autocommit=True) as src:
        changed = src.execute(
            "update public.campaigns set campaign_name = campaign_name || ' (renamed)', "
            "updated_at = now() "
            "where campaign_id = (select min(campaign_id::text)::uuid from public.campaigns) "
            "returning campaign_id"
        ).fetchone()
    assert changed
    ingest = _run(defs, instance, "ingest")
    assert ingest.success
    assert _materialized(ingest) == {CAMPAIGNS}
    [mat] = ingest.asset_materializations_for_node("raw__campaigns")
    assert mat.metadata["rows_updated"].value == 1 and mat.metadata["rows_inserted"].value == 0
    assert mat.metadata["data_version"].value.startswith("load:")
    assert _checked(ingest) <= {CAMPAIGNS} and _checked(ingest)  # its raw checks ran, others not

    graph = defs.resolve_asset_graph()
    descendants = dg.AssetSelection.assets(CAMPAIGNS).downstream().resolve(graph) - {CAMPAIGNS}
    plan = _plan(defs, instance)
    assert plan.assets == descendants
    assert plan.changed_raw == (CAMPAIGNS,)
    assert not plan.code_changed
    assert dg.AssetKey(["marts", "regional_wish_list"]) not in plan.assets  # not below campaigns
    assert BI_ACCESS in plan.assets
    # the checks of the rebuilt assets, and dbt's source tests of the changed raw table
    # (and tests attached elsewhere that read a rebuilt model, e.g. relationships tests)
    from orchestration.defs.automation.refresh import dbt_check_inputs

    reads = dbt_check_inputs()
    checked_in_plan = {c.asset_key for c in plan.checks}
    assert CAMPAIGNS in checked_in_plan
    for check in plan.checks:
        assert check.asset_key in plan.assets | {CAMPAIGNS} or reads[check] & plan.assets, check

    transform = _run(defs, instance, "transform", plan.assets, plan.checks, plan.run_config())
    assert transform.success
    assert _materialized(transform) == descendants
    assert _checked(transform) == checked_in_plan  # every planned check ran, no other
    assert not transform.get_asset_observation_events()  # every dbt test is a check result
    source_tests = {
        e.check_name for e in transform.get_asset_check_evaluations() if e.asset_key == CAMPAIGNS
    }
    assert "source_unique_app_db_campaigns_campaign_id" in source_tests
    assert "emails_sent_reconcile_with_raw" in {
        e.check_name for e in transform.get_asset_check_evaluations()
    }
    with psycopg.connect(built.warehouse_url) as conn:
        name = conn.execute(
            "select campaign_name from marts.campaign_performance where campaign_id = %s",
            changed,
        ).fetchone()
    assert name and name[0].endswith("(renamed)")
    assert _plan(defs, instance).empty


def test_a_duplicate_export_file_changes_nothing(built, defs, instance):
    folder = built.landing_dir / "ad_metrics"
    original = sorted(p for p in folder.iterdir() if p.is_file())[0]
    shutil.copyfile(original, folder / f"copy-of-{original.name}")
    result = _run(defs, instance, "ingest", [dg.AssetKey(["raw", "ad_metrics"])])
    assert result.success
    assert _materialized(result) == set()
    assert _plan(defs, instance).empty


def test_transform_sensor_requests_the_stale_selection(built, defs, instance):
    from orchestration.defs.automation.sensors import transform_on_change

    repository = defs.get_repository_def()

    def tick(cursor):
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, repository_def=repository
        )
        return transform_on_change(context), context.cursor

    # everything is transformed already: the first tick plans nothing, and says the
    # freshness-checked marts are current as of the latest ingest run (a quiet source must
    # not look like a stale pipeline); the next tick does not even plan
    result, cursor = tick(None)
    assert isinstance(result, dg.SkipReason), result
    ingest_run = instance.get_run_records(
        dg.RunsFilter(job_name="ingest", statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
    )[0]
    from dagster._core.definitions.asset_checks.asset_check_factories.utils import (
        retrieve_last_update_record,
        retrieve_timestamp_from_record,
    )

    mart = dg.AssetKey(["marts", "campaign_performance"])
    record = retrieve_last_update_record(instance, mart, None)
    assert record.asset_observation is not None  # newer than the mart's materialization
    assert retrieve_timestamp_from_record(record) == pytest.approx(ingest_run.start_time)
    result, cursor = tick(cursor)
    assert isinstance(result, dg.SkipReason)
    assert "no raw table changed" in result.skip_message

    with psycopg.connect(built.source_url, autocommit=True) as src:
        src.execute(
            "update public.wish_list_items set updated_at = now(), wish_count = wish_count + 1 "
            "where wish_id = (select min(wish_id::text)::uuid from public.wish_list_items)"
        )
    ingest = _run(defs, instance, "ingest")
    assert _materialized(ingest) == {dg.AssetKey(["raw", "wish_list_items"])}
    result, cursor = tick(cursor)
    assert isinstance(result, dg.RunRequest), result
    plan = _plan(defs, instance)
    assert set(result.asset_selection) == plan.assets
    assert set(result.asset_check_keys) == plan.checks
    assert dg.AssetKey(["marts", "regional_wish_list"]) in plan.assets
    assert dg.AssetKey(["marts", "campaign_performance"]) not in plan.assets
    assert result.run_config == {"ops": {"crownsync_dbt_assets": {"config": {"unit_tests": False}}}}
    # the same state asks once: the next tick has nothing new
    result, cursor = tick(cursor)
    assert isinstance(result, dg.SkipReason)


def test_a_moved_send_reports_both_campaigns_and_the_refresh_stays_exact(built, defs, instance):
    with psycopg.connect(built.source_url, autocommit=True) as src:
        old, new = src.execute(
            "select min(email_campaign_id::text)::uuid, max(email_campaign_id::text)::uuid "
            "from public.email_sends"
        ).fetchone()
        src.execute(
            "update public.email_sends set email_campaign_id = %s, updated_at = now() "
            "where send_id = (select min(send_id::text)::uuid from public.email_sends "
            "where email_campaign_id = %s)",
            (new, old),
        )
    ingest = _run(defs, instance, "ingest")
    sends = dg.AssetKey(["raw", "email_sends"])
    assert _materialized(ingest) == {sends}
    [mat] = ingest.asset_materializations_for_node("raw__email_sends")
    assert mat.metadata["rows_updated"].value == 1
    assert mat.metadata["affected_parents"].value == 2  # the old campaign and the new one
    assert mat.metadata["affected_groups"].value >= 2
    plan = _plan(defs, instance)
    assert dg.AssetKey(["intermediate", "int_email_sends__aggregated_daily"]) in plan.assets
    transform = _run(defs, instance, "transform", plan.assets, plan.checks, plan.run_config())
    assert transform.success
    evaluations = {e.check_name: e for e in transform.get_asset_check_evaluations()}
    assert evaluations["emails_sent_reconcile_with_raw"].passed
    with psycopg.connect(built.warehouse_url) as conn, psycopg.connect(built.source_url) as src:
        for campaign in (old, new):
            expected = src.execute(
                "select count(*) from public.email_sends s join public.email_campaigns ec "
                "using (email_campaign_id) where ec.email_campaign_id = %s "
                "and s.send_status <> 'failed'",
                (campaign,),
            ).fetchone()[0]
            built_sends = conn.execute(
                "select coalesce(sum(emails_sent), 0) from intermediate."
                "int_email_sends__aggregated_daily where email_campaign_id = %s",
                (campaign,),
            ).fetchone()[0]
            assert built_sends == expected, campaign


def test_a_landed_restatement_is_published_by_one_sensor_run(built, defs, instance):
    """landing_dir_sensor → one refresh run: the feed, what depends on it, their checks."""
    import csv
    import io

    from orchestration.defs.automation.sensors import landing_dir_sensor
    from orchestration.defs.resources import WarehouseResource

    folder = built.landing_dir / "ad_metrics"
    original = sorted(p for p in folder.iterdir() if p.suffix == ".csv")[0]
    rows = list(csv.DictReader(io.StringIO(original.read_text(encoding="utf-8"))))
    spend = next(r for r in rows if r["metric_type"] == "ad_spend")
    restated = {**spend, "value": f"{float(spend['value']) + 100:.2f}"}
    with (folder / "ad_metrics_restated.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerow(restated)

    resource = WarehouseResource(
        landing_dir=str(built.landing_dir), database_url=built.warehouse_url
    )
    from orchestration.defs.automation.sensors import _file_ids

    seen = _file_ids(resource)  # the sensor has seen every file but the new one
    seen.pop("ad_metrics/ad_metrics_restated.csv")
    context = dg.build_sensor_context(
        cursor=json.dumps(seen),
        resources={"warehouse": resource},
        repository_def=defs.get_repository_def(),
    )
    request = landing_dir_sensor(context)
    assert isinstance(request, dg.RunRequest) and request.job_name == "refresh"
    assert dg.AssetKey(["raw", "ad_metrics"]) in request.asset_selection
    assert dg.AssetKey(["raw", "orders"]) not in request.asset_selection
    result = _run(
        defs,
        instance,
        "refresh",
        request.asset_selection,
        request.asset_check_keys,
        request.run_config,
    )
    assert result.success
    materialized = _materialized(result)
    assert dg.AssetKey(["raw", "ad_metrics"]) in materialized
    assert {dg.AssetKey(["marts", "campaign_performance"]), BI_ACCESS} <= materialized
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["ad_spend_reconciles_with_raw"].passed
    with psycopg.connect(built.warehouse_url) as conn:
        current = conn.execute(
            "select value from raw.ad_metrics where _is_current and campaign_id = %s "
            "and date = %s and platform = %s and metric_type = 'ad_spend'",
            (spend["campaign_id"], spend["date"], spend["platform"]),
        ).fetchone()[0]
    assert float(current) == float(restated["value"])
    assert _plan(defs, instance).empty  # the one run built everything it made stale
