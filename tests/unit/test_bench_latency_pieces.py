"""The pieces of the latency and overhead figures that need no database or daemon.

The daemon run itself is exercised by ``make bench`` (and the smoke test when it stays
bounded); here: the export file it lands, the timeline it reports, dbt's timing split.
"""

from __future__ import annotations

import csv

from bench.latency import _latency_result, latency_timeout, write_new_export
from bench.pipeline import dbt_timing, overhead_breakdown

FIELDS = ["date", "campaign_id", "platform", "metric", "value"]


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def test_the_new_export_is_the_newest_day_one_day_later(tmp_path):
    landing = tmp_path / "landing"
    rows = [
        {
            "date": "2026-10-01",
            "campaign_id": "c1",
            "platform": "meta",
            "metric": "m",
            "value": "1",
        },
        {
            "date": "2026-09-03",
            "campaign_id": "c2",
            "platform": "meta",
            "metric": "m",
            "value": "2",
        },
    ]
    _write(landing / "ad_metrics" / "ad_metrics_2026-10-01.csv", rows)
    _write(landing / "ad_metrics" / "ad_metrics_2026-09-01_2026-09-30.csv", rows)  # a period
    path, n = write_new_export(landing, tmp_path / "staging")
    assert path == landing / "ad_metrics" / "ad_metrics_2026-10-02.csv" and n == 2
    with open(path, newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [r["date"] for r in written] == ["2026-10-02", "2026-09-04"]  # every row + 1 day
    assert [r["campaign_id"] for r in written] == ["c1", "c2"]  # existing campaigns
    assert not list((tmp_path / "staging").iterdir())  # renamed in, nothing left behind
    again, _ = write_new_export(landing, tmp_path / "staging")
    assert again.name == "ad_metrics_2026-10-03.csv"  # never overwrites a landed file


def test_the_timeline_is_relative_to_the_landing():
    t0 = 1000.0
    runs = [
        {
            "run_id": "i",
            "job": "ingest",
            "status": "SUCCESS",
            "enqueued": 1004.0,
            "started": 1006.0,
            "finished": 1015.0,
        },
        {
            "run_id": "t",
            "job": "transform",
            "status": "SUCCESS",
            "enqueued": 1021.0,
            "started": 1023.0,
            "finished": 1050.0,
        },
    ]
    mats = [
        {"run_id": "i", "asset": "raw/ad_metrics", "at": 1012.0},
        {"run_id": "t", "asset": "staging/stg_ad_metrics", "at": 1030.0},
        {"run_id": "t", "asset": "marts/fct_ads", "at": 1035.0},
        {"run_id": "t", "asset": "serving/bi_access", "at": 1040.5},
    ]
    out = _latency_result(
        __import__("pathlib").Path("f.csv"),
        3,
        t0,
        1041.0,
        runs,
        mats,
        ["marts/fct_ads", "marts/dim_x"],
        __import__("pathlib").Path("d.log"),
    )
    assert out["seconds"] == 40.5
    assert out["timeline"]["ingest run started"] == 6.0
    assert out["timeline"]["raw/ad_metrics materialized"] == 12.0
    assert out["timeline"]["transform run started"] == 23.0
    assert out["timeline"]["first mart materialized"] == 35.0
    assert out["marts_rebuilt"] == ["marts/fct_ads"]
    assert out["marts_not_rebuilt"] == ["marts/dim_x"] and out["marts_total"] == 2
    assert latency_timeout(1) >= 600


def test_dbt_timing_splits_startup_nodes_and_sql():
    def node(uid, start, compile_s, execute_s, total):
        return {
            "unique_id": uid,
            "execution_time": total,
            "timing": [
                {
                    "name": "compile",
                    "started_at": f"2026-01-01T00:00:{start:06.3f}Z",
                    "completed_at": f"2026-01-01T00:00:{start + compile_s:06.3f}Z",
                },
                {
                    "name": "execute",
                    "started_at": f"2026-01-01T00:00:{start + compile_s:06.3f}Z",
                    "completed_at": f"2026-01-01T00:00:{start + compile_s + execute_s:06.3f}Z",
                },
            ],
        }

    data = {
        "metadata": {
            "invocation_started_at": "2026-01-01T00:00:00Z",
            "generated_at": "2026-01-01T00:00:20Z",
        },
        "args": {"threads": 2},
        "results": [
            node("model.p.big", 6.0, 0.5, 8.0, 9.0),
            node("test.p.t1", 14.5, 0.1, 0.4, 1.0),
        ],
    }
    t = dbt_timing(data)
    assert round(t["startup_seconds"], 3) == 6.0
    assert round(t["node_window_seconds"], 3) == 9.0  # 6.0 → 15.0
    assert round(t["tail_seconds"], 3) == 5.0
    assert round(t["sql_seconds"], 3) == 8.4
    assert round(t["per_node_overhead_seconds"], 3) == 0.8  # (10 − 8.4) ÷ 2
    assert t["nodes_by_type"] == {"model": 1, "test": 1} and t["threads"] == 2
    assert t["biggest_models"] == [{"node": "model.p.big", "sql_seconds": 8.0}]

    run = {
        "process_wall_seconds": 40.0,
        "job_seconds": 35.0,
        "phases": {
            "database": 0.5,
            "ingest": 4.0,
            "dagster (ingest run)": 6.0,
            "plan": 0.5,
            "dbt build": 20.0,
            "checks": 3.0,
            "dagster (transform run)": 26.0,
        },
        "dbt": {"timing": t},
        "dagster_runs": [{"seconds": 5.0}, {"seconds": 24.0}],
    }
    o = overhead_breakdown(run)
    assert o["process_seconds"] == 5.0
    assert o["dagster_seconds"] == 32.0 - 27.0
    assert o["entry_seconds"] == 35.0 - 32.0 - 0.5
    assert o["dagster_executor_seconds"] == 29.0 - 27.0
    assert round(o["dbt_outside_nodes_seconds"], 3) == 11.0 and o["dbt_nodes"] == 2
