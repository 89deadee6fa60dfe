"""The three public marts computed in plain Python from the hand-built world (no SQL).

This is the test oracle: it follows the marts contract line by line, on the source state
after the changes (``HandBuilt.rows``) and on the export files as they landed. It shares no
code with ingestion or dbt.

Decimal arithmetic throughout; ``round2`` rounds half up like PostgreSQL's round(numeric, 2).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from tests.fixtures.handbuilt import ExportFile, Good, HandBuilt

HUNDRED = Decimal(100)


def round2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def ratio(numerator: Any, denominator: Any, scale: Decimal = Decimal(1)) -> Decimal | None:
    """numerator / denominator × scale rounded to 2 decimals; NULL on a 0 or NULL denominator."""
    if denominator is None or Decimal(denominator) == 0:
        return None
    return round2(Decimal(numerator) * scale / Decimal(denominator))


def pct(numerator: Any, denominator: Any) -> Decimal | None:
    return ratio(numerator, denominator, HUNDRED)


def initcap(text: str) -> str:
    """PostgreSQL initcap: first letter of each alphanumeric run upper, the rest lower."""
    out, previous_alnum = [], False
    for ch in text:
        out.append((ch.lower() if previous_alnum else ch.upper()) if ch.isalnum() else ch)
        previous_alnum = ch.isalnum()
    return "".join(out)


def squish(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip())


def clean_region(text: str) -> str:
    return initcap(squish(text))


def clean_tier(text: str) -> str:
    return squish(text).lower()


def rank_desc(values: dict[Any, Decimal]) -> dict[Any, int]:
    """SQL RANK() over value descending: 1 + number of strictly greater values."""
    return {k: 1 + sum(1 for other in values.values() if other > v) for k, v in values.items()}


# -- exports: landing order, duplicates, restatements -----------------------------------------


def landed_files(files: Iterable[ExportFile]) -> tuple[list[ExportFile], list[ExportFile]]:
    """(loaded, duplicates) in landing order: mtime, then name; same bytes again = duplicate.

    Bad files (here: the 0-byte one) are neither: see :func:`expected_file_status`.
    """
    seen: set[str] = set()
    loaded, duplicates = [], []
    for f in sorted(files, key=lambda f: (f.mtime, f.name)):
        if f.raw_bytes is not None:
            continue
        digest = hashlib.sha256(f.render()).hexdigest()
        (duplicates if digest in seen else loaded).append(f)
        seen.add(digest)
    return loaded, duplicates


def _uuid_or_none(value: Any) -> UUID | None:
    return None if value in (None, "") else UUID(str(value))


def current_ad_metrics(hb: HandBuilt) -> list[dict]:
    current: dict[tuple, dict] = {}
    for f in landed_files(hb.export_files("ad_metrics"))[0]:
        for e in f.entries:
            if not isinstance(e, Good):
                continue
            r = e.record
            row = dict(
                date=date.fromisoformat(r["date"]),
                campaign_id=_uuid_or_none(r["campaign_id"]),
                platform=r["platform"],
                metric_type=r["metric_type"],
                value=Decimal(str(r["value"])),
            )
            current[(row["platform"], row["campaign_id"], row["date"], row["metric_type"])] = row
    return list(current.values())


def current_orders(hb: HandBuilt) -> list[dict]:
    current: dict[tuple, dict] = {}
    for f in landed_files(hb.export_files("orders"))[0]:
        for e in f.entries:
            if not isinstance(e, Good):
                continue
            r = e.record
            row = dict(
                order_id=r["order_id"],
                line_number=int(str(r["line_number"])),
                quantity=int(str(r["quantity"])),
                unit_price=Decimal(str(r["unit_price"])),
                utm_campaign=r["utm_campaign"],
                status=r["status"],
            )
            current[(row["order_id"], row["line_number"])] = row
    return list(current.values())


def _utm_campaign_id(utm: str | None) -> UUID | None:
    """A utm_campaign names a campaign when it is a uuid (case-insensitive, spaces trimmed)."""
    if utm is None:
        return None
    try:
        return UUID(utm.strip())
    except ValueError:
        return None


# -- marts.campaign_performance ----------------------------------------------------------------


def expected_campaign_performance(hb: HandBuilt) -> dict[UUID, dict]:
    brands = {b["brand_id"]: b for b in hb.rows("brands")}
    email_campaign_of = {
        e["email_campaign_id"]: e["campaign_id"] for e in hb.rows("email_campaigns")
    }
    sms_campaign_of = {s["sms_campaign_id"]: s["campaign_id"] for s in hb.rows("sms_campaigns")}
    post_campaign_of = {p["post_id"]: p["campaign_id"] for p in hb.rows("social_posts")}

    sends = defaultdict(list)
    for s in hb.rows("email_sends"):
        sends[email_campaign_of[s["email_campaign_id"]]].append(s)
    sms = defaultdict(list)
    for s in hb.rows("sms_sends"):
        sms[sms_campaign_of[s["sms_campaign_id"]]].append(s)
    posts = defaultdict(list)
    for p in hb.rows("social_posts"):
        posts[p["campaign_id"]].append(p)
    analytics = defaultdict(list)
    for a in hb.rows("social_analytics"):
        analytics[post_campaign_of[a["post_id"]]].append(a)
    participants = defaultdict(set)
    for cr in hb.rows("campaign_retailers"):
        if cr["participation_status"] == "active":
            participants[cr["campaign_id"]].add(cr["retailer_id"])
    ads = defaultdict(lambda: defaultdict(Decimal))
    for m in current_ad_metrics(hb):
        if m["campaign_id"] is not None:
            ads[m["campaign_id"]][m["metric_type"]] += m["value"]
    order_ids, revenue = defaultdict(set), defaultdict(Decimal)
    for o in current_orders(hb):
        cid = _utm_campaign_id(o["utm_campaign"])
        if cid is not None and o["status"] == "paid":
            order_ids[cid].add(o["order_id"])
            revenue[cid] += o["quantity"] * o["unit_price"]

    def count(rows: list[dict], predicate) -> int:
        return sum(1 for r in rows if predicate(r))

    out = {}
    for c in hb.rows("campaigns"):
        cid = c["campaign_id"]
        es, ss = sends[cid], sms[cid]
        emails_sent = count(es, lambda r: r["send_status"] != "failed")
        emails_delivered = count(es, lambda r: r["delivered_at"] is not None)
        emails_bounced = count(es, lambda r: r["send_status"] == "bounced")
        unique_opens = count(es, lambda r: r["opened_at"] is not None)
        unique_clicks = count(es, lambda r: r["clicked_at"] is not None)
        sms_sent = count(ss, lambda r: r["status"] in ("sent", "delivered", "failed"))
        sms_delivered = count(ss, lambda r: r["status"] == "delivered")
        an = analytics[cid]
        impressions = sum(a["impressions"] for a in an)
        engagement = sum(a["engagement"] for a in an)
        ad = ads[cid]
        spend, ad_clicks = ad["ad_spend"], ad["clicks"]
        out[cid] = dict(
            campaign_id=cid,
            campaign_name=c["campaign_name"],
            brand_id=c["brand_id"],
            brand_name=brands[c["brand_id"]]["brand_name"],
            campaign_type=c["campaign_type"],
            campaign_status=c["campaign_status"],
            start_date=c["start_date"],
            end_date=c["end_date"],
            budget_allocated=c["budget_allocated"],
            budget_spent=c["budget_spent"],
            budget_utilization_pct=pct(c["budget_spent"], c["budget_allocated"]),
            participating_retailers=len(participants[cid]),
            emails_sent=emails_sent,
            emails_delivered=emails_delivered,
            emails_bounced=emails_bounced,
            unique_opens=unique_opens,
            unique_clicks=unique_clicks,
            total_opens=sum(r["open_count"] or 0 for r in es),
            total_clicks=sum(r["click_count"] or 0 for r in es),
            unsubscribes=count(es, lambda r: r["unsubscribed_at"] is not None),
            spam_reports=count(es, lambda r: r["spam_reported_at"] is not None),
            open_rate_pct=pct(unique_opens, emails_delivered),
            click_rate_pct=pct(unique_clicks, emails_delivered),
            click_to_open_rate_pct=pct(unique_clicks, unique_opens),
            bounce_rate_pct=pct(emails_bounced, emails_sent),
            sms_sent=sms_sent,
            sms_delivered=sms_delivered,
            sms_failed=count(ss, lambda r: r["status"] == "failed"),
            sms_clicks=count(ss, lambda r: r["clicked_at"] is not None),
            sms_delivery_rate_pct=pct(sms_delivered, sms_sent),
            social_posts=count(posts[cid], lambda p: p["published_at"] is not None),
            social_impressions=impressions,
            social_reach=sum(a["reach"] for a in an),
            social_engagement=engagement,
            social_clicks=sum(a["clicks"] for a in an),
            social_engagement_rate_pct=pct(engagement, impressions),
            ad_spend=spend,
            ad_impressions=ad["impressions"],
            ad_clicks=ad_clicks,
            ad_conversions=ad["conversions"],
            ad_revenue=ad["revenue"],
            ad_ctr_pct=pct(ad_clicks, ad["impressions"]),
            ad_cpc=ratio(spend, ad_clicks),
            ad_cpa=ratio(spend, ad["conversions"]),
            ad_roas=ratio(ad["revenue"], spend),
            attributed_orders=len(order_ids[cid]),
            attributed_revenue=revenue[cid],
        )
    return out


# -- marts.retailer_ranking --------------------------------------------------------------------


def expected_retailer_ranking(hb: HandBuilt) -> dict[tuple[UUID, str, date], dict]:
    retailers = {r["retailer_id"]: r for r in hb.rows("retailers")}
    metrics = hb.rows("retailer_performance_metrics")

    # previous score: over each retailer's full history within the period, before any filter
    previous: dict[UUID, Decimal | None] = {}
    previous_row: dict[UUID, UUID | None] = {}  # metric_id -> metric_id of the previous date
    history = defaultdict(list)
    for m in metrics:
        history[(m["retailer_id"], m["metric_period"])].append(m)
    for rows in history.values():
        rows.sort(key=lambda m: m["metric_date"])
        for before, m in zip([None, *rows[:-1]], rows, strict=True):
            previous[m["metric_id"]] = None if before is None else before["performance_score"]
            previous_row[m["metric_id"]] = None if before is None else before["metric_id"]

    live = [m for m in metrics if retailers[m["retailer_id"]]["is_active"]]
    region = {rid: clean_region(r["region"]) for rid, r in retailers.items()}
    tier = {rid: clean_tier(r["tier"]) for rid, r in retailers.items()}

    def ranks(partition_of) -> dict[UUID, int]:
        groups = defaultdict(dict)
        for m in live:
            groups[partition_of(m)][m["metric_id"]] = m["performance_score"]
        return {k: v for g in groups.values() for k, v in rank_desc(g).items()}

    overall = ranks(lambda m: (m["metric_period"], m["metric_date"]))
    regional = ranks(lambda m: (m["metric_period"], m["metric_date"], region[m["retailer_id"]]))
    by_tier = ranks(lambda m: (m["metric_period"], m["metric_date"], tier[m["retailer_id"]]))

    def movement(rank_of: dict[UUID, int], metric_id: UUID) -> tuple[int | None, int | None]:
        """(rank at the retailer's own previous date of the period, previous - current)."""
        before = previous_row[metric_id]
        if before is None:
            return None, None
        return rank_of[before], rank_of[before] - rank_of[metric_id]

    out = {}
    for m in live:
        rid, prev = m["retailer_id"], previous[m["metric_id"]]
        prev_overall, overall_change = movement(overall, m["metric_id"])
        prev_regional, regional_change = movement(regional, m["metric_id"])
        prev_tier, tier_change = movement(by_tier, m["metric_id"])
        change = None if prev is None else m["performance_score"] - prev
        trend = (
            None if change is None else "up" if change > 0 else "down" if change < 0 else "stable"
        )
        out[(rid, m["metric_period"], m["metric_date"])] = dict(
            retailer_id=rid,
            retailer_name=retailers[rid]["retailer_name"],
            region=region[rid],
            tier=tier[rid],
            metric_period=m["metric_period"],
            metric_date=m["metric_date"],
            revenue=m["revenue"],
            orders_count=m["orders_count"],
            average_order_value=m["average_order_value"],
            conversion_rate=m["conversion_rate"],
            email_open_rate=m["email_open_rate"],
            social_engagement_rate=m["social_engagement_rate"],
            customer_satisfaction=m["customer_satisfaction"],
            net_promoter_score=m["net_promoter_score"],
            performance_score=m["performance_score"],
            overall_rank=overall[m["metric_id"]],
            regional_rank=regional[m["metric_id"]],
            tier_rank=by_tier[m["metric_id"]],
            previous_performance_score=prev,
            score_change=change,
            trend_direction=trend,
            previous_overall_rank=prev_overall,
            rank_change=overall_change,
            previous_regional_rank=prev_regional,
            regional_rank_change=regional_change,
            previous_tier_rank=prev_tier,
            tier_rank_change=tier_change,
        )
    return out


# -- marts.regional_wish_list ------------------------------------------------------------------


def expected_regional_wish_list(hb: HandBuilt) -> dict[tuple[str, UUID], dict]:
    retailers = {r["retailer_id"]: r for r in hb.rows("retailers")}
    models = {m["model_id"]: m for m in hb.rows("watch_models")}
    brands = {b["brand_id"]: b for b in hb.rows("brands")}

    totals: dict[tuple[str, UUID], int] = defaultdict(int)
    wishing: dict[tuple[str, UUID], set] = defaultdict(set)
    for w in hb.rows("wish_list_items"):
        retailer = retailers[w["retailer_id"]]
        if not retailer["is_active"]:
            continue
        key = (clean_region(retailer["region"]), w["model_id"])
        totals[key] += w["wish_count"]
        wishing[key].add(w["retailer_id"])

    region_total: dict[str, int] = defaultdict(int)
    by_region: dict[str, dict] = defaultdict(dict)
    for (region, model_id), total in totals.items():
        region_total[region] += total
        by_region[region][model_id] = Decimal(total)

    out = {}
    for (region, model_id), total in totals.items():
        m = models[model_id]
        out[(region, model_id)] = dict(
            region=region,
            model_id=model_id,
            model_name=m["model_name"],
            collection_name=m["collection_name"],
            brand_id=m["brand_id"],
            brand_name=brands[m["brand_id"]]["brand_name"],
            mpn=m["mpn"],
            size=m["size"],
            gender=m["gender"],
            material=m["material"],
            total_wishes=total,
            wishing_retailers=len(wishing[(region, model_id)]),
            rank_in_region=rank_desc(by_region[region])[model_id],
            share_of_region_pct=pct(total, region_total[region]),
        )
    return out


# -- ingestion-side facts the dataset sets up -------------------------------------------------


def expected_rejected_lines(hb: HandBuilt) -> dict[tuple[str, str, int], str]:
    """(export, file name, line) → trap, for every bad row of every file that lands (not dups)."""
    loaded, _ = landed_files(hb.files)
    return {(f.export, f.name, line): why for f in loaded for line, why in f.bad_lines().items()}


def expected_file_status(hb: HandBuilt) -> dict[tuple[str, str], str]:
    out = {}
    for export in {f.export for f in hb.files}:
        loaded, duplicates = landed_files(hb.export_files(export))
        out.update({(export, f.name): "loaded" for f in loaded})
        out.update({(export, f.name): "duplicate" for f in duplicates})
    out.update({(f.export, f.name): "rejected" for f in hb.files if f.raw_bytes is not None})
    return out
