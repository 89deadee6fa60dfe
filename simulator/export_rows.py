"""Rows of the export files: ad_metrics (long format), social_insights, orders.

Columns and value sets come from the export contract (ingestion/platform_exports/schemas.py,
through feeds.py), never restated. Every generator draws from the stream it is given, so the
same world and stream give the same rows.
"""

from __future__ import annotations

import zlib
from statistics import NormalDist

import numpy as np

from ingestion.platform_exports import schemas
from ingestion.platform_exports.feeds import FEEDS
from simulator.core import DAY, uuids
from simulator.world import World

AD_FIELDS = list(FEEDS["ad_metrics"].columns)
INSIGHT_FIELDS = list(FEEDS["social_insights"].columns)
ORDER_FIELDS = list(FEEDS["orders"].columns)
AD_PLATFORMS = list(schemas.AD_PLATFORMS)
METRIC_TYPES = list(schemas.AD_METRIC_TYPES)
ORDER_STATUSES = list(schemas.ORDER_STATUSES)
# JSONL/JSON files write these as JSON numbers: the contract's integer and numeric fields
NUMERIC_FIELDS = {
    export: [
        c for c, sql in FEEDS[export].columns.items() if sql.startswith(("integer", "numeric"))
    ]
    for export in ("ad_metrics", "social_insights", "orders")
}


def date_text(day: float) -> str:
    return str(np.datetime64("2026-10-01", "D") + int(day))


def jsonify(
    rows: list[dict[str, object]], numeric: list[str], rng: np.random.Generator
) -> list[dict[str, object]]:
    """For JSONL/JSON files: numbers as JSON numbers, a few as JSON strings ("12.50": valid)."""
    as_string = rng.random(len(rows)) < 0.05
    out = []
    for row, keep_text in zip(rows, as_string, strict=True):
        new = dict(row)
        if not keep_text:
            for f in numeric:
                v = new.get(f)
                if isinstance(v, str) and v != "":
                    new[f] = float(v) if "." in v else int(v)
        out.append(new)
    return out


# ---------------------------------------------------------------- ad_metrics


def ad_campaigns(w: World) -> np.ndarray:
    rng = w.rng("ads", "campaigns")
    cand = (~w.campaign_silent) & (
        (w.campaign_type == "mixed")
        | ((w.campaign_type == "social") & (rng.random(len(w.campaign_ids)) < 0.5))
    )
    return np.flatnonzero(cand)


AD_CTR = 0.012
"""Clicks per impression of a paid ad."""
AD_CPM = (12.0, 30.0)
"""Range of the cost of a thousand impressions (USD), drawn per row."""
AD_ORDER_VALUE = 2_800.0
"""Mean revenue of an ad conversion (USD): a watch, a strap, a service."""


def target_roas(owner_ids: np.ndarray) -> np.ndarray:
    """The ROAS a campaign (or a brand's own ads) earns on average, a pure function of its id
    (stable across files and ``--advance``): lognormal around 3.2, most between 1.5 and 7."""
    unique, inverse = np.unique(np.asarray(owner_ids, dtype=str), return_inverse=True)
    normal = NormalDist(np.log(3.2), 0.45)
    z = [normal.inv_cdf((zlib.crc32(x.encode()) + 0.5) / 2**32) for x in unique]
    return np.exp(np.asarray(z, dtype=np.float64))[inverse]


