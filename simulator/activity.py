"""Activity tables of the app database: sends, posts, analytics, interactions, metrics, wishes.

Generators take the :class:`World` and yield DataFrames (the two largest tables in chunks).
The row-level generators for email sends, social analytics and daily metrics are shared with
``advance`` so a simulated day looks like the history before it.

Why one module of ~650 lines: each activity table draws from the shared random stream in a
fixed order (see ``world.py``), and the sends/analytics generators are reused by
``advance``; one file keeps that order readable top to bottom.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simulator.core import (
    DAY,
    HISTORY_DAYS,
    HOUR,
    dates,
    money,
    pick,
    rng_for,
    ts,
    uuids,
    with_nulls,
)
from simulator.world import Pools, World

EMAIL_CHUNK = 250_000
Table = dict[str, np.ndarray]
"""Column name -> values, in table column order (lighter than a DataFrame for big tables)."""


def table(columns: dict[str, object]) -> Table:
    return {name: np.asarray(values) for name, values in columns.items()}


USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    "Microsoft Outlook 16.0",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
BOUNCE_REASONS = [
    "mailbox full",
    "unknown user",
    "domain not found",
    "rejected as spam",
    "mailbox inactive",
]


@dataclass
class Recipients:
    """A pool of email recipients (the same people receive many emails)."""

    names: np.ndarray
    emails: np.ndarray
    ips: np.ndarray
    locations: np.ndarray


def make_recipients(seed: int, pools: Pools, n: int) -> Recipients:
    rng = rng_for(seed, "recipients")
    first = pools.first_names[rng.integers(0, len(pools.first_names), n)]
    last = pools.last_names[rng.integers(0, len(pools.last_names), n)]
    domain = pick(rng, ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"], n)
    capital = rng.random(n) < 0.05
    emails = []
    for i, (f, la, d, cap) in enumerate(zip(first, last, domain, capital, strict=True)):
        local = f"{f}.{la}{i}".replace(" ", "").replace("'", "")
        emails.append(f"{local if cap else local.lower()}@{d}")
    octets = rng.integers(1, 255, (5_000, 4))
    ips = np.array([".".join(str(x) for x in row) for row in octets], dtype=object)
    cities = pools.cities[: min(60, len(pools.cities))]
    locations = np.array(
        [
            json.dumps({"city": c, "country": "US", "state": s})
            for c, s in zip(
                cities, pools.states[rng.integers(0, len(pools.states), len(cities))], strict=True
            )
        ],
        dtype=object,
    )
    names = np.array([f"{a} {b}" for a, b in zip(first, last, strict=True)], dtype=object)
    return Recipients(
        names=names, emails=np.array(emails, dtype=object), ips=ips, locations=locations
    )


def _nanmax(*arrays: np.ndarray) -> np.ndarray:
    stacked = np.vstack(arrays)
    return np.nanmax(stacked, axis=0)


def engagement_rates(email_campaign_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per send: the chance its email campaign's message is opened (of delivered) and clicked
    (of opened). Each email campaign has its own pull, a pure function of its id (so
    ``--advance`` sends of the same campaign behave alike): opens 27-40 %, clicks 10-22 % of
    the opens (click rate ≈ 2.5-8 % of delivered), as retail newsletters see."""
    unique, inverse = np.unique(np.asarray(email_campaign_ids, dtype=str), return_inverse=True)
    h = np.array([zlib.crc32(x.encode()) for x in unique], dtype=np.float64) / 0xFFFFFFFF
    g = np.array([zlib.crc32(x.encode()[::-1]) for x in unique], dtype=np.float64) / 0xFFFFFFFF
    return (0.27 + 0.13 * h)[inverse], (0.10 + 0.12 * g)[inverse]


