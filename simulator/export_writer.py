"""Platform export files in LANDING_DIR/<export>/: ad_metrics, social_insights, orders.

Files follow the source contract (section B): CSV with a header, JSONL, and JSON arrays. Each
file's mtime is its simulated landing time (data for day D lands on D+1 at 02:00 UTC), set
with ``os.utime``, so landing order is deterministic. A fixed, small set of bad rows is
injected; every one is listed in the returned :class:`ExportFile` records.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingestion.platform_exports import schemas
from ingestion.platform_exports.feeds import FEEDS
from simulator.core import DAY, DAY0, HISTORY_DAYS, HOUR, rng_for, uuids
from simulator.world import World

# The files' columns and value sets come from the export contract (schemas.py), never restated.
AD_FIELDS = list(FEEDS["ad_metrics"].columns)
INSIGHT_FIELDS = list(FEEDS["social_insights"].columns)
ORDER_FIELDS = list(FEEDS["orders"].columns)
AD_PLATFORMS = list(schemas.AD_PLATFORMS)
METRIC_TYPES = list(schemas.AD_METRIC_TYPES)
ORDER_STATUSES = list(schemas.ORDER_STATUSES)
DAY0_EPOCH = DAY0.timestamp()
MARKER = ".crownsync-simulator"


@dataclass(frozen=True)
class BadRow:
    export: str
    file_name: str
    line: int
    reason: str


@dataclass
class ExportFile:
    export: str
    file_name: str
    path: Path
    good_rows: int
    landed_at: float  # seconds relative to DAY0
    bad_rows: list[BadRow] = field(default_factory=list)
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Bad:
    """An injected bad record: a row dict, or a verbatim line (str) for malformed lines."""

    row: dict[str, object] | str
    reason: str


Record = dict[str, object] | Bad


def _text(value: object) -> str:
    return "" if value is None else str(value)


def render(
    fmt: str, fields: list[str], records: list[Record]
) -> tuple[bytes, list[tuple[int, str]]]:
    """File bytes and [(line, reason)] of the bad records (CSV header = line 1)."""
    bad: list[tuple[int, str]] = []
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(fields)
        for i, rec in enumerate(records, start=2):
            if isinstance(rec, Bad):
                bad.append((i, rec.reason))
                if isinstance(rec.row, str):
                    buf.write(rec.row + "\n")
                    continue
                rec = rec.row
            writer.writerow([_text(rec.get(f)) for f in fields])
        return buf.getvalue().encode(), bad
    lines = []
    for i, rec in enumerate(records, start=1):
        if isinstance(rec, Bad):
            bad.append((i, rec.reason))
            lines.append(rec.row if isinstance(rec.row, str) else json.dumps(rec.row))
        else:
            lines.append(json.dumps(rec))
    if fmt == "jsonl":
        return ("\n".join(lines) + "\n").encode(), bad
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode(), bad


def write_file(
    landing: Path,
    export: str,
    name: str,
    fields: list[str],
    records: list[Record],
    landed_at: float,
) -> ExportFile:
    fmt = name.rsplit(".", 1)[1]
    data, bad = render(fmt, fields, records)
    folder = landing / export
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    epoch = DAY0_EPOCH + landed_at
    os.utime(path, (epoch, epoch))
    good = sum(1 for r in records if not isinstance(r, Bad))
    return ExportFile(
        export, name, path, good, landed_at, [BadRow(export, name, ln, why) for ln, why in bad]
    )


def duplicate_file(original: ExportFile, name: str, landed_at: float) -> ExportFile:
    path = original.path.parent / name
    shutil.copyfile(original.path, path)
    epoch = DAY0_EPOCH + landed_at
    os.utime(path, (epoch, epoch))
    return ExportFile(
        original.export, name, path, 0, landed_at, [], duplicate_of=original.file_name
    )


def _date(day: float) -> str:
    return str(np.datetime64("2026-10-01", "D") + int(day))


def _jsonify(
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


def ad_rows_for(
    w: World, rng: np.random.Generator, camp: np.ndarray, day: np.ndarray, platform: np.ndarray
) -> list[dict[str, object]]:
    """Six metric rows per (campaign, day, platform); campaign -1 = a brand-level row."""
    n = len(camp)
    impressions = rng.lognormal(9, 0.8, n).astype(np.int64) + 100
    clicks = rng.binomial(impressions, 0.012)
    conversions = rng.binomial(clicks, 0.03)
    new_customers = rng.binomial(conversions, 0.6)
    spend = impressions * rng.uniform(4, 14, n) / 1000
    revenue = conversions * rng.lognormal(7.5, 0.4, n)
    cur = np.asarray(["USD", "usd", "", "Usd"], dtype=object)[
        rng.choice(4, n, p=[0.8, 0.08, 0.1, 0.02])
    ]
    rows: list[dict[str, object]] = []
    for i in range(n):
        c = camp[i]
        brand = w.brand_ids[w.campaign_brand[c]] if c >= 0 else w.brand_ids[-c - 1]
        base = {
            "date": _date(day[i]),
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
                    "date": _date(d),
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


def _by_day(
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


def _inject(records: list[dict[str, object]], bads: list[Bad]) -> list[Record]:
    out: list[Record] = list(records)
    for k, bad in enumerate(bads):
        out.insert(min(len(out), 2 + 3 * k), bad)
    return out


def _landing(day_end: float, minutes: int = 0) -> float:
    """Data up to day ``day_end`` (exclusive) lands that day at 02:00 (+ minutes)."""
    return day_end * DAY + 2 * HOUR + minutes * 60


def write_base_exports(w: World, landing: Path) -> list[ExportFile]:
    files: list[ExportFile] = []
    brand0, camp0 = w.brand_ids[0], w.campaign_ids[w.active_campaigns()[0]]
    acc0 = w.account_ids[0]

    # ad_metrics: six 30-day blocks, then a restatement file
    rng = w.rng("ads", "files")
    ads = base_ad_rows(w)
    blocks = [(-HISTORY_DAYS + 30 * b, -HISTORY_DAYS + 30 * (b + 1)) for b in range(6)]
    per_block = _by_day(ads, "date", blocks)
    ad_bad = {
        0: [
            Bad(
                {
                    "date": "2026-04-05",
                    "brand_id": brand0,
                    "campaign_id": camp0,
                    "platform": "meta",
                    "metric_type": "ad_spend",
                    "value": "abc",
                    "currency": "USD",
                },
                "wrong type: value 'abc'",
            ),
            Bad(
                {
                    "date": "2026-04-05",
                    "brand_id": brand0,
                    "campaign_id": camp0,
                    "platform": "myspace",
                    "metric_type": "clicks",
                    "value": "12",
                    "currency": "",
                },
                "unknown enum: platform 'myspace'",
            ),
            Bad(
                f"2026-04-06,{brand0},{camp0},meta,impressions,100,USD,extra",
                "wrong number of fields",
            ),
        ],
        1: [
            Bad('["not", "an", "object"]', "line is not a JSON object"),
            Bad(
                {
                    "date": "2026-02-30",
                    "brand_id": brand0,
                    "campaign_id": camp0,
                    "platform": "google_ads",
                    "metric_type": "clicks",
                    "value": 7,
                    "currency": "USD",
                },
                "impossible date 2026-02-30",
            ),
        ],
        2: [
            Bad(
                {
                    "date": "2026-06-10",
                    "brand_id": brand0,
                    "campaign_id": camp0,
                    "platform": "tiktok_ads",
                    "metric_type": "ad_spend",
                    "value": "99.00",
                    "currency": "EUR",
                },
                "unsupported currency EUR",
            ),
        ],
    }
    formats = ["csv", "jsonl", "csv", "jsonl", "json", "csv"]
    for b, ((lo, hi), rows) in enumerate(zip(blocks, per_block, strict=True)):
        name = f"ad_metrics_{_date(lo)}_{_date(hi - 1)}.{formats[b]}"
        recs = rows if formats[b] == "csv" else _jsonify(rows, ["value"], rng)
        files.append(
            write_file(
                landing,
                "ad_metrics",
                name,
                AD_FIELDS,
                _inject(recs, ad_bad.get(b, [])),
                _landing(hi, b),
            )
        )
    k = max(1, len(ads) // 50)
    pick_idx = np.sort(rng.choice(len(ads), min(k, len(ads)), replace=False))
    restated = []
    for i in pick_idx:
        row = dict(ads[i])
        row["value"] = f"{float(str(row['value'])) * 1.07 + 1:.2f}"
        restated.append(row)
    files.append(
        write_file(
            landing,
            "ad_metrics",
            "ad_metrics_restatement_2026-09-30.jsonl",
            AD_FIELDS,
            _jsonify(restated, ["value"], rng),
            _landing(0, 30),
        )
    )

    # social_insights: the last 60 days in three 20-day blocks (csv, jsonl, json)
    rng = w.rng("insights", "files")
    ins_blocks = [(-60, -40), (-40, -20), (-20, 0)]
    ins_bad = {
        0: [
            Bad(
                {
                    "date": "",
                    "account_id": acc0,
                    "platform": "instagram",
                    "followers": "10",
                    "reach": "5",
                    "impressions": "9",
                    "engagement": "1",
                    "profile_views": "0",
                },
                "missing key: empty date",
            )
        ],
        1: [
            Bad(
                {
                    "date": "2026-08-20",
                    "account_id": acc0,
                    "platform": "instagram",
                    "followers": 1200,
                    "reach": "12.0",
                    "impressions": 30,
                    "engagement": 2,
                    "profile_views": None,
                },
                "wrong type: integer reach '12.0'",
            )
        ],
    }
    for b, (lo, hi) in enumerate(ins_blocks):
        fmt = ["csv", "jsonl", "json"][b]
        rows = insight_rows(w, rng, np.arange(lo, hi, dtype=np.float64))
        recs = (
            rows
            if fmt == "csv"
            else _jsonify(
                rows, ["followers", "reach", "impressions", "engagement", "profile_views"], rng
            )
        )
        name = f"social_insights_{_date(lo)}_{_date(hi - 1)}.{fmt}"
        files.append(
            write_file(
                landing,
                "social_insights",
                name,
                INSIGHT_FIELDS,
                _inject(recs, ins_bad.get(b, [])),
                _landing(hi, 10 + b),
            )
        )

    # orders: six 30-day blocks, a restatement (paid -> refunded), and one duplicate delivery
    rng = w.rng("orders", "files")
    orders = order_rows(w, rng, w.sizes.order_lines, -HISTORY_DAYS, -0.01, 1)
    per_block = _by_day(orders, "ordered_at", blocks)
    mpn0, ret0 = w.model_mpn[np.flatnonzero(w.model_active)[0]], w.retailer_ids[0]
    order_bad = {
        0: [
            Bad(
                {
                    "order_id": "",
                    "line_number": "1",
                    "retailer_id": ret0,
                    "ordered_at": "2026-04-10T10:00:00Z",
                    "customer_id": None,
                    "model_mpn": mpn0,
                    "quantity": "1",
                    "unit_price": "100.00",
                    "currency": "USD",
                    "utm_campaign": None,
                    "status": "paid",
                },
                "missing key: empty order_id",
            )
        ],
        1: [
            Bad(
                {
                    "order_id": "CS-BAD-0001",
                    "line_number": 1,
                    "retailer_id": ret0,
                    "ordered_at": "2026-05-10T10:00:00Z",
                    "customer_id": None,
                    "model_mpn": mpn0,
                    "quantity": "12.0",
                    "unit_price": 100.0,
                    "currency": "USD",
                    "utm_campaign": None,
                    "status": "paid",
                },
                "wrong type: integer quantity '12.0'",
            )
        ],
    }
    ofmts = ["csv", "jsonl", "csv", "jsonl", "csv", "jsonl"]
    for b, ((lo, hi), rows) in enumerate(zip(blocks, per_block, strict=True)):
        recs = (
            rows
            if ofmts[b] == "csv"
            else _jsonify(rows, ["line_number", "quantity", "unit_price"], rng)
        )
        name = f"orders_{_date(lo)}_{_date(hi - 1)}.{ofmts[b]}"
        files.append(
            write_file(
                landing,
                "orders",
                name,
                ORDER_FIELDS,
                _inject(recs, order_bad.get(b, [])),
                _landing(hi, 20 + b),
            )
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
            _landing(0, 40),
        )
    )
    original = next(
        f
        for f in files
        if f.export == "orders"
        and f.file_name.endswith(".csv")
        and not f.bad_rows
        and "restatement" not in f.file_name
    )
    files.append(
        duplicate_file(original, original.file_name.replace(".csv", "_resent.csv"), _landing(0, 45))
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
        restated["value"] = f"{float(str(restated['value'])) * 0.93 + 2:.2f}"
        rows.append(restated)
    files.append(
        write_file(
            landing,
            "ad_metrics",
            f"ad_metrics_{_date(d)}.csv",
            AD_FIELDS,
            rows,
            _landing(sim_day, 0),
        )
    )
    # social insights for the new day
    ins = insight_rows(w, rng, np.array([d]))
    files.append(
        write_file(
            landing,
            "social_insights",
            f"social_insights_{_date(d)}.jsonl",
            INSIGHT_FIELDS,
            _jsonify(
                ins, ["followers", "reach", "impressions", "engagement", "profile_views"], rng
            ),
            _landing(sim_day, 10),
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
            landing, "orders", f"orders_{_date(d)}.csv", ORDER_FIELDS, new, _landing(sim_day, 20)
        )
    )
    return files


def write_marker(
    landing: Path, seed: int, scale: float, sim_day: int, bad_rows: list[BadRow] | None = None
) -> None:
    """Claim the landing dir; list the injected bad rows so any consumer can check them."""
    previous = read_marker(landing) or {}
    rows = (
        [
            {"export": b.export, "file": b.file_name, "line": b.line, "reason": b.reason}
            for b in bad_rows
        ]
        if bad_rows is not None
        else previous.get("bad_rows", [])
    )
    body = {"seed": seed, "scale": scale, "sim_day": sim_day, "bad_rows": rows}
    (landing / MARKER).write_text(json.dumps(body, indent=1) + "\n")


def read_marker(landing: Path) -> dict[str, object] | None:
    path = landing / MARKER
    return json.loads(path.read_text()) if path.exists() else None