def ad_rows_for(
    w: World, rng: np.random.Generator, camp: np.ndarray, day: np.ndarray, platform: np.ndarray
) -> list[dict[str, object]]:
    """Six metric rows per (campaign, day, platform); campaign -1 = a brand-level row."""
    n = len(camp)
    owner = np.where(
        camp >= 0,
        w.campaign_ids[np.maximum(camp, 0)],
        w.brand_ids[np.clip(-camp - 1, 0, len(w.brand_ids) - 1)],
    )
    impressions = rng.lognormal(10.6, 0.7, n).astype(np.int64) + 100
    clicks = rng.binomial(impressions, AD_CTR)
    cpm = rng.uniform(*AD_CPM, n)
    spend = impressions * cpm / 1000
    # conversions per click such that the campaign earns about its target ROAS
    per_click = target_roas(owner) * (np.mean(AD_CPM) / 1000 / AD_CTR) / AD_ORDER_VALUE
    conversions = rng.binomial(clicks, np.minimum(per_click, 0.5))
    new_customers = rng.binomial(conversions, 0.6)
    revenue = conversions * AD_ORDER_VALUE * rng.lognormal(-0.045, 0.3, n)
    cur = np.asarray(["USD", "usd", "", "Usd"], dtype=object)[
        rng.choice(4, n, p=[0.8, 0.08, 0.1, 0.02])
    ]
    rows: list[dict[str, object]] = []
    for i in range(n):
        c = camp[i]
        brand = w.brand_ids[w.campaign_brand[c]] if c >= 0 else w.brand_ids[-c - 1]
        base = {
            "date": date_text(day[i]),
            "brand_id": brand,
            "campaign_id": w.campaign_ids[c] if c >= 0 else None,
            "platform": platform[i],
        }
        values = {
            "ad_spend": f"{spend[i]:.2f}",
            "impressions": str(impressions[i]),
            "clicks": str(clicks[i]),
            "conversions": str(conversions[i]),
            "revenue": f"{revenue[i]:.2f}",
            "new_customers": str(new_customers[i]),
        }
        for mt in METRIC_TYPES:
            money = mt in ("ad_spend", "revenue")
            rows.append(
                {
                    **base,
                    "metric_type": mt,
                    "value": values[mt],
                    "currency": cur[i] if money else "",
                }
            )
    return rows