def email_sends_frame(
    rng: np.random.Generator,
    recipients: Recipients,
    created: np.ndarray,
    email_campaign_ids: np.ndarray,
    retailer_ids: np.ndarray,
    horizon: float,
) -> Table:
    """Email sends created at ``created`` (seconds vs DAY0); no event at or after ``horizon``.

    Internally consistent: bounced sends were never delivered, failed ones never sent;
    opened after delivered, clicked after opened; counts >= 1 exactly when the event is set;
    updated_at is the latest event.
    """
    n = len(created)
    u = rng.random(n)
    status = np.select(
        [u < 0.80, u < 0.87, u < 0.93], ["delivered", "sent", "bounced"], "failed"
    ).astype(object)
    nan = np.full(n, np.nan)
    sent = np.where(status == "failed", nan, created + rng.uniform(5, 600, n))
    delivered = np.where(status == "delivered", sent + rng.uniform(1, 120, n), nan)
    open_p, click_p = engagement_rates(email_campaign_ids)
    opened = np.where(rng.random(n) < open_p, delivered + rng.exponential(6 * HOUR, n) + 60, nan)
    clicked = np.where(rng.random(n) < click_p, opened + rng.exponential(HOUR, n) + 5, nan)
    unsub = np.where(rng.random(n) < 0.02, opened + rng.uniform(60, 2 * DAY, n), nan)
    spam = np.where(rng.random(n) < 0.004, delivered + rng.uniform(600, 3 * DAY, n), nan)
    for arr in (opened, clicked, unsub, spam):
        arr[arr >= horizon] = np.nan
    clicked[np.isnan(opened)] = np.nan
    unsub[np.isnan(opened)] = np.nan
    open_count = np.where(np.isnan(opened), 0, 1 + rng.geometric(0.6, n) - 1)
    click_count = np.where(np.isnan(clicked), 0, 1 + rng.geometric(0.7, n) - 1)
    updated = _nanmax(created, sent, delivered, opened, clicked, unsub, spam)
    who = rng.integers(0, len(recipients.emails), n)
    engaged = ~np.isnan(opened)
    return table(
        {
            "send_id": uuids(rng, n),
            "email_campaign_id": email_campaign_ids,
            "retailer_id": retailer_ids,
            "recipient_email": recipients.emails[who],
            "recipient_name": with_nulls(recipients.names[who], rng.random(n) < 0.05),
            "send_status": status,
            "sent_at": ts(sent),
            "delivered_at": ts(delivered),
            "opened_at": ts(opened),
            "clicked_at": ts(clicked),
            "open_count": open_count,
            "click_count": click_count,
            "bounce_reason": with_nulls(pick(rng, BOUNCE_REASONS, n), status != "bounced"),
            "unsubscribed_at": ts(unsub),
            "spam_reported_at": ts(spam),
            "user_agent": with_nulls(pick(rng, USER_AGENTS, n), ~engaged),
            "ip_address": with_nulls(
                recipients.ips[rng.integers(0, len(recipients.ips), n)], ~engaged
            ),
            "location_data": with_nulls(
                recipients.locations[rng.integers(0, len(recipients.locations), n)], ~engaged
            ),
            "created_at": ts(created),
            "updated_at": ts(updated),
        }
    )


