"""The oracle of the hand-built acceptance test, checked against figures computed by hand.

Each number below was worked out on paper from the rows in tests/fixtures/handbuilt.py and
the marts contract, so a slip in tests/e2e/expected_marts.py cannot hide behind itself.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.e2e.expected_marts import (
    clean_region,
    clean_tier,
    current_ad_metrics,
    expected_campaign_performance,
    expected_file_status,
    expected_regional_wish_list,
    expected_rejected_lines,
    expected_retailer_ranking,
    initcap,
    pct,
    rank_desc,
    round2,
)
from tests.fixtures.handbuilt import C1, C2, C3, C4, M1, M2, M3, M4, R1, R2, R3, R5, HandBuilt

D = Decimal


@pytest.fixture(scope="module")
def hb() -> HandBuilt:
    return HandBuilt()


def test_helpers() -> None:
    assert round2(D("42.625")) == D("42.63")  # half up, not half even
    assert round2(D("3.125")) == D("3.13")
    assert round2(D("-5.005")) == D("-5.01")  # PostgreSQL rounds half away from zero
    assert pct(1, 0) is None and pct(1, None) is None and pct(0, 5) == D("0.00")
    assert initcap("east coast") == "East Coast"
    assert initcap("WEST-coast") == "West-Coast"
    assert initcap("1st region") == "1st Region"  # unlike str.title()
    assert clean_region("  east  coast") == "East Coast"
    assert clean_region("West Coast ") == "West Coast"
    assert clean_tier("PREMIUM ") == "premium"
    assert rank_desc({"a": D(5), "b": D(5), "c": D(6), "d": D(1)}) == {
        "a": 2,
        "b": 2,
        "c": 1,
        "d": 4,
    }


def test_export_resolution(hb: HandBuilt) -> None:
    ads = {
        (m["platform"], m["campaign_id"], m["date"], m["metric_type"]): m["value"]
        for m in current_ad_metrics(hb)
    }
    day = date(2026, 1, 10)
    assert ads[("meta", C1, day, "ad_spend")] == D("120.00")  # adjusted_meta.csv: latest mtime
    assert ads[("meta", C1, day, "clicks")] == D("50")  # same-time-b.csv after same-time-a.csv
    assert ads[("meta", None, day, "ad_spend")] == D("1000.00")  # brand level, restated
    assert not any(k[2] == date(2026, 1, 9) for k in ads)  # all bad rows
    status = expected_file_status(hb)
    assert status[("ad_metrics", "meta_2026-01-10_resent.csv")] == "duplicate"
    assert sum(1 for s in status.values() if s == "duplicate") == 1
    assert status[("social_insights", "insights_empty.csv")] == "rejected"
    rejected = expected_rejected_lines(hb)
    assert len(rejected) == 16
    assert ("ad_metrics", "meta_2026-01-10_resent.csv", 9) not in rejected
    assert rejected[("orders", "orders_2026-01-12.csv", 13)] == "unsupported currency"
    assert rejected[("social_insights", "insights_2026-01-10.json", 3)] == "integer given as 12.0"


def test_campaign_performance_by_hand(hb: HandBuilt) -> None:
    cp = expected_campaign_performance(hb)
    assert set(cp) == {C1, C2, C3, C4}
    c1 = cp[C1]
    # email: S1 delivered+opened+clicked (3 opens), S2 delivered + late open, S3 bounced,
    # S4 failed (not sent), S6 delivered; S5 deleted
    assert (c1["emails_sent"], c1["emails_delivered"], c1["emails_bounced"]) == (4, 3, 1)
    assert (c1["unique_opens"], c1["unique_clicks"], c1["total_opens"], c1["total_clicks"]) == (
        2,
        1,
        4,
        1,
    )
    assert (c1["unsubscribes"], c1["spam_reports"]) == (1, 1)
    assert c1["open_rate_pct"] == D("66.67")  # 2/3
    assert c1["click_rate_pct"] == D("33.33")  # 1/3
    assert c1["click_to_open_rate_pct"] == D("50.00")
    assert c1["bounce_rate_pct"] == D("25.00")  # 1/4
    assert c1["participating_retailers"] == 3  # R1 (twice), R2, R4 (inactive retailer)
    assert c1["budget_spent"] == D("3100.00") and c1["budget_utilization_pct"] == D("31.00")
    assert (c1["sms_sent"], c1["sms_delivered"], c1["sms_failed"], c1["sms_clicks"]) == (4, 2, 1, 1)
    assert c1["sms_delivery_rate_pct"] == D("50.00")
    # social: P1 published with 2 live analytics days (third deleted), P2 unpublished
    assert (c1["social_posts"], c1["social_impressions"], c1["social_reach"]) == (1, 1600, 1300)
    assert (c1["social_engagement"], c1["social_clicks"]) == (80, 14)
    assert c1["social_engagement_rate_pct"] == D("5.00")
    # ads: meta 120.00 + google 50.50 spend; 5000 + 1000 impressions; 50 + 10 clicks; 4 conv
    assert c1["ad_spend"] == D("170.50") and c1["ad_impressions"] == 6000
    assert c1["ad_clicks"] == 60 and c1["ad_conversions"] == 4 and c1["ad_revenue"] == D("800.00")
    assert c1["ad_ctr_pct"] == D("1.00")
    assert c1["ad_cpc"] == D("2.84")  # 170.50 / 60 = 2.8416…
    assert c1["ad_cpa"] == D("42.63")  # 170.50 / 4 = 42.625, half up
    assert c1["ad_roas"] == D("4.69")  # 800 / 170.50 = 4.6920…
    # orders: SO-1001 (8500 + 2 × 4500), SO-1002 (upper-case utm), SO-1008 (6200)
    assert c1["attributed_orders"] == 3 and c1["attributed_revenue"] == D("32200.00")

    c2 = cp[C2]
    assert (c2["emails_sent"], c2["emails_delivered"], c2["emails_bounced"]) == (2, 0, 2)
    assert c2["open_rate_pct"] is None and c2["click_rate_pct"] is None
    assert c2["click_to_open_rate_pct"] is None and c2["bounce_rate_pct"] == D("100.00")
    assert c2["budget_utilization_pct"] is None  # budget_allocated NULL
    assert c2["sms_sent"] == 0 and c2["sms_delivery_rate_pct"] is None
    assert c2["participating_retailers"] == 1  # R5's participation was hard-deleted
    assert c2["ad_spend"] == 20 and c2["ad_ctr_pct"] == D("0.00")
    assert c2["ad_cpc"] is None and c2["ad_cpa"] is None and c2["ad_roas"] == D("0.00")
    assert c2["attributed_orders"] == 1 and c2["attributed_revenue"] == D("18600.00")  # 3 × 6200

    c3 = cp[C3]
    assert c3["budget_utilization_pct"] is None  # budget_allocated 0
    counts = [k for k, v in c3.items() if isinstance(v, int | Decimal) and k != "budget_allocated"]
    assert all(c3[k] == 0 for k in counts if not k.endswith("_pct"))
    assert all(c3[k] is None for k in c3 if k.endswith("_pct"))
    assert c3["ad_cpc"] is None and c3["ad_cpa"] is None and c3["ad_roas"] is None

    c4 = cp[C4]
    assert c4["budget_utilization_pct"] == D("24.69")  # 1234.56 / 5000
    assert c4["social_posts"] == 1 and c4["social_impressions"] == 0
    assert c4["social_engagement_rate_pct"] is None
    assert c4["ad_impressions"] == 500 and c4["ad_ctr_pct"] == D("0.00")
    assert c4["ad_cpc"] is None and c4["ad_roas"] is None  # spend 0, clicks 0


def test_retailer_ranking_by_hand(hb: HandBuilt) -> None:
    rr = expected_retailer_ranking(hb)
    assert len(rr) == 12  # R4 inactive: none of its 3 rows; R3's 01-12 row deleted
    w05, w12, w19 = date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)

    def get(rid, period, day, *cols):
        return tuple(rr[(rid, period, day)][c] for c in cols)

    ranks = ("overall_rank", "regional_rank", "tier_rank")
    assert get(R1, "weekly", w05, *ranks) == (1, 1, 1)  # tie with R3 at 80; R4's 99 not ranked
    assert get(R3, "weekly", w05, *ranks) == (1, 1, 1)
    assert get(R5, "weekly", w05, *ranks, "performance_score") == (3, 1, 1, D("65.00"))
    assert get(R2, "weekly", w12, *ranks) == (1, 1, 1)
    assert get(R1, "weekly", w12, *ranks) == (2, 1, 2)  # R2 is premium now too
    assert get(R3, "weekly", w19, *ranks) == (3, 2, 1)  # East Coast = '  east  coast'
    trend = ("previous_performance_score", "score_change", "trend_direction")
    assert get(R1, "weekly", w05, *trend) == (None, None, None)
    assert get(R1, "weekly", w12, *trend) == (D("80.00"), D("5.50"), "up")
    assert get(R1, "weekly", w19, *trend) == (D("85.50"), D("0.00"), "stable")
    assert get(R3, "weekly", w19, *trend) == (D("80.00"), D("-5.00"), "down")  # not the deleted 90
    assert get(R5, "weekly", w19, *trend) == (D("65.00"), D("20.50"), "up")
    assert get(R1, "monthly", date(2026, 1, 1), *trend, *ranks) == (None, None, None, 1, 1, 1)
    assert get(R2, "monthly", date(2026, 1, 1), *trend, *ranks) == (
        D("70.00"),
        D("2.00"),
        "up",
        2,
        1,
        2,
    )
    assert get(R1, "weekly", w05, "region", "tier") == ("East Coast", "premium")
    assert get(R2, "weekly", w12, "region", "tier") == ("West Coast", "premium")
    assert get(R5, "daily", w19, "region", "tier", *ranks) == ("Gulf Coast", "standard", 1, 1, 1)


def test_regional_wish_list_by_hand(hb: HandBuilt) -> None:
    wl = expected_regional_wish_list(hb)
    assert len(wl) == 8 and not any(region == "Central" for region, _ in wl)  # R4 inactive

    def get(region, model, *cols):
        return tuple(wl[(region, model)][c] for c in cols)

    cols = ("total_wishes", "wishing_retailers", "rank_in_region", "share_of_region_pct")
    # East Coast total 17: M2 6 (5 → 6), M1 3 + 2, M4 5 (R1's 4 deleted), M3 1
    assert get("East Coast", M2, *cols) == (6, 1, 1, D("35.29"))
    assert get("East Coast", M1, *cols) == (5, 2, 2, D("29.41"))
    assert get("East Coast", M4, *cols) == (5, 1, 2, D("29.41"))
    assert get("East Coast", M3, *cols) == (1, 1, 4, D("5.88"))  # inactive model still listed
    assert get("West Coast", M1, *cols) == (3, 1, 1, D("75.00"))
    assert get("West Coast", M3, *cols) == (1, 1, 2, D("25.00"))
    assert get("Gulf Coast", M2, *cols) == (31, 1, 1, D("96.88"))
    assert get("Gulf Coast", M4, *cols) == (1, 1, 2, D("3.13"))
    assert get("Gulf Coast", M4, "model_name", "mpn", "brand_name") == (
        "Pilot Chrono 42",
        "PC42-TI",
        "Kessler Uhren",
    )