def base_ad_rows(w: World) -> list[dict[str, object]]:
    rng = w.rng("ads", "rows")
    camp = ad_campaigns(w)
    first = w.campaign_start[camp]
    last = np.minimum(np.minimum(w.campaign_end[camp], -1), first + 6)
    ndays = (last - first + 1).astype(np.int64)
    c_rep = np.repeat(camp, ndays)
    d_rep = np.repeat(first, ndays) + (
        np.arange(ndays.sum()) - np.repeat(np.cumsum(ndays) - ndays, ndays)
    )
    n_plat = rng.integers(1, 3, len(c_rep))
    p0 = rng.integers(0, 3, len(c_rep))
    cs, ds, ps = [], [], []
    for k in range(2):
        sel = n_plat > k
        cs.append(c_rep[sel])
        ds.append(d_rep[sel])
        ps.append(np.asarray(AD_PLATFORMS, dtype=object)[(p0[sel] + k) % 3])
    # brand-level rows (no campaign): four days per brand; the key has no brand_id, so
    # brands share no (platform, date): brand b uses platform b % 3 and its own days
    nb = len(w.brand_ids)
    stride = -(-nb // 3) + 1
    b_idx = np.repeat(np.arange(nb), 4)
    j = np.tile(np.arange(4), nb)
    cs.append(-(b_idx + 1))
    ds.append(-(1.0 + b_idx // 3 + stride * j))
    ps.append(np.asarray(AD_PLATFORMS, dtype=object)[b_idx % 3])
    c_all, d_all, p_all = np.concatenate(cs), np.concatenate(ds), np.concatenate(ps)
    order = np.lexsort((p_all, c_all, d_all))
    return ad_rows_for(w, rng, c_all[order], d_all[order], p_all[order])


# ------------------------------------------------------------- social_insights


def insight_rows(w: World, rng: np.random.Generator, days: np.ndarray) -> list[dict[str, object]]:
    acc = np.flatnonzero(w.account_active)
    rows: list[dict[str, object]] = []
    growth = rng.uniform(0, 0.004, len(acc))
    no_views = np.isin(w.account_platform[acc], ["twitter", "youtube"])
    for d in days:
        n = len(acc)
        followers = (w.account_followers[acc] * (1 - growth * (-d))).astype(np.int64)
        reach = (followers * rng.uniform(0.02, 0.2, n)).astype(np.int64)
        impressions = reach + (reach * rng.uniform(0.1, 1.0, n)).astype(np.int64)
        engagement = rng.binomial(impressions, 0.03)
        views = rng.binomial(reach + 1, 0.05)
        for j, a in enumerate(acc):
            rows.append(
                {
                    "date": date_text(d),
                    "account_id": w.account_ids[a],
                    "platform": w.account_platform[a],
                    "followers": str(followers[j]),
                    "reach": str(reach[j]),
                    "impressions": str(impressions[j]),
                    "engagement": str(engagement[j]),
                    "profile_views": None if no_views[j] else str(views[j]),
                }
            )
    return rows


# ---------------------------------------------------------------------- orders


def order_rows(
    w: World,
    rng: np.random.Generator,
    n_lines: int,
    day_lo: float,
    day_hi: float,
    first_number: int,
) -> list[dict[str, object]]:
    """Orders placed in [day_lo, day_hi) (days vs DAY0), about ``n_lines`` lines, time-ordered."""
    n_orders = max(1, n_lines * 2 // 5)
    when = np.sort(rng.uniform(day_lo, day_hi, n_orders)) * DAY
    has_cust = rng.random(n_orders) < 0.8
    cust = rng.integers(0, len(w.customer_ids), n_orders)
    retailer = np.where(
        has_cust, w.customer_retailer[cust], rng.integers(0, len(w.retailer_ids), n_orders)
    )
    active = w.active_campaigns()
    u = rng.random(n_orders)
    utm = np.where(
        u < 0.7, w.campaign_ids[active[rng.integers(0, len(active), n_orders)]], None
    ).astype(object)
    texts = np.asarray(["newsletter", "instagram_bio", "spring-sale", "google / cpc"], dtype=object)
    utm[(u >= 0.7) & (u < 0.8)] = texts[rng.integers(0, len(texts), ((u >= 0.7) & (u < 0.8)).sum())]
    unknown = (u >= 0.8) & (u < 0.85)
    utm[unknown] = uuids(rng, int(unknown.sum()))
    status = np.asarray(ORDER_STATUSES, dtype=object)[rng.choice(3, n_orders, p=[0.9, 0.05, 0.05])]
    currency = np.asarray(["USD", "usd", ""], dtype=object)[
        rng.choice(3, n_orders, p=[0.85, 0.07, 0.08])
    ]
    lines = 1 + np.minimum(rng.poisson(1.5, n_orders), 5)
    models = np.flatnonzero(w.model_active)
    rows: list[dict[str, object]] = []
    stamp = np.datetime64("2026-10-01T00:00:00", "s") + when.astype(np.int64).astype(
        "timedelta64[s]"
    )
    stamps = np.datetime_as_string(stamp, unit="s")
    for i in range(n_orders):
        m = models[rng.integers(0, len(models), lines[i])]
        qty = np.where(rng.random(lines[i]) < 0.9, 1, 2)
        for ln in range(lines[i]):
            price = w.model_price[m[ln]]
            rows.append(
                {
                    "order_id": f"CS-{first_number + i:07d}",
                    "line_number": str(ln + 1),
                    "retailer_id": w.retailer_ids[retailer[i]],
                    "ordered_at": f"{stamps[i]}Z",
                    "customer_id": w.customer_ids[cust[i]] if has_cust[i] else None,
                    "model_mpn": w.model_mpn[m[ln]],
                    "quantity": str(qty[ln]),
                    "unit_price": f"{price:.2f}",
                    "currency": currency[i],
                    "utm_campaign": utm[i],
                    "status": status[i],
                }
            )
    return rows


def by_day(
    rows: list[dict[str, object]], key: str, bounds: list[tuple[float, float]]
) -> list[list[dict[str, object]]]:
    out: list[list[dict[str, object]]] = [[] for _ in bounds]
    start = np.datetime64("2026-10-01", "D")
    for r in rows:
        d = int((np.datetime64(str(r[key])[:10], "D") - start).astype(int))
        for b, (lo, hi) in enumerate(bounds):
            if lo <= d < hi:
                out[b].append(r)
                break
    return out
