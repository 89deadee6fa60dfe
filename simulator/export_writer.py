"""The platform export files of the simulated world, composed: LANDING_DIR/<export>/.

Files follow the source contract (section B): CSV with a header, JSONL, and JSON arrays;
data for day D lands on D+1 at 02:00 UTC (the file's mtime). A fresh world
(:func:`write_base_exports`) gets, per export, the regular rows in period files, the
deliberate bad rows declared in ``simulator/scenarios/bad_rows.yml``, and restatements or a
duplicate delivery; ``--advance`` adds one day of files (:func:`write_day_exports`).

The rows come from :mod:`simulator.export_rows`, the files from :mod:`simulator.export_files`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulator.core import HISTORY_DAYS, rng_for
from simulator.export_files import (
    Bad,
    ExportFile,
    duplicate_file,
    inject,
    landing_time,
    write_file,
)
from simulator.export_rows import (
    AD_FIELDS,
    AD_PLATFORMS,
    INSIGHT_FIELDS,
    NUMERIC_FIELDS,
    ORDER_FIELDS,
    ad_campaigns,
    ad_rows_for,
    base_ad_rows,
    by_day,
    date_text,
    insight_rows,
    jsonify,
    order_rows,
)
from simulator.scenarios import bad_rows_by_file
from simulator.world import World

# six 30-day periods of history: the ad_metrics and orders files
BLOCKS = [(-HISTORY_DAYS + 30 * b, -HISTORY_DAYS + 30 * (b + 1)) for b in range(6)]
AD_FORMATS = ["csv", "jsonl", "csv", "jsonl", "json", "csv"]
ORDER_FORMATS = ["csv", "jsonl", "csv", "jsonl", "csv", "jsonl"]
# social_insights: the last 60 days in three 20-day blocks
INSIGHT_BLOCKS = [(-60, -40), (-40, -20), (-20, 0)]
INSIGHT_FORMATS = ["csv", "jsonl", "json"]


def write_base_exports(w: World, landing: Path) -> list[ExportFile]:
    """Every export file of a fresh world (history up to day 0)."""
    bad = bad_rows_by_file(
        {
            "brand0": w.brand_ids[0],
            "campaign0": w.campaign_ids[w.active_campaigns()[0]],
            "account0": w.account_ids[0],
            "retailer0": w.retailer_ids[0],
            "model0": w.model_mpn[np.flatnonzero(w.model_active)[0]],
        }
    )
    files = [
        *_ad_metric_files(w, landing, bad),
        *_insight_files(w, landing, bad),
        *_order_files(w, landing, bad),
    ]
    unused = set(bad) - {f.file_name for f in files}
    if unused:
        raise ValueError(f"bad_rows.yml names files that are not written: {sorted(unused)}")
    return files


def _period_files(
    landing: Path,
    export: str,
    fields: list[str],
    blocks: list[tuple[float, float]],
    formats: list[str],
    per_block: list[list[dict[str, object]]],
    rng: np.random.Generator,
    bad: dict[str, list[Bad]],
    minutes: int,
) -> list[ExportFile]:
    """One file per block: its rows (JSON numbers in JSONL/JSON) with its scenario rows."""
    files = []
    for b, ((lo, hi), rows, fmt) in enumerate(zip(blocks, per_block, formats, strict=True)):
        name = f"{export}_{date_text(lo)}_{date_text(hi - 1)}.{fmt}"
        recs = rows if fmt == "csv" else jsonify(rows, NUMERIC_FIELDS[export], rng)
        records = inject(recs, bad.get(name, []))
        files.append(
            write_file(landing, export, name, fields, records, landing_time(hi, minutes + b))
        )
    return files


def restated_value(row: dict[str, object], factor: float, offset: float) -> str:
    """A restated ad metric value: money keeps cents, counts stay whole numbers."""
    value = float(str(row["value"])) * factor + offset
    if row["metric_type"] in ("ad_spend", "revenue"):
        return f"{value:.2f}"
    return str(round(value))


def _ad_metric_files(w: World, landing: Path, bad: dict[str, list[Bad]]) -> list[ExportFile]:
    """Six period files, then a restatement file with new values for ~2 % of the keys."""
    rng = w.rng("ads", "files")
    ads = base_ad_rows(w)
    per_block = by_day(ads, "date", BLOCKS)
    files = _period_files(
        landing, "ad_metrics", AD_FIELDS, BLOCKS, AD_FORMATS, per_block, rng, bad, 0
    )
    k = max(1, len(ads) // 50)
    pick_idx = np.sort(rng.choice(len(ads), min(k, len(ads)), replace=False))
    restated = []
    for i in pick_idx:
        row = dict(ads[i])
        row["value"] = restated_value(row, 1.07, 1)
        restated.append(row)
    files.append(
        write_file(
            landing,
            "ad_metrics",
            "ad_metrics_restatement_2026-09-30.jsonl",
            AD_FIELDS,
            jsonify(restated, NUMERIC_FIELDS["ad_metrics"], rng),
            landing_time(0, 30),
        )
    )
    return files


def _insight_files(w: World, landing: Path, bad: dict[str, list[Bad]]) -> list[ExportFile]:
    """Three 20-day files. Each block's rows are drawn just before its file is written (one
    stream for rows and JSON numbers, in that order), hence one _period_files call per block."""
    rng = w.rng("insights", "files")
    files = []
    for b, (lo, hi) in enumerate(INSIGHT_BLOCKS):
        rows = insight_rows(w, rng, np.arange(lo, hi, dtype=np.float64))
        files += _period_files(
            landing,
            "social_insights",
            INSIGHT_FIELDS,
            [(lo, hi)],
            [INSIGHT_FORMATS[b]],
            [rows],
            rng,
            bad,
            10 + b,
        )
    return files


def _order_files(w: World, landing: Path, bad: dict[str, list[Bad]]) -> list[ExportFile]:
    """Six period files, a restatement (paid -> refunded), and one duplicate delivery."""
    rng = w.rng("orders", "files")
    orders = order_rows(w, rng, w.sizes.order_lines, -HISTORY_DAYS, -0.01, 1)
    per_block = by_day(orders, "ordered_at", BLOCKS)
    files = _period_files(
        landing, "orders", ORDER_FIELDS, BLOCKS, ORDER_FORMATS, per_block, rng, bad, 20
    )
    paid = [r for r in orders if r["status"] == "paid"]
    refunds = [
        dict(paid[i], status="refunded")
        for i in np.sort(rng.choice(len(paid), max(2, len(paid) // 100), replace=False))
    ]
    files.append(
        write_file(
            landing,
            "orders",
            "orders_restatement_2026-09-30.csv",
            ORDER_FIELDS,
            refunds,
            landing_time(0, 40),
        )
    )
    original = next(
        f
        for f in files
        if f.file_name.endswith(".csv") and not f.bad_rows and "restatement" not in f.file_name
    )
    files.append(
        duplicate_file(
            original, original.file_name.replace(".csv", "_resent.csv"), landing_time(0, 45)
        )
    )
    return files


def write_day_exports(w: World, landing: Path, sim_day: int) -> list[ExportFile]:
    """New export files for ``--advance`` to day ``sim_day`` (data of day sim_day - 1)."""
    d = float(sim_day - 1)
    files: list[ExportFile] = []
    rng = rng_for(w.seed, "advance-exports", sim_day)
    # ad metrics for the new day: running ad campaigns (or the first few), plus restatements
    camp = ad_campaigns(w)
    running = camp[(w.campaign_start[camp] <= d) & (w.campaign_end[camp] >= d)]
    if len(running) == 0:
        running = camp[:3]
    plat = np.asarray(AD_PLATFORMS, dtype=object)[rng.integers(0, 3, len(running))]
    rows = ad_rows_for(w, rng, running, np.full(len(running), d), plat)
    base = base_ad_rows(w)
    for i in np.sort(rng.choice(len(base), min(3, len(base)), replace=False)):
        restated = dict(base[i])
        restated["value"] = restated_value(restated, 0.93, 2)
        rows.append(restated)
    files.append(
        write_file(
            landing,
            "ad_metrics",
            f"ad_metrics_{date_text(d)}.csv",
            AD_FIELDS,
            rows,
            landing_time(sim_day, 0),
        )
    )
    # social insights for the new day
    ins = insight_rows(w, rng, np.array([d]))
    files.append(
        write_file(
            landing,
            "social_insights",
            f"social_insights_{date_text(d)}.jsonl",
            INSIGHT_FIELDS,
            jsonify(ins, NUMERIC_FIELDS["social_insights"], rng),
            landing_time(sim_day, 10),
        )
    )
    # new orders of the day, plus three earlier paid lines restated as refunded
    new = order_rows(
        w,
        rng,
        max(10, w.sizes.order_lines // HISTORY_DAYS),
        d,
        d + 0.999,
        5_000_000 + 100_000 * sim_day,
    )
    old = order_rows(w, w.rng("orders", "files"), w.sizes.order_lines, -HISTORY_DAYS, -0.01, 1)
    paid = [r for r in old if r["status"] == "paid"]
    new += [
        dict(paid[i], status="refunded") for i in np.sort(rng.choice(len(paid), 3, replace=False))
    ]
    files.append(
        write_file(
            landing,
            "orders",
            f"orders_{date_text(d)}.csv",
            ORDER_FIELDS,
            new,
            landing_time(sim_day, 20),
        )
    )
    return files