def _campaign_window(w: World, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days [first, last] in which campaign ``idx`` had activity (all before DAY0)."""
    first = w.campaign_start[idx]
    last = np.maximum(np.minimum(w.campaign_end[idx], -1), first)
    return first, last


def campaign_retailers(w: World) -> Table:
    rng = w.rng("campaign_retailers")
    camp = w.active_campaigns()
    k = rng.integers(2, 9, len(camp))
    rows_c, rows_r = [], []
    for c, kk in zip(camp, k, strict=True):
        rows_c.append(np.full(kk, c))
        rows_r.append(rng.choice(w.sizes.retailers, min(kk, w.sizes.retailers), replace=False))
    c_idx = np.concatenate(rows_c)
    r_idx = np.concatenate(rows_r)[: len(c_idx)]
    n = len(c_idx)
    joined = w.campaign_start[c_idx] - rng.integers(0, 10, n)
    created = (joined + rng.uniform(0, 0.9, n)) * DAY
    return table(
        {
            "id": uuids(rng, n),
            "campaign_id": w.campaign_ids[c_idx],
            "retailer_id": w.retailer_ids[r_idx],
            "participation_status": pick(
                rng, ["active", "inactive", "pending"], n, p=[0.8, 0.1, 0.1]
            ),
            "joined_date": dates(joined),
            "performance_score": with_nulls(money(rng.uniform(20, 99.99, n)), rng.random(n) < 0.2),
            "notes": with_nulls(
                w.pools.sentences[rng.integers(0, len(w.pools.sentences), n)], rng.random(n) < 0.7
            ),
            "created_at": ts(created),
        }
    )


def email_campaigns(w: World) -> Table:
    rng = w.rng("email_campaigns")
    camp = np.flatnonzero(~w.campaign_silent & np.isin(w.campaign_type, ["email", "mixed"]))
    per = 1 + rng.poisson(0.6, len(camp))
    c_idx = np.repeat(camp, per)
    n = len(c_idx)
    first, last = _campaign_window(w, c_idx)
    sent_day = first + rng.random(n) * (last - first)
    sent = sent_day * DAY + rng.uniform(8, 12, n) * HOUR
    w.ec_ids = uuids(rng, n)
    w.ec_sent = sent
    w.ec_alloc = allocate(rng, w.sizes.email_sends, rng.lognormal(0, 0.8, n))
    brand_names = w.tables["brands"]["brand_name"].to_numpy()[w.campaign_brand[c_idx]]
    return table(
        {
            "email_campaign_id": w.ec_ids,
            "campaign_id": w.campaign_ids[c_idx],
            "email_subject": np.array(
                [
                    f"{s.rstrip('.')} | {b}"
                    for s, b in zip(
                        w.pools.sentences[rng.integers(0, len(w.pools.sentences), n)],
                        brand_names,
                        strict=True,
                    )
                ],
                dtype=object,
            ),
            "sender_email": np.array(
                [
                    f"news@{''.join(ch for ch in b.lower() if ch.isalnum())[:20]}.com"
                    for b in brand_names
                ],
                dtype=object,
            ),
            "sender_name": brand_names,
            "template_id": with_nulls(uuids(rng, n), rng.random(n) < 0.3),
            "total_recipients": np.bincount(w.ec_alloc, minlength=n),
            "sent_at": ts(sent),
            "created_at": ts(sent - rng.uniform(1, 5, n) * DAY),
            "updated_at": ts(sent + HOUR),
        }
    )


def allocate(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """``n`` parent indexes: every parent at least once, the rest by weight."""
    k = len(weights)
    rest = (
        rng.choice(k, n - k, p=weights / weights.sum()) if n > k else np.array([], dtype=np.int64)
    )
    return np.concatenate([np.arange(min(k, n)), rest]).astype(np.int64)


def email_sends(w: World, recipients: Recipients) -> Iterator[Table]:
    rng = w.rng("email_sends", "retailers")
    n = w.sizes.email_sends
    ec = w.ec_alloc
    retailer = rng.integers(0, w.sizes.retailers, n)
    inactive = np.flatnonzero(~w.retailer_active)
    retailer[-len(inactive) :] = inactive
    for c, start in enumerate(range(0, n, EMAIL_CHUNK)):
        sl = slice(start, min(n, start + EMAIL_CHUNK))
        crng = rng_for(w.seed, "email_sends", c)
        created = w.ec_sent[ec[sl]] + crng.uniform(0, 2 * HOUR, sl.stop - sl.start)
        yield email_sends_frame(
            crng, recipients, created, w.ec_ids[ec[sl]], w.retailer_ids[retailer[sl]], 0.0
        )


def sms_campaigns(w: World) -> Table:
    rng = w.rng("sms_campaigns")
    camp = np.flatnonzero(~w.campaign_silent & np.isin(w.campaign_type, ["sms", "mixed"]))
    per = 1 + rng.poisson(0.3, len(camp))
    c_idx = np.repeat(camp, per)
    n = len(c_idx)
    first, last = _campaign_window(w, c_idx)
    sent = (first + rng.random(n) * (last - first)) * DAY + rng.uniform(10, 14, n) * HOUR
    w.sms_ids, w.sms_sent = uuids(rng, n), sent
    w.sms_alloc = allocate(rng, w.sizes.sms_sends, rng.lognormal(0, 0.6, n))
    return table(
        {
            "sms_campaign_id": w.sms_ids,
            "campaign_id": w.campaign_ids[c_idx],
            "sms_content": np.array(
                [
                    f"{s} Reply STOP to opt out."
                    for s in w.pools.sentences[rng.integers(0, len(w.pools.sentences), n)]
                ],
                dtype=object,
            ),
            "sender_number": np.array(
                [f"+1{x}" for x in rng.integers(2_000_000_000, 9_999_999_999, n)], dtype=object
            ),
            "total_recipients": np.bincount(w.sms_alloc, minlength=n),
            "sent_at": ts(sent),
            "created_at": ts(sent - rng.uniform(1, 4, n) * DAY),
        }
    )


def sms_sends(w: World) -> Table:
    rng = w.rng("sms_sends")
    n = w.sizes.sms_sends
    sc = w.sms_alloc
    retailer = rng.integers(0, w.sizes.retailers, n)
    created = w.sms_sent[sc] + rng.uniform(0, HOUR, n)
    u = rng.random(n)
    status = np.select(
        [u < 0.8, u < 0.88, u < 0.95], ["delivered", "sent", "failed"], "pending"
    ).astype(object)
    nan = np.full(n, np.nan)
    sent = np.where(np.isin(status, ["delivered", "sent"]), created + rng.uniform(1, 60, n), nan)
    delivered = np.where(status == "delivered", sent + rng.uniform(1, 30, n), nan)
    clicked = np.where(rng.random(n) < 0.12, delivered + rng.exponential(2 * HOUR, n), nan)
    clicked[clicked >= 0] = np.nan
    updated = _nanmax(created, sent, delivered, clicked)
    first = w.pools.first_names[rng.integers(0, len(w.pools.first_names), n)]
    last = w.pools.last_names[rng.integers(0, len(w.pools.last_names), n)]
    return table(
        {
            "sms_send_id": uuids(rng, n),
            "sms_campaign_id": w.sms_ids[sc],
            "retailer_id": w.retailer_ids[retailer],
            "recipient_phone": np.char.add(
                "+1", rng.integers(2_000_000_000, 9_999_999_999, n).astype(str)
            ).astype(object),
            "recipient_name": with_nulls(
                np.char.add(np.char.add(first.astype(str), " "), last.astype(str)).astype(object),
                rng.random(n) < 0.1,
            ),
            "status": status,
            "sent_at": ts(sent),
            "delivered_at": ts(delivered),
            "clicked_at": ts(clicked),
            "failure_reason": with_nulls(
                pick(rng, ["invalid number", "carrier rejected", "opted out"], n),
                status != "failed",
            ),
            "created_at": ts(created),
            "updated_at": ts(updated),
        }
    )


def social_posts(w: World) -> Table:
    rng = w.rng("social_posts")
    n = w.sizes.social_posts
    social = np.flatnonzero(~w.campaign_silent & np.isin(w.campaign_type, ["social", "mixed"]))
    camp = np.full(n, -1)
    camp[: len(social)] = social
    extra = np.arange(len(social), n)
    with_c = extra[rng.random(len(extra)) < 0.5]
    camp[with_c] = rng.choice(social, len(with_c))
    has_c = camp >= 0
    counts = w.brand_account_counts
    offsets = np.cumsum(counts) - counts
    account = rng.integers(0, len(w.account_ids), n)
    b = w.campaign_brand[camp[has_c]]
    account[has_c] = offsets[b] + (rng.integers(0, 1 << 30, has_c.sum()) % counts[b])
    day = np.floor(rng.uniform(-HISTORY_DAYS, 0, n))
    first, last = _campaign_window(w, camp[has_c])
    day[has_c] = np.floor(first + rng.random(has_c.sum()) * (last - first + 0.999))
    published = day * DAY + rng.uniform(8, 20, n) * HOUR
    scheduled = np.where(rng.random(n) < 0.7, published - rng.uniform(1, 48, n) * HOUR, np.nan)
    created = (
        np.fmin(published, np.nan_to_num(scheduled, nan=np.inf)) - rng.uniform(1, 72, n) * HOUR
    )
    ptype = pick(
        rng,
        ["text", "image", "video", "carousel", "story", "reel"],
        n,
        p=[0.05, 0.4, 0.15, 0.15, 0.1, 0.15],
    )
    w.post_ids, w.post_day, w.post_type = uuids(rng, n), day, ptype
    w.post_reach = rng.lognormal(6.5, 1.0, n) * np.log10(w.account_followers[account] + 10)
    return table(
        {
            "post_id": w.post_ids,
            "account_id": w.account_ids[account],
            "campaign_id": np.where(has_c, w.campaign_ids[np.maximum(camp, 0)], None),
            "post_content": with_nulls(
                w.pools.sentences[rng.integers(0, len(w.pools.sentences), n)], rng.random(n) < 0.05
            ),
            "post_type": ptype,
            "external_post_id": np.array(
                [
                    f"{p[:2].upper()}{x}"
                    for p, x in zip(
                        w.account_platform[account], rng.integers(10**11, 10**12, n), strict=True
                    )
                ],
                dtype=object,
            ),
            "scheduled_at": ts(scheduled),
            "published_at": ts(published),
            "created_at": ts(created),
            "updated_at": ts(published + rng.uniform(0, 2, n) * HOUR),
        }
    )


def analytics_frame(
    rng: np.random.Generator,
    post_ids: np.ndarray,
    day: np.ndarray,
    age: np.ndarray,
    reach_base: np.ndarray,
    is_video: np.ndarray,
) -> Table:
    """One analytics row per (post, day); created late on that day."""
    n = len(post_ids)
    decay = np.exp(-age / 6.0) + 0.02
    reach = (reach_base * decay * rng.uniform(0.7, 1.3, n)).astype(np.int64) + 1
    impressions = reach + (reach * rng.uniform(0.1, 0.8, n)).astype(np.int64)
    likes = rng.binomial(reach, 0.04)
    comments = rng.binomial(reach, 0.004)
    shares = rng.binomial(reach, 0.002)
    saves = rng.binomial(reach, 0.003)
    clicks = rng.binomial(reach, 0.01)
    video_views = np.where(is_video, rng.binomial(impressions, 0.5), -1).astype(object)
    video_views[~is_video] = None
    return table(
        {
            "analytics_id": uuids(rng, n),
            "post_id": post_ids,
            "analytics_date": dates(day),
            "impressions": impressions,
            "reach": reach,
            "engagement": likes + comments + shares + saves,
            "likes": likes,
            "comments": comments,
            "shares": shares,
            "saves": saves,
            "clicks": clicks,
            "video_views": video_views,
            "created_at": ts(day * DAY + 23 * HOUR + rng.uniform(0, 50 * 60, n)),
        }
    )


ANALYTICS_WINDOW_MAX = 46


def social_analytics(w: World) -> Iterator[Table]:
    rng = w.rng("social_analytics", "windows")
    window = rng.integers(12, ANALYTICS_WINDOW_MAX, len(w.post_ids))
    w.post_window = window
    count = np.minimum(window, -w.post_day).astype(np.int64)
    is_video = np.isin(w.post_type, ["video", "reel"])
    # chunk by posts, ~250k rows per chunk
    bounds = np.searchsorted(
        np.cumsum(count), np.arange(EMAIL_CHUNK, count.sum() + EMAIL_CHUNK, EMAIL_CHUNK)
    )
    lo = 0
    for c, hi in enumerate(np.unique(np.minimum(bounds + 1, len(count)))):
        idx = np.repeat(np.arange(lo, hi), count[lo:hi])
        age = np.arange(len(idx)) - np.repeat(np.cumsum(count[lo:hi]) - count[lo:hi], count[lo:hi])
        crng = rng_for(w.seed, "social_analytics", c)
        yield analytics_frame(
            crng, w.post_ids[idx], w.post_day[idx] + age, age, w.post_reach[idx], is_video[idx]
        )
        lo = hi


def customer_interactions(w: World) -> Table:
    rng = w.rng("customer_interactions")
    n = w.sizes.customer_interactions
    cust = rng.integers(0, len(w.customer_ids), n)
    itype = pick(
        rng, ["phone_call", "email", "in_store_visit", "follow_up", "inquiry", "complaint"], n
    )
    active = w.active_campaigns()
    u = rng.random(n)
    camp = w.campaign_ids[active[rng.integers(0, len(active), n)]]
    source = pick(rng, ["email", "sms", "social", "walk_in"], n)
    meta = np.empty(n, dtype=object)
    for i in range(n):
        if u[i] < 0.3:
            meta[i] = json.dumps({"campaign_id": camp[i], "source": source[i]})
        elif u[i] < 0.8:
            meta[i] = json.dumps({"source": source[i]})
    when = rng.uniform(-HISTORY_DAYS, -0.1, n) * DAY
    created = when + rng.uniform(0, HOUR, n)
    follow = rng.random(n) < 0.2
    staff = np.array(
        [
            f"{a} {b}"
            for a, b in zip(
                w.pools.first_names[rng.integers(0, len(w.pools.first_names), n)],
                w.pools.last_names[rng.integers(0, len(w.pools.last_names), n)],
                strict=True,
            )
        ],
        dtype=object,
    )
    rating = rng.integers(1, 6, n).astype(object)
    rating[rng.random(n) < 0.3] = None
    return table(
        {
            "interaction_id": uuids(rng, n),
            "customer_id": w.customer_ids[cust],
            "retailer_id": w.retailer_ids[w.customer_retailer[cust]],
            "interaction_type": itype,
            "interaction_channel": pick(rng, ["phone", "email", "in_store", "sms", "instagram"], n),
            "interaction_subject": w.pools.sentences[rng.integers(0, len(w.pools.sentences), n)],
            "interaction_details": with_nulls(
                w.pools.sentences[rng.integers(0, len(w.pools.sentences), n)], rng.random(n) < 0.3
            ),
            "interaction_outcome": pick(
                rng, ["resolved", "purchase", "no_action", "escalated", "appointment_booked"], n
            ),
            "staff_member": staff,
            "interaction_duration": rng.integers(1, 90, n),
            "interaction_rating": rating,
            "follow_up_required": follow,
            "follow_up_date": with_nulls(
                dates(np.floor(when / DAY) + rng.integers(1, 14, n)), ~follow
            ),
            "metadata": meta,
            "interaction_date": ts(when),
            "created_at": ts(created),
            "updated_at": ts(
                np.minimum(created + rng.uniform(0, 3, n) * DAY * (rng.random(n) < 0.3), -1.0)
            ),
        }
    )


def _period_dates() -> list[tuple[str, list[int]]]:
    monthly = [
        int((np.datetime64(f"2026-{m:02d}-01") - np.datetime64("2026-10-01")).astype(int))
        for m in range(4, 10)
    ]
    return [
        ("daily", list(range(-60, 0))),
        ("weekly", [-7 * j for j in range(1, 27)]),
        ("monthly", monthly),
        ("quarterly", [monthly[0], monthly[3]]),
    ]


SCORE_STEP = 0.35
"""Standard deviation of a retailer's day-to-day score move (points); a week moves √7 as far."""
SCORE_PULL = 0.03
"""Share of its distance to its own long-run level a score closes each day (mean reversion)."""


def score_levels(retailer_ids: np.ndarray) -> np.ndarray:
    """Each retailer's long-run performance score, a pure function of its id: 55-95, most 65-85."""
    u = np.array([zlib.crc32(str(x).encode()) for x in retailer_ids], dtype=np.float64) / 0xFFFFFFFF
    v = (
        np.array([zlib.crc32(str(x).encode()[::-1]) for x in retailer_ids], dtype=np.float64)
        / 0xFFFFFFFF
    )
    return 55 + 40 * (u + v) / 2  # triangular: the middle of the field is crowded


def drift_scores(
    rng: np.random.Generator,
    level: np.ndarray,
    days: list[int],
    scale: int,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """(retailer x date) scores that drift: each date moves a little from the one before and
    is pulled back toward the retailer's level, so ranks change by a few places per date.
    ``start``: the scores of the date before the first one (else the level plus noise)."""
    nr, nd = len(level), len(days)
    step = SCORE_STEP * np.sqrt(scale)
    pull = 1 - (1 - SCORE_PULL) ** scale
    prev = level + rng.normal(0, 2, nr) if start is None else np.asarray(start, np.float64)
    out = np.empty((nr, nd))
    for j in range(nd):
        prev = prev + pull * (level - prev) + rng.normal(0, step, nr)
        prev = np.clip(np.round(prev, 2), 1, 99.99)
        out[:, j] = prev
    return out


def metrics_frame(
    rng: np.random.Generator,
    w_retailer_ids: np.ndarray,
    period: str,
    days: list[int],
    previous_scores: np.ndarray | None = None,
    tie: tuple[int, int] = (0, 1),
) -> Table:
    """A full (retailer x date) grid for one period; retailers ``tie`` tie on score per date.

    Scores drift from date to date (``drift_scores``); ``previous_scores`` (aligned with
    ``w_retailer_ids``, NaN = none) continue an existing history, as ``--advance`` does.
    """
    nr, nd = len(w_retailer_ids), len(days)
    n = nr * nd
    day = np.tile(np.asarray(days, dtype=np.float64), nr)
    scale = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91}[period]
    orders = rng.poisson(4 * scale, n)
    aov = rng.lognormal(7.6, 0.4, n)
    level = score_levels(w_retailer_ids)
    start = None
    if previous_scores is not None:
        start = np.where(np.isnan(previous_scores), level, previous_scores)
    score = drift_scores(rng, level, days, scale, start)
    if nr > 1:
        score[tie[1], :] = score[tie[0], :]
    created = day * DAY + 23 * HOUR + rng.uniform(0, 50 * 60, n)
    return table(
        {
            "metric_id": uuids(rng, n),
            "retailer_id": np.repeat(w_retailer_ids, nd),
            "metric_date": dates(day),
            "metric_period": np.full(n, period, dtype=object),
            "revenue": money(orders * aov),
            "orders_count": orders,
            "average_order_value": money(aov),
            "customer_acquisition_cost": money(rng.uniform(20, 400, n)),
            "customer_lifetime_value": money(rng.uniform(1_000, 20_000, n)),
            "conversion_rate": money(rng.uniform(0.5, 8, n)),
            "email_open_rate": money(rng.uniform(15, 45, n)),
            "email_click_rate": money(rng.uniform(1, 8, n)),
            "social_engagement_rate": money(rng.uniform(0.5, 6, n)),
            "social_follower_growth": rng.integers(-20, 200, n) * scale,
            "website_traffic": rng.poisson(300 * scale, n),
            "bounce_rate": money(rng.uniform(20, 70, n)),
            "page_views": rng.poisson(900 * scale, n),
            "session_duration": rng.integers(30, 600, n),
            "inventory_turnover": money(rng.uniform(0.5, 12, n)),
            "return_rate": money(rng.uniform(0, 15, n)),
            "customer_satisfaction": np.char.mod("%.1f", rng.integers(10, 51, n) / 10).astype(
                object
            ),
            "net_promoter_score": rng.integers(-100, 101, n),
            "market_share": money(rng.uniform(0, 12, n)),
            "competitive_ranking": rng.integers(1, 50, n),
            "performance_score": money(score.ravel()),
            "created_at": ts(created),
            "updated_at": ts(created + rng.uniform(0, 600, n)),
        }
    )


def retailer_performance_metrics(w: World) -> Iterator[Table]:
    for period, days in _period_dates():
        yield metrics_frame(w.rng("metrics", period), w.retailer_ids, period, days)


def retailer_scores(w: World) -> Table:
    rng = w.rng("retailer_scores")
    per = 10
    nr = w.sizes.retailers
    n = nr * per
    calc = (np.tile(np.arange(per), nr) * 7 - 70) * DAY + rng.uniform(0, 6 * HOUR, n)
    return table(
        {
            "score_id": uuids(rng, n),
            "retailer_id": np.repeat(w.retailer_ids, per),
            "email_response_time_hours": np.char.mod("%.1f", rng.uniform(0.2, 72, n)).astype(
                object
            ),
            "social_response_time_hours": np.char.mod("%.1f", rng.uniform(0.1, 48, n)).astype(
                object
            ),
            "social_post_frequency_per_week": np.char.mod("%.1f", rng.uniform(0, 21, n)).astype(
                object
            ),
            "response_quality_grade": pick(rng, ["A", "B", "C"], n, p=[0.3, 0.5, 0.2]),
            "first_followup_time_hours": np.char.mod("%.1f", rng.uniform(0.5, 96, n)).astype(
                object
            ),
            "campaign_roi_percentage": np.char.mod("%.1f", rng.normal(120, 80, n)).astype(object),
            "calculated_at": ts(calc),
            "updated_at": ts(calc + rng.uniform(0, HOUR, n)),
        }
    )


def wish_list_items(w: World) -> Table:
    rng = w.rng("wish_list_items")
    n = w.sizes.wish_list_items
    nm = len(w.model_ids)
    weights = 1.0 / (np.arange(nm) + 5.0)
    model = rng.permutation(nm)[rng.choice(nm, n, p=weights / weights.sum())]
    has_cust = rng.random(n) < 0.6
    cust = rng.integers(0, len(w.customer_ids), n)
    retailer = np.where(has_cust, w.customer_retailer[cust], rng.integers(0, w.sizes.retailers, n))
    inactive_models = np.flatnonzero(~w.model_active)
    model[: len(inactive_models)] = inactive_models
    inactive_r = np.flatnonzero(~w.retailer_active)
    k = len(inactive_r)
    retailer[-k:] = inactive_r
    has_cust[-k:] = False
    created = rng.uniform(-HISTORY_DAYS, -0.5, n) * DAY
    updated = np.where(
        rng.random(n) < 0.3, created + rng.uniform(0, 1, n) * (-created - 60), created
    )
    return table(
        {
            "wish_id": uuids(rng, n),
            "model_id": w.model_ids[model],
            "retailer_id": w.retailer_ids[retailer],
            "customer_id": np.where(has_cust, w.customer_ids[cust], None),
            "wish_count": rng.geometric(0.55, n),
            "created_at": ts(created),
            "updated_at": ts(updated),
        }
    )


def asset_downloads(w: World) -> Table:
    rng = w.rng("asset_downloads")
    n = w.sizes.asset_downloads
    retailer = rng.integers(0, w.sizes.retailers, n)
    users = w.retailer_users[retailer, rng.integers(0, w.retailer_users.shape[1], n)]
    occurred = rng.uniform(-HISTORY_DAYS, -0.1, n) * DAY
    return table(
        {
            "download_id": uuids(rng, n),
            "asset_id": w.asset_ids[rng.integers(0, len(w.asset_ids), n)],
            "retailer_id": w.retailer_ids[retailer],
            "user_id": np.where(rng.random(n) < 0.6, users, None),
            "action_type": pick(rng, ["view", "download", "share"], n, p=[0.6, 0.3, 0.1]),
            "occurred_at": ts(occurred),
            "created_at": ts(occurred + rng.uniform(1, 300, n)),
        }
    )
