"""``--advance``: one more simulated day of changes in the source DB and new export files.

Day k (k = sim_day + 1) happens in [DAY0 + (k-1) d, DAY0 + k d): every row inserted or
updated gets a created_at/updated_at in that window, later than anything before, so an
incremental extraction by cursor sees it. Deterministic: a function of (seed, k) and the
current source contents (row choices are ordered by md5(id || k)).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

from crownsync.settings import libpq_url, safe_url
from simulator import activity
from simulator.app_db_writer import (
    Progress,
    SimulatorRefused,
    check_owned,
    connect,
    copy_frames,
    set_sim_day,
)
from simulator.core import DAY, DAY0, HOUR, rng_for
from simulator.export_files import MARKER, write_marker
from simulator.export_writer import write_day_exports
from simulator.summary import Summary
from simulator.world import REGIONS, TIERS, build_world


def _at(day_start: float, hours: float) -> datetime:
    return DAY0 + timedelta(seconds=day_start + hours * HOUR)


def _ids(
    conn: psycopg.Connection, query: str, params: dict[str, object] | None = None
) -> np.ndarray:
    return np.array([r[0] for r in conn.execute(query, params or {}).fetchall()], dtype=object)


def advance(source_url: str, landing_dir: Path | str, *, quiet: bool = False) -> Summary:
    began = time.monotonic()
    landing = Path(landing_dir)
    if not (landing / MARKER).exists():
        raise SimulatorRefused(
            f"{landing} holds no simulated world ({MARKER} missing): run the simulator without --advance first."
        )
    with connect(libpq_url(source_url)) as conn:
        state = check_owned(conn, safe_url(source_url))
        if state is None:
            raise SimulatorRefused(
                "The source database holds no simulated world: run the simulator without --advance first."
            )
        k = state.sim_day + 1
        t0 = float((k - 1) * DAY)
        rng = rng_for(state.seed, "advance", k)
        progress = Progress(quiet)
        changes: dict[str, object] = {}
        if not quiet:
            print(
                f"advancing the simulated world to day {k} ({_at(t0, 0).date()})", file=sys.stderr
            )
        world = build_world(state.seed, state.scale)
        p = {"k": k}

        # 1. new email sends (about 1 % of the base)
        n_new = max(10, round(world.sizes.email_sends * 0.01))
        ecs = _ids(
            conn,
            "select e.email_campaign_id from email_campaigns e join campaigns c using (campaign_id) where c.campaign_status = 'active' order by 1",
        )
        if len(ecs) == 0:
            ecs = _ids(conn, "select email_campaign_id from email_campaigns order by 1")
        retailers = _ids(conn, "select retailer_id from retailers order by 1")
        recipients = activity.make_recipients(state.seed, world.pools, world.sizes.recipients)
        created = t0 + rng.uniform(1 * HOUR, 16 * HOUR, n_new)
        frame = activity.email_sends_frame(
            rng,
            recipients,
            created,
            ecs[rng.integers(0, len(ecs), n_new)],
            retailers[rng.integers(0, len(retailers), n_new)],
            t0 + DAY - 1,
        )
        copy_frames(conn, "email_sends", [frame], progress)

        # 2. engagement fills in on older sends: clicks on opened ones, opens on delivered ones
        n_eng = max(5, n_new // 2)
        cur = conn.execute(
            "update email_sends set clicked_at = %(at)s::timestamptz + (abs(hashtext(send_id::text)) %% 3600) * interval '1 second',"
            " click_count = click_count + 1,"
            " updated_at = %(at)s::timestamptz + (abs(hashtext(send_id::text)) %% 3600) * interval '1 second'"
            " where send_id in (select send_id from email_sends where opened_at is not null and clicked_at is null"
            " and created_at < %(t0)s order by md5(send_id::text || %(k)s::text) limit %(n)s)",
            {**p, "at": _at(t0, 17), "t0": _at(t0, 0), "n": n_eng},
        )
        changes["email_sends_clicked"] = cur.rowcount
        cur = conn.execute(
            "update email_sends set opened_at = %(at)s::timestamptz + (abs(hashtext(send_id::text)) %% 7200) * interval '1 second',"
            " open_count = open_count + 1,"
            " user_agent = coalesce(user_agent, 'Microsoft Outlook 16.0'),"
            " ip_address = coalesce(ip_address, '198.51.100.23'),"
            " updated_at = %(at)s::timestamptz + (abs(hashtext(send_id::text)) %% 7200) * interval '1 second'"
            " where send_id in (select send_id from email_sends where send_status = 'delivered' and opened_at is null"
            " and created_at < %(t0)s order by md5(send_id::text || %(k)s::text) limit %(n)s)",
            {**p, "at": _at(t0, 18), "t0": _at(t0, 0), "n": n_eng},
        )
        changes["email_sends_opened"] = cur.rowcount

        # 3. budget_spent grows on active campaigns
        cur = conn.execute(
            "update campaigns set budget_spent = coalesce(budget_spent, 0)"
            " + round(greatest(coalesce(budget_allocated, 0), 500) * (1 + abs(hashtext(campaign_id::text || %(k)s::text)) %% 100) / 10000.0, 2),"
            " updated_at = %(at)s where campaign_status = 'active'",
            {**p, "at": _at(t0, 20)},
        )
        changes["campaigns_budget_updated"] = cur.rowcount

        # 4. one retailer moves tier AND region
        row = conn.execute(
            "select retailer_id, region, tier from retailers where is_active order by md5(retailer_id::text || %(k)s::text) limit %(n)s",
            {**p, "n": 1},
        ).fetchone()
        if row:
            rid, old_region, old_tier = row
            new_tier = _other(TIERS, old_tier, k)
            new_region = _other(REGIONS, old_region, k)
            conn.execute(
                "update retailers set tier = %s, region = %s, updated_at = %s where retailer_id = %s",
                (new_tier, new_region, _at(t0, 9), rid),
            )
            changes["retailer_moved"] = {
                "retailer_id": str(rid),
                "old_region": old_region,
                "new_region": new_region,
                "old_tier": old_tier,
                "new_tier": new_tier,
            }

        # 5. a wish is fulfilled (hard delete) and a few wish counts change
        cur = conn.execute(
            "delete from wish_list_items where wish_id in (select wish_id from wish_list_items order by md5(wish_id::text || %(k)s::text) limit %(n)s) returning wish_id",
            {**p, "n": 1},
        )
        changes["wish_list_items_deleted"] = [str(r[0]) for r in cur.fetchall()]
        cur = conn.execute(
            "update wish_list_items set wish_count = wish_count + 1, updated_at = %(at)s"
            " where wish_id in (select wish_id from wish_list_items order by md5(wish_id::text || 'count' || %(k)s::text) limit %(n)s)",
            {**p, "at": _at(t0, 11), "n": 5},
        )
        changes["wish_list_items_updated"] = cur.rowcount

        # 6. social analytics for the new day: posts still tracked yesterday
        d = float(k - 1)
        posts = conn.execute(
            "select p.post_id, p.post_type, (p.published_at at time zone 'UTC')::date - date '2026-10-01', a.reach"
            " from social_posts p join social_analytics a on a.post_id = p.post_id and a.analytics_date = %(prev)s::date"
            " order by p.post_id",
            {"prev": str(np.datetime64("2026-10-01", "D") + int(d) - 1)},
        ).fetchall()
        if posts:
            ids = np.array([r[0] for r in posts], dtype=object)
            age = d - np.array([r[2] for r in posts], dtype=np.float64)
            reach = np.array([r[3] for r in posts], dtype=np.float64) / (np.exp(-age / 6.0) + 0.02)
            video = np.isin(np.array([r[1] for r in posts], dtype=object), ["video", "reel"])
            frame = activity.analytics_frame(rng, ids, np.full(len(ids), d), age, reach, video)
            copy_frames(conn, "social_analytics", [frame], progress)

        # 7. new daily retailer metrics for the new date: each score drifts on from the
        # retailer's latest daily score, and the generated world's tied pair stays tied
        latest = dict(
            conn.execute(
                "select distinct on (retailer_id) retailer_id::text, performance_score"
                " from retailer_performance_metrics where metric_period = 'daily'"
                " order by retailer_id, metric_date desc"
            ).fetchall()
        )
        previous = np.array(
            [float(latest[str(r)]) if latest.get(str(r)) is not None else np.nan for r in retailers]
        )
        position = {str(r): i for i, r in enumerate(retailers)}
        pair = [position.get(str(r)) for r in world.retailer_ids[:2]]
        tie = (pair[0], pair[1]) if None not in pair else (0, 1)
        copy_frames(
            conn,
            "retailer_performance_metrics",
            [activity.metrics_frame(rng, retailers, "daily", [int(d)], previous, tie)],
            progress,
        )

        # 8. new export files, landing after every earlier one
        files = write_day_exports(world, landing, k)
        set_sim_day(conn, k)
        conn.commit()
    write_marker(landing, state.seed, state.scale, k)
    summary = Summary(
        seed=state.seed,
        scale=state.scale,
        sim_day=k,
        rows=dict(progress.rows),
        changes=changes,
        files=files,
    )
    summary.seconds = time.monotonic() - began
    if not quiet:
        print(
            f"day {k}: inserted {summary.rows}, changed {changes}, {len(files)} new files ({summary.seconds:.1f}s)",
            file=sys.stderr,
        )
    return summary


def _other(choices: list[str], current: str, k: int) -> str:
    """A clean value different from ``current`` (compared trimmed, case-insensitive)."""
    norm = " ".join(str(current).split()).lower()
    options = [c for c in choices if c.lower() != norm]
    return options[k % len(options)]
