"""The Great Expectations suites, as data: which query, which expectations.

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
            *not_null("retailer_id", "retailer_name", "region", "is_active"),
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
            *not_null("campaign_id", "brand_id"),
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
            *not_null("send_id", "email_campaign_id", "retailer_id"),
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
            *not_null("metric_id", "retailer_id", "metric_date", "metric_period"),
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
        [*not_null("wish_id", "model_id", "retailer_id"), between("wish_count", 1)],
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

RATE_COLUMNS = [
    "open_rate_pct",
    "click_rate_pct",
    "bounce_rate_pct",
    "sms_delivery_rate_pct",
    "ad_ctr_pct",
]

MART_SUITES = [
    Suite(
        ("marts", "campaign_performance"),
        "mart_campaign_performance",
        "select * from marts.campaign_performance",
        [
            E("ExpectColumnValuesToBeUnique", {"column": "campaign_id"}),
            *not_null(
                "campaign_id",
                "emails_sent",
                "sms_sent",
                "social_impressions",
                "ad_spend",
                "attributed_revenue",
            ),
            *[between(column, 0, 100) for column in RATE_COLUMNS],
            between("emails_sent", 0),
            between("unique_opens", 0),
        ],
        "One row per campaign; counts never null; rates that are shares of a whole in 0–100.",
    ),
    Suite(
        ("marts", "retailer_ranking"),
        "mart_retailer_ranking_ranks",
        "select metric_period, metric_date, 'overall' as ranking, min(overall_rank) as min_rank "
        "from marts.retailer_ranking group by 1, 2 "
        "union all select metric_period, metric_date, 'region:' || region, min(regional_rank) "
        "from marts.retailer_ranking group by 1, 2, 3 "
        "union all select metric_period, metric_date, 'tier:' || tier, min(tier_rank) "
        "from marts.retailer_ranking group by 1, 2, 3",
        [in_set("min_rank", [1])],
        "Every ranking partition (overall, per region, per tier) starts at rank 1.",
    ),
    Suite(
        ("marts", "regional_wish_list"),
        "mart_regional_wish_list_shares",
        "select region, abs(sum(share_of_region_pct) - 100) - 0.005 * count(*) as share_excess, "
        "min(rank_in_region) as min_rank from marts.regional_wish_list group by region",
        [between("share_excess", None, 0), in_set("min_rank", [1])],
        "Per region, shares sum to 100 within rounding (0.005 × rows) and ranks start at 1.",
    ),
]
