"""Data checks: Great Expectations raw suites, cross-system reconciliations, freshness.

One owner per fact (docs/quality.md): GE validates the raw boundary; dbt tests own the facts
of models; the Dagster checks here only do what neither can: source ↔ raw counts (two
databases), raw ↔ mart reconciliations (what ingestion landed against what dbt built, before
serving) and freshness.

Checks on marts are blocking: when one fails, nothing downstream of that mart is
materialized in the run (the serving step that publishes marts to BI roles included), and
the run's check evaluation says which check failed and why. Raw checks report but do not
block (a raw problem shows on the raw asset; dbt's own tests guard the models).
"""

import warnings
from datetime import timedelta

import dagster as dg
from psycopg import sql

from ingestion.api import APP_TABLES
from ingestion.app_db.manifest import load_manifest
from orchestration.defs.ingestion.assets import raw_key
from orchestration.defs.quality.great_expectations import validate
from orchestration.defs.quality.suites import RAW_SUITES, Suite
from orchestration.defs.resources import WarehouseResource

CAMPAIGN_PERFORMANCE = dg.AssetKey(["marts", "campaign_performance"])


def _suite_check(suite: Suite, blocking: bool) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(list(suite.asset)),
        name=f"ge_{suite.name}",
        description=f"Great Expectations: {suite.description}",
        blocking=blocking,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        result = validate(warehouse.url, suite.name, suite.query, suite.expectations)
        return dg.AssetCheckResult(
            passed=result.success,
            metadata=result.metadata(),
            description=(
                f"{result.evaluated} expectations, all passed"
                if result.success
                else f"failed: {', '.join(result.failed)}"
            ),
        )

    return _check


def _source_count_check(table: str) -> dg.AssetChecksDefinition:
    spec = load_manifest()[table]
    scheduled = spec.delete_check == "scheduled"

    @dg.asset_check(
        asset=raw_key(table),
        name="rows_match_source",
        description=(
            f"Row count of public.{table} in the source equals the live rows of raw.{table}."
            + (
                " Deletes of this table are compared on a schedule, so a gap is a warning."
                if scheduled
                else ""
            )
        ),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        query = sql.SQL("select count(*) from {}.{}")
        with warehouse.connect_source() as source:
            source_rows = source.execute(
                query.format(sql.Identifier("public"), sql.Identifier(table))
            ).fetchone()[0]
        with warehouse.connect() as conn:
            raw_rows = conn.execute(
                sql.SQL("select count(*) from {}.{} where _deleted_at is null").format(
                    sql.Identifier("raw"), sql.Identifier(table)
                )
            ).fetchone()[0]
        return dg.AssetCheckResult(
            passed=source_rows == raw_rows,
            severity=dg.AssetCheckSeverity.WARN if scheduled else dg.AssetCheckSeverity.ERROR,
            metadata={
                "source_rows": source_rows,
                "raw_live_rows": raw_rows,
                "difference": raw_rows - source_rows,
            },
        )

    return _check


LIVE_SENDS_SQL = """
select count(*)
  from raw.email_sends s
  join raw.email_campaigns ec on ec.email_campaign_id = s.email_campaign_id and ec._deleted_at is null
  join raw.campaigns c on c.campaign_id = ec.campaign_id and c._deleted_at is null
 where s._deleted_at is null and s.send_status <> 'failed'
"""

CURRENT_AD_SPEND_SQL = """
select coalesce(sum(a.value), 0)
  from raw.ad_metrics a
  join raw.campaigns c on c.campaign_id = a.campaign_id and c._deleted_at is null
 where a._is_current and a.metric_type = 'ad_spend'
"""


def _reconciliation_check(
    name: str, description: str, raw_label: str, raw_sql: str, mart_label: str, mart_sql: str
) -> dg.AssetChecksDefinition:
    """Blocking: a figure computed from raw equals the same figure summed from the mart."""

    @dg.asset_check(asset=CAMPAIGN_PERFORMANCE, name=name, blocking=True, description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            raw_value = conn.execute(raw_sql).fetchone()[0]
            mart_value = conn.execute(mart_sql).fetchone()[0]
        return dg.AssetCheckResult(
            passed=raw_value == mart_value,
            metadata={raw_label: float(raw_value), mart_label: float(mart_value)},
            description=None
            if raw_value == mart_value
            else f"mart has {mart_value}, raw has {raw_value}",
        )

    return _check


emails_sent_reconcile = _reconciliation_check(
    "emails_sent_reconcile_with_raw",
    "Σ emails_sent in the mart = live non-failed sends in raw (of live campaigns).",
    "raw_live_non_failed_sends",
    LIVE_SENDS_SQL,
    "mart_emails_sent",
    "select coalesce(sum(emails_sent), 0) from marts.campaign_performance",
)
ad_spend_reconcile = _reconciliation_check(
    "ad_spend_reconciles_with_raw",
    "Σ current ad_spend rows in raw (of live campaigns) = Σ ad_spend in the mart.",
    "raw_current_ad_spend",
    CURRENT_AD_SPEND_SQL,
    "mart_ad_spend",
    "select coalesce(sum(ad_spend), 0) from marts.campaign_performance",
)


ge_raw_checks = [_suite_check(suite, blocking=False) for suite in RAW_SUITES]
source_count_checks = [_source_count_check(table) for table in APP_TABLES]
reconciliation_checks = [emails_sent_reconcile, ad_spend_reconcile]

FRESHNESS_RAW = [raw_key(t) for t in APP_TABLES] + [
    raw_key(e) for e in ("ad_metrics", "social_insights", "orders")
]
FRESHNESS_MARTS = [
    dg.AssetKey(["marts", name])
    for name in ("campaign_performance", "retailer_ranking", "regional_wish_list")
]
with warnings.catch_warnings():
    # Dagster 1.13 prefers FreshnessPolicy; these builders still give freshness *checks*
    # (visible per asset, with pass/fail history), which is what we want here.
    warnings.simplefilter("ignore", category=Warning)
    freshness_checks = dg.build_last_update_freshness_checks(
        assets=FRESHNESS_RAW + FRESHNESS_MARTS, lower_bound_delta=timedelta(hours=2)
    )
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="freshness_checks_sensor",
        minimum_interval_seconds=300,
    )

all_checks = [*ge_raw_checks, *source_count_checks, *reconciliation_checks]
