"""Export files → raw: exactly once, bad rows quarantined, bad files rejected, restatements."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ingestion.api import ingest_export, ingest_exports

pytestmark = pytest.mark.integration

BRAND = "00000000-0000-4000-8000-000000000001"
CAMPAIGN = "00000000-0000-4000-a000-000000000001"
ACCOUNT = "00000000-0000-4000-e000-000000000001"
RETAILER = "00000000-0000-4000-9000-000000000001"
HEADER = "date,brand_id,campaign_id,platform,metric_type,value,currency\n"


def _write(path: Path, content: str | bytes, day: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    stamp = datetime(2026, 10, day, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_bad_rows_are_quarantined_with_line_and_reason(make_database, landing_dir):
    warehouse = make_database("wh")
    _write(
        landing_dir / "ad_metrics" / "day1.csv",
        HEADER
        + f"2026-10-01,{BRAND},{CAMPAIGN},meta,ad_spend,100.50,usd\n"  # 2 good
        + f"2026-10-01,{BRAND},{CAMPAIGN},meta,clicks,abc,USD\n"  # 3 wrong type
        + f"2026-10-01,{BRAND},{CAMPAIGN},myspace,clicks,3,USD\n"  # 4 unknown enum
        + f",{BRAND},{CAMPAIGN},meta,clicks,3,USD\n"  # 5 missing key
        + f"2026-02-30,{BRAND},{CAMPAIGN},meta,clicks,3,USD\n"  # 6 impossible date
        + f"2026-10-01,{BRAND},{CAMPAIGN},meta,clicks,3\n"  # 7 wrong number of fields
        + f'2026-10-01,{BRAND},"{CAMPAIGN},meta,clicks,3,USD\n'  # 8 broken quoting
        + f"2026-10-01,{BRAND},{CAMPAIGN},meta,revenue,9,EUR\n"  # 9 unsupported currency
        + f'2026-10-01,{BRAND},,google_ads,"impressions",1000,\n'  # 10 good, brand level
        + f'2026-10-01,{BRAND},{CAMPAIGN},tiktok_ads,conversions,"2",""\n',  # 11 good
        day=1,
    )
    _write(
        landing_dir / "orders" / "o1.jsonl",
        json.dumps(
            {
                "order_id": "A1",
                "line_number": 1,
                "retailer_id": RETAILER,
                "ordered_at": "2026-10-01T10:00:00Z",
                "model_mpn": "M-1",
                "quantity": "2",
                "unit_price": "12.50",
                "currency": "",
                "status": "paid",
                "utm_campaign": CAMPAIGN.upper(),
                "coupon": "VIP",
            }
        )
        + "\n"
        + "[1, 2, 3]\n"  # 2 not an object
        + json.dumps(
            {
                "order_id": "A1",
                "line_number": "1.0",
                "retailer_id": RETAILER,
                "ordered_at": "2026-10-01T10:00:00Z",
                "model_mpn": "M-1",
                "quantity": 1,
                "unit_price": 1,
                "status": "paid",
            }
        )
        + "\n"  # 3 integer as 12.0
        + "{not json\n",  # 4 broken JSON
        day=1,
    )

    report = ingest_exports(warehouse_url=warehouse, landing_dir=landing_dir)
    assert report.ok, report.errors

    rejected = _rows(
        warehouse,
        "select file_name, line_number, column_name, reason, raw_content from raw._rejected_rows "
        "order by file_name, line_number",
    )
    got = {(r[0], r[1]): (r[2], r[3]) for r in rejected}
    assert sorted(got) == [("day1.csv", n) for n in range(3, 10)] + [
        ("o1.jsonl", 2),
        ("o1.jsonl", 3),
        ("o1.jsonl", 4),
    ]
    assert got[("day1.csv", 3)][0] == "value" and "number" in got[("day1.csv", 3)][1]
    assert got[("day1.csv", 4)][0] == "platform" and "myspace" in got[("day1.csv", 4)][1]
    assert got[("day1.csv", 5)] == ("date", "date: missing required value")
    assert got[("day1.csv", 6)][0] == "date" and "impossible date" in got[("day1.csv", 6)][1]
    assert "wrong number of fields" in got[("day1.csv", 7)][1]
    assert "broken quoting" in got[("day1.csv", 8)][1]
    assert (
        got[("day1.csv", 9)][0] == "currency" and "unsupported currency" in got[("day1.csv", 9)][1]
    )
    assert "not a JSON object" in got[("o1.jsonl", 2)][1]
    assert got[("o1.jsonl", 3)][0] == "line_number" and "integer" in got[("o1.jsonl", 3)][1]
    assert "not valid JSON" in got[("o1.jsonl", 4)][1]
    raw_text = {(r[0], r[1]): r[4] for r in rejected}
    assert raw_text[("day1.csv", 4)] == f"2026-10-01,{BRAND},{CAMPAIGN},myspace,clicks,3,USD"

    ads = _rows(
        warehouse,
        "select _line_number, campaign_id::text, platform, metric_type, value, currency "
        "from raw.ad_metrics order by _line_number",
    )
    assert [(a[0], a[1], a[2], a[3], str(a[4]), a[5]) for a in ads] == [
        (2, CAMPAIGN, "meta", "ad_spend", "100.50", "USD"),
        (10, None, "google_ads", "impressions", "1000", "USD"),
        (11, CAMPAIGN, "tiktok_ads", "conversions", "2", "USD"),
    ]
    order = _rows(
        warehouse, "select quantity, unit_price, currency, utm_campaign, _extra from raw.orders"
    )
    assert order == [
        (2, __import__("decimal").Decimal("12.50"), "USD", CAMPAIGN.upper(), {"coupon": "VIP"})
    ]
    files = _rows(
        warehouse, "select file_name, status, rows_loaded, rows_rejected from raw._files order by 1"
    )
    assert files == [("day1.csv", "loaded", 3, 7), ("o1.jsonl", "loaded", 1, 3)]


def test_duplicate_file_restatements_and_rerun(make_database, landing_dir):
    warehouse = make_database("wh")
    day1 = (
        HEADER
        + f"2026-10-01,{BRAND},{CAMPAIGN},meta,ad_spend,100,USD\n"
        + f"2026-10-01,{BRAND},{CAMPAIGN},meta,clicks,10,USD\n"
        + f"2026-10-01,{BRAND},{CAMPAIGN},meta,clicks,11,USD\n"  # same key later line wins
    )
    _write(landing_dir / "ad_metrics" / "b_day1.csv", day1, day=1)
    _write(landing_dir / "ad_metrics" / "copy_of_day1.csv", day1, day=3)  # same bytes
    # restatement, landed later (mtime), although its name sorts first
    _write(
        landing_dir / "ad_metrics" / "a_restated.jsonl",
        json.dumps(
            {
                "date": "2026-10-01",
                "brand_id": BRAND,
                "campaign_id": CAMPAIGN,
                "platform": "meta",
                "metric_type": "ad_spend",
                "value": "120.25",
            }
        )
        + "\n",
        day=2,
    )

    first = ingest_export("ad_metrics", warehouse_url=warehouse, landing_dir=landing_dir)
    assert [(r.file_name, r.status) for r in first] == [
        ("b_day1.csv", "loaded"),
        ("a_restated.jsonl", "loaded"),
        ("copy_of_day1.csv", "duplicate"),
    ]
    current = _rows(
        warehouse,
        "select metric_type, value::text from raw.ad_metrics where _is_current order by 1",
    )
    assert current == [("ad_spend", "120.25"), ("clicks", "11")]
    assert _rows(warehouse, "select count(*) from raw.ad_metrics")[0][0] == 4  # every version kept
    assert _rows(
        warehouse,
        "select duplicate_of is not null from raw._files where file_name = 'copy_of_day1.csv'",
    ) == [(True,)]

    # run again: nothing new, nothing loaded twice
    again = ingest_export("ad_metrics", warehouse_url=warehouse, landing_dir=landing_dir)
    assert again == []
    assert _rows(warehouse, "select count(*) from raw.ad_metrics")[0][0] == 4
    # the same bytes under a third name, later: a duplicate, still not loaded
    _write(landing_dir / "ad_metrics" / "zz_again.csv", day1, day=5)
    third = ingest_export("ad_metrics", warehouse_url=warehouse, landing_dir=landing_dir)
    assert [(r.file_name, r.status) for r in third] == [("zz_again.csv", "duplicate")]
    assert _rows(warehouse, "select count(*) from raw.ad_metrics")[0][0] == 4
    assert _rows(
        warehouse,
        "select metric_type, value::text from raw.ad_metrics where _is_current order by 1",
    ) == [("ad_spend", "120.25"), ("clicks", "11")]


def test_bad_files_are_rejected_whole_extra_columns_tolerated(make_database, landing_dir):
    warehouse = make_database("wh")
    folder = landing_dir / "social_insights"
    good = f"{ACCOUNT},2026-10-01,instagram,100,50,500,20,7,note\n"
    _write(folder / "empty.csv", b"", day=1)
    _write(
        folder / "latin1.csv",
        "date,account_id,platform,followers,reach,impressions,engagement\n"
        "2026-10-01," + ACCOUNT + ",caf\xe9,1,1,1,1\n",
        day=1,
    )
    (folder / "latin1.csv").write_bytes((folder / "latin1.csv").read_text().encode("latin-1"))
    _write(
        folder / "no_reach.csv",
        "date,account_id,platform,followers,impressions,engagement\n"
        f"2026-10-01,{ACCOUNT},instagram,1,1,1\n",
        day=1,
    )
    _write(folder / "object.json", json.dumps({"date": "2026-10-01"}), day=1)
    _write(folder / "broken.json", '[{"date": "2026-10-01"', day=1)
    _write(
        folder / "extra.csv",
        "account_id,date,platform,followers,reach,impressions,engagement,profile_views,comment\n"
        + good,
        day=2,
    )
    _write(
        folder / "array.json",
        json.dumps(
            [
                {
                    "date": "2026-10-02",
                    "account_id": ACCOUNT,
                    "platform": "instagram",
                    "followers": 101,
                    "reach": "60",
                    "impressions": 600,
                    "engagement": 21,
                },
                "oops",
            ]
        ),
        day=3,
    )
    results = {
        r.file_name: r
        for r in ingest_export("social_insights", warehouse_url=warehouse, landing_dir=landing_dir)
    }
    assert {n: r.status for n, r in results.items()} == {
        "empty.csv": "rejected",
        "latin1.csv": "rejected",
        "no_reach.csv": "rejected",
        "object.json": "rejected",
        "broken.json": "rejected",
        "extra.csv": "loaded",
        "array.json": "loaded",
    }
    assert "0 bytes" in results["empty.csv"].reason
    assert "UTF-8" in results["latin1.csv"].reason
    assert "reach" in results["no_reach.csv"].reason
    assert "JSON array" in results["object.json"].reason
    assert "JSON array" in results["broken.json"].reason
    assert (
        _rows(
            warehouse,
            "select count(*) from raw._files where status = 'rejected' and reason is not null",
        )[0][0]
        == 5
    )
    rows = _rows(
        warehouse,
        "select _file_id is not null, date::text, followers, reach, profile_views, _extra, _line_number "
        "from raw.social_insights order by date",
    )
    assert rows == [
        (True, "2026-10-01", 100, 50, 7, {"comment": "note"}, 2),
        (True, "2026-10-02", 101, 60, None, None, 1),
    ]
    assert _rows(warehouse, "select line_number, reason from raw._rejected_rows") == [
        (2, "not a JSON object (a str)")
    ]


def test_multiline_quoted_csv_field_is_one_row(make_database, landing_dir):
    warehouse = make_database("wh")
    _write(
        landing_dir / "orders" / "multi.csv",
        "order_id,line_number,retailer_id,ordered_at,model_mpn,quantity,unit_price,currency,status,note\n"
        f'"A,1",1,{RETAILER},2026-10-01 10:00:00+02,M-1,1,10.00,USD,paid,"two\nlines"\n'
        f"B2,1,{RETAILER},2026-10-01T10:00:00,M-2,3,5.5,USD,refunded,x\n",
        day=1,
    )
    [result] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing_dir)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0)
    rows = _rows(
        warehouse,
        "select order_id, _line_number, ordered_at::text, _extra->>'note' from raw.orders order by 2",
    )
    assert rows == [
        ("A,1", 2, "2026-10-01 08:00:00+00", "two\nlines"),
        ("B2", 4, "2026-10-01 10:00:00+00", "x"),
    ]


@pytest.mark.slow
def test_kill_9_mid_file_leaves_nothing_and_rerun_loads_it_once(make_database, landing_dir):
    import signal
    import subprocess
    import sys
    import time

    from crownsync.settings import PROJECT_ROOT

    warehouse = make_database("wh")
    lines = [
        f"O{n},1,{RETAILER},2026-10-01T10:00:00Z,M-1,1,10.00,USD,paid\n" for n in range(150_000)
    ]
    _write(
        landing_dir / "orders" / "big.csv",
        "order_id,line_number,retailer_id,ordered_at,model_mpn,quantity,unit_price,currency,status\n"
        + "".join(lines),
        day=1,
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingestion",
            "exports",
            "--exports",
            "orders",
            "--warehouse-url",
            warehouse,
            "--landing-dir",
            str(landing_dir),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            running = _rows(warehouse, "select count(*) from raw._loads where status = 'running'")
            if running[0][0]:
                break
        except psycopg.Error:
            pass
        time.sleep(0.02)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _rows(warehouse, "select count(*) from raw._files")[0][0] == 0
    assert _rows(warehouse, "select count(*) from raw.orders")[0][0] == 0

    [result] = ingest_export("orders", warehouse_url=warehouse, landing_dir=landing_dir)
    assert (result.status, result.rows_loaded) == ("loaded", 150_000)
    assert _rows(warehouse, "select count(*), count(distinct order_id) from raw.orders") == [
        (150_000, 150_000)
    ]
    assert _rows(warehouse, "select status from raw._loads order by load_id") == [
        ("abandoned",),
        ("succeeded",),
    ]
