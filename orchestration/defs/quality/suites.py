"""The Great Expectations suites, as data: which query, which expectations.

GE guards the boundary only: its suites read raw tables (what ingestion landed), never a
dbt model. Facts of models (staging, intermediate, marts: ranks, shares, rates, keys) are
dbt tests; reconciliations across systems and freshness are Dagster checks (checks.py).
docs/quality.md has the ownership table; tests/unit/test_quality_ownership.py enforces it.

Primary keys of raw app tables are not here: dbt's source tests (unique + not_null in
_app_db__sources.yml) own them.

Raw suites read only live rows (``_deleted_at is null``) or current export rows, and clean
the two dirty text fields the same way staging does before checking their value sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.platform_exports.schemas import (
    AD_METRIC_TYPES,
    AD_PLATFORMS,
    ORDER_STATUSES,
    SUPPORTED_CURRENCIES,
)
from orchestration.defs.quality.great_expectations import Expectation as E


@dataclass(frozen=True)
class Suite:
    asset: tuple[str, ...]
    name: str
    query: str
    expectations: list[E]
    description: str


def not_null(*columns: str) -> list[E]:
    return [E("ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns]


def in_set(column: str, values) -> E:
    return E("ExpectColumnValuesToBeInSet", {"column": column, "value_set": sorted(values)})


def between(column: str, low=None, high=None) -> E:
    return E(
        "ExpectColumnValuesToBeBetween", {"column": column, "min_value": low, "max_value": high}
    )


NON_EMPTY = E("ExpectTableRowCountToBeBetween", {"min_value": 1})

RAW_SUITES = [
    Suite(
        ("raw", "retailers"),
        "raw_retailers",
        "select retailer_id, retailer_name, region, store_type, lower(btrim(tier)) as tier, is_active "
        "from raw.retailers where _deleted_at is null",
        [
            NON_EMPTY,
            *not_null("retailer_name", "region", "is_active"),
            in_set("tier", ["premium", "standard", "basic"]),
            in_set("store_type", ["boutique", "department", "online"]),
        ],
        "Live retailers: keys and names present, tier and store type in the contract's sets.",
    ),
    Suite(
        ("raw", "campaigns"),
        "raw_campaigns",
        "select campaign_id, brand_id, campaign_type, campaign_status, budget_allocated, budget_spent "
        "from raw.campaigns where _deleted_at is null",
        [
            NON_EMPTY,
            *not_null("brand_id"),
            in_set("campaign_type", ["social", "email", "sms", "mixed"]),
            in_set("campaign_status", ["draft", "active", "paused", "completed", "archived"]),
            between("budget_allocated", 0),
            between("budget_spent", 0),
        ],
        "Live campaigns: keys, enum sets, budgets not negative.",
    ),
    Suite(
        ("raw", "email_sends"),
        "raw_email_sends",
        "select send_id, email_campaign_id, retailer_id, send_status, open_count, click_count "
        "from raw.email_sends where _deleted_at is null",
        [
            NON_EMPTY,
            *not_null("email_campaign_id", "retailer_id"),
            in_set("send_status", ["sent", "delivered", "bounced", "failed"]),
            between("open_count", 0),
            between("click_count", 0),
        ],
        "Live email sends: keys, status set, engagement counters not negative.",
    ),
    Suite(
        ("raw", "retailer_performance_metrics"),
        "raw_retailer_performance_metrics",
        "select metric_id, retailer_id, metric_date, metric_period, customer_satisfaction, "
        "net_promoter_score from raw.retailer_performance_metrics where _deleted_at is null",
        [
            *not_null("retailer_id", "metric_date", "metric_period"),
            in_set("metric_period", ["daily", "weekly", "monthly", "quarterly"]),
            between("customer_satisfaction", 1, 5),
            between("net_promoter_score", -100, 100),
        ],
        "Retailer metrics: keys, period set, CSAT 1–5 and NPS −100…100.",
    ),
    Suite(
        ("raw", "wish_list_items"),
        "raw_wish_list_items",
        "select wish_id, model_id, retailer_id, wish_count from raw.wish_list_items "
        "where _deleted_at is null",
        [*not_null("model_id", "retailer_id"), between("wish_count", 1)],
        "Live wishes: keys present, wish_count at least 1.",
    ),
    Suite(
        ("raw", "ad_metrics"),
        "raw_ad_metrics",
        "select date, brand_id, platform, metric_type, value, currency from raw.ad_metrics "
        "where _is_current",
        [
            *not_null("date", "brand_id", "value"),
            in_set("platform", AD_PLATFORMS),
            in_set("metric_type", AD_METRIC_TYPES),
            in_set("currency", SUPPORTED_CURRENCIES),
        ],
        "Current ad metrics: keys, platform and metric sets, USD only.",
    ),
    Suite(
        ("raw", "orders"),
        "raw_orders",
        "select order_id, line_number, retailer_id, quantity, unit_price, status from raw.orders "
        "where _is_current",
        [
            *not_null("order_id", "line_number", "retailer_id", "quantity", "unit_price"),
            in_set("status", ORDER_STATUSES),
        ],
        "Current order lines: keys and status set.",
    ),
    Suite(
        ("raw", "social_insights"),
        "raw_social_insights",
        "select date, account_id, followers, reach, impressions, engagement from raw.social_insights "
        "where _is_current",
        [
            *not_null("date", "account_id"),
            between("followers", 0),
            between("reach", 0),
            between("impressions", 0),
            between("engagement", 0),
        ],
        "Current social insights: keys, counters not negative.",
    ),
]
