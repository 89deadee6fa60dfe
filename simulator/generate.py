"""Build the whole simulated world: the app database (COPY) and the export files."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from crownsync.settings import libpq_url, safe_url
from simulator import activity
from simulator.app_db_writer import (
    Progress,
    SimulatorRefused,
    check_owned,
    connect,
    copy_frames,
    create_schema,
    drop_keys,
    reset_schema,
    restore_keys,
)
from simulator.export_files import MARKER, write_marker
from simulator.export_writer import write_base_exports
from simulator.summary import Summary
from simulator.world import build_world

EXPORTS = ("ad_metrics", "social_insights", "orders")


def check_landing(landing: Path) -> bool:
    """True if the landing dir holds a simulated world; refuse a non-empty foreign one."""
    if not landing.exists():
        return False
    if (landing / MARKER).exists():
        return True
    if any(landing.iterdir()):
        raise SimulatorRefused(
            f"The landing dir {landing} is not empty and has no {MARKER} marker: it is not the "
            "simulator's. Refusing to write to it: use --landing-dir with an empty folder."
        )
    return False


def clear_landing(landing: Path) -> None:
    """Remove what the simulator wrote (only called on an owned or empty dir)."""
    for export in EXPORTS:
        shutil.rmtree(landing / export, ignore_errors=True)
    (landing / MARKER).unlink(missing_ok=True)


def generate(
    source_url: str,
    landing_dir: Path | str,
    scale: float = 0.1,
    seed: int = 7,
    *,
    regenerate: bool = False,
    quiet: bool = False,
) -> Summary:
    """Create (or reuse) the simulated app database and export files.

    Refuses (:class:`SimulatorRefused`) a database with tables it did not create and a
    non-empty landing dir without its marker. Without ``regenerate`` an existing world is
    reused as it is (``summary.reused``).
    """
    began = time.monotonic()
    landing = Path(landing_dir)
    url = libpq_url(source_url)
    landing_owned = check_landing(landing)
    with connect(url) as conn:
        state = check_owned(conn, _safe(source_url))
        if state is not None and landing_owned and not regenerate:
            conn.rollback()
            return Summary(seed=state.seed, scale=state.scale, sim_day=state.sim_day, reused=True)
        progress = Progress(quiet)
        _say(quiet, f"generating CrownSync world: seed {seed}, scale {scale}")
        reset_schema(conn)
        create_schema(conn, seed, scale)
        keys = drop_keys(conn)
        world = build_world(seed, scale)
        t = world.tables
        users = t["users"]
        admins = users[users["role"] == "admin"]
        copy_frames(conn, "users", [admins], progress, freeze=True)
        copy_frames(conn, "brands", [t["brands"]], progress, freeze=True)
        copy_frames(conn, "retailers", [t["retailers"]], progress, freeze=True)
        copy_frames(conn, "users", [users[users["role"] != "admin"]], progress, freeze=True)
        copy_frames(conn, "campaigns", [t["campaigns"]], progress, freeze=True)
        copy_frames(
            conn, "campaign_retailers", [activity.campaign_retailers(world)], progress, freeze=True
        )
        copy_frames(
            conn, "email_campaigns", [activity.email_campaigns(world)], progress, freeze=True
        )
        recipients = activity.make_recipients(seed, world.pools, world.sizes.recipients)
        copy_frames(
            conn, "email_sends", activity.email_sends(world, recipients), progress, freeze=True
        )
        copy_frames(conn, "sms_campaigns", [activity.sms_campaigns(world)], progress, freeze=True)
        copy_frames(conn, "sms_sends", [activity.sms_sends(world)], progress, freeze=True)
        copy_frames(conn, "social_accounts", [t["social_accounts"]], progress, freeze=True)
        copy_frames(conn, "social_posts", [activity.social_posts(world)], progress, freeze=True)
        copy_frames(
            conn, "social_analytics", activity.social_analytics(world), progress, freeze=True
        )
        copy_frames(conn, "customers", [t["customers"]], progress, freeze=True)
        copy_frames(
            conn, "customer_interactions", [activity.customer_interactions(world)], progress
        )
        copy_frames(
            conn,
            "retailer_performance_metrics",
            activity.retailer_performance_metrics(world),
            progress,
        )
        copy_frames(
            conn, "retailer_scores", [activity.retailer_scores(world)], progress, freeze=True
        )
        copy_frames(conn, "watch_models", [t["watch_models"]], progress, freeze=True)
        copy_frames(
            conn, "wish_list_items", [activity.wish_list_items(world)], progress, freeze=True
        )
        copy_frames(conn, "brand_assets", [t["brand_assets"]], progress, freeze=True)
        copy_frames(
            conn, "asset_downloads", [activity.asset_downloads(world)], progress, freeze=True
        )
        restore_keys(conn, keys, progress)

        landing.mkdir(parents=True, exist_ok=True)
        clear_landing(landing)
        write_marker(landing, seed, scale, 0, [])
        t_files = time.monotonic()
        files = write_base_exports(world, landing)
        write_marker(landing, seed, scale, 0, [b for f in files for b in f.bad_rows])
        conn.commit()
    summary = Summary(seed=seed, scale=scale, sim_day=0, rows=dict(progress.rows), files=files)
    summary.seconds = time.monotonic() - began
    _say(
        quiet,
        f"  {'export files':<30} {sum(f.good_rows for f in files):>10,} rows in {len(files)} files ({time.monotonic() - t_files:.1f}s)",
    )
    _say(
        quiet,
        f"done: {summary.total_rows:,} rows in {summary.seconds:.1f}s "
        f"({summary.total_rows / max(summary.seconds, 1e-9):,.0f} rows/s); "
        f"{summary.bad_row_count} bad export rows injected",
    )
    return summary


def _safe(url: str) -> str:
    return safe_url(url)


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)
