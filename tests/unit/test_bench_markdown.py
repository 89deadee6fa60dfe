"""benchmarks.md and the target verdicts from a small hand-written results dict: no database.

The figures are chosen so every ratio can be checked by hand (ours 500 rows/s against psql
625 rows/s is 0.80, and so on); the assertions are on exact lines of the Markdown.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from bench.markdown import render_markdown, summary_table, terminal_summary
from bench.measure import rejudge
from bench.targets import MB, evaluate_targets
from crownsync.settings import PROJECT_ROOT

TABLES = ("email_sends", "sms_sends")
QUERIES = ("campaign_performance_row", "retailer_ranking_history")


def _run(wall: float, job: float, phases: dict, rss_main: int, rss_dbt: int) -> dict:
    return {
        "job": "full_refresh",
        "success": True,
        "process_wall_seconds": wall,
        "job_seconds": job,
        "phases": phases,
        "checks_passed": 10,
        "checks_failed": [],
        "peak_rss_main_bytes": rss_main * MB,
        "peak_rss_dbt_bytes": rss_dbt * MB,
        "peak_rss_main_context": "step ingest",
        "dbt": {"nodes": 2, "slowest": [{"node": "model.p.m1", "seconds": 3.0, "status": "ok"}]},
        "log": "run.log",
    }


def _scale(scale: float, *, ours_s: float = 2.0, psql_s: float = 1.6, p95: float = 1.0) -> dict:
    """One scale: each table 1,000 rows in ``ours_s`` s (psql ``psql_s`` s)."""
    tables = {
        t: {
            "rows": 1000,
            "seconds": ours_s,
            "rows_per_second": 1000 / ours_s,
            "psql_copy_seconds": psql_s,
            "ratio_vs_psql_copy": psql_s / ours_s,
            "psql_export_seconds": 0.5,
        }
        for t in TABLES
    }
    rows, ours, psql = 2000, 2 * ours_s, 2 * psql_s
    return {
        "scale": scale,
        "databases": {"src": f"b_src_{scale:g}", "wh": f"b_wh_{scale:g}"},
        "load_average_start": [1.0, 1.0, 1.0],
        "load_average_end": [2.0, 2.0, 2.0],
        "simulator": {"rows": 5000, "rows_per_second": 2500.0},
        "ingestion": {
            "tables": tables,
            "total": {
                "rows": rows,
                "seconds": ours,
                "rows_per_second": rows / ours,
                "psql_copy_seconds": psql,
                "psql_copy_rows_per_second": rows / psql,
                "psql_copy_2streams_seconds": 1.0,
                "psql_copy_2streams_rows_per_second": rows / 1.0,
                "ratio_vs_psql_copy": psql / ours,
                "ratio_batched_relay_vs_psql_copy": psql / 2.0,
                "python_copy_out_drain_seconds": 0.4,
                "python_copy_out_reads": rows,
                "python_relay_batched_seconds": 2.0,
                "server_copy_in_ms": 3000.0,
                "server_copy_out_ms": 1000.0,
                "server_post_load_queries_ms": 100.0,
            },
            "to_sql": {
                "method_none": {"rows_per_second": 100.0, "ratio_ours_over_to_sql": 5.0},
                "method_multi": {"rows_per_second": 250.0, "ratio_ours_over_to_sql": 2.0},
            },
        },
        "merge": {
            "tables": {
                t: {
                    "rows_read": 10,
                    "rows_inserted": 8,
                    "rows_updated": 2,
                    "deletes_checked": False,
                    "seconds": 0.5,
                    "rows_per_second": 20.0,
                    "server_merge_ms": 12.0,
                }
                for t in TABLES
            },
            "total": {"rows_read": 20, "seconds": 1.0, "rows_per_second": 20.0},
        },
        "full_pipeline": _run(
            100.0, 90.0, {"ingest": 20.0, "dbt build": 50.0, "checks": 10.0}, 400, 200
        ),
        "incremental_pipeline": _run(
            30.0, 25.0, {"ingest": 1.0, "dbt build": 15.0, "checks": 5.0}, 300, 150
        ),
        "incremental_over_full": 0.3,
        "bi": {
            "queries": {
                q: {
                    "runs": 20,
                    "p50_ms": 0.5,
                    "p95_ms": p95,
                    "avg_rows": 3.0,
                    "plan_kind": "Index Scan",
                    "explain_analyze": ["Index Scan using pk on t"],
                }
                for q in QUERIES
            }
        },
    }


def _report(*scales: dict) -> dict:
    report = {
        "command": "make bench",
        "started_at": "2026-01-02 03:04",
        "seconds": 600.0,
        "load_average_start": [1.0, 1.5, 2.0],
        "load_average_end": [2.0, 2.5, 3.0],
        "machine": {
            "cpu_model": "Test CPU",
            "logical_cores": 2,
            "physical_cores": 1,
            "ram_bytes": 8 * 1024**3,
            "os": "Linux 6",
            "python": "3.11.7",
            "postgres_version": "18.1",
            "server": "postgresql://postgres@127.0.0.1:5433/postgres",
            "postgres_settings": {"work_mem": "32MB", "shared_buffers": "512MB"},
        },
        "scales": list(scales),
        "notes": [],
    }
    report["targets"] = evaluate_targets(report["scales"])
    return report


def _lines(report: dict) -> list[str]:
    return render_markdown(report).split("\n")


def _table(text: str) -> dict[str, list[str]]:
    """The summary table as {figure: [cell per scale]}, padding stripped; "figure" = header."""
    out = {}
    for line in text.split("\n"):
        if line.startswith("| ") and not line.startswith("|-"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            out[cells[0]] = cells[1:]
    return out


def test_targets_pass_and_miss_lines():
    lines = _lines(_report(_scale(0.1), _scale(1.0, p95=5.01)))
    assert (
        "| ingestion rows/s ÷ psql \\copy rows/s (same rows) ≥ 0.70 | 1 | 0.80 | **pass** |"
        in lines
    )
    assert "| full pipeline at scale 1 on 2 cores ≤ 3 min | 1 | 100 s | **pass** |" in lines
    assert "| incremental ÷ full wall time ≤ 0.10 | 1 | 0.30 | **miss** |" in lines
    assert "| BI campaign_performance_row p95 ≤ 5 ms | 1 | 5.01 ms | **miss** |" in lines
    assert (
        "| peak RSS (pipeline process, dbt) at scale 10 ≈ scale 1, ≤ 1 GB | 1 "
        "| s0.1: 400 MB, s1: 400 MB | **not measured at scale 10 (≤ 1 GB holds at the scales "
        "run)** |"
    ) in lines
    # a missed target marks its section, a passed one does not
    assert "### Incremental ÷ full (missed)" in lines
    assert "### Ingestion vs psql `\\copy`" in lines
    assert "### Full pipeline" in lines


def test_boundaries_are_inclusive_and_a_slow_ingest_misses():
    at_limit = _scale(1.0, ours_s=2.0, psql_s=1.4, p95=5.0)  # ratio exactly 0.70, p95 5 ms
    status = {t["key"]: t["status"] for t in evaluate_targets([at_limit])}
    assert status["ingest_vs_psql"] == "pass"
    assert status["bi_p95_ms:campaign_performance_row"] == "pass"

    slow = _scale(1.0, ours_s=2.0, psql_s=1.0)
    slow["full_pipeline"]["process_wall_seconds"] = 181.0
    lines = _lines(_report(slow))
    assert (
        "| ingestion rows/s ÷ psql \\copy rows/s (same rows) ≥ 0.70 | 1 | 0.50 | **miss** |"
        in lines
    )
    assert "| full pipeline at scale 1 on 2 cores ≤ 3 min | 1 | 181 s | **miss** |" in lines
    assert "### Ingestion vs psql `\\copy` (missed)" in lines
    assert "### Full pipeline (missed)" in lines


def test_a_failed_full_run_misses_even_when_fast():
    s1 = _scale(1.0)
    s1["full_pipeline"]["success"] = False
    status = {t["key"]: t["status"] for t in evaluate_targets([s1])}
    assert status["full_pipeline_s1_seconds"] == "miss"


def test_scale_1_not_run_and_incremental_skipped_are_not_measured():
    s = _scale(0.1)
    s["incremental_pipeline"] = {"skipped": True, "success": True}
    s["incremental_over_full"] = None
    lines = _lines(_report(s))
    assert (
        "| full pipeline at scale 1 on 2 cores ≤ 3 min | 1 | scale 1 not run | **not measured** |"
        in lines
    )
    assert "| incremental ÷ full wall time ≤ 0.10 | 0.1 | skipped | **not measured** |" in lines
    assert "The incremental pipeline was not run (--skip-incremental-pipeline)." in lines
    table = _table(summary_table([s]))
    assert table["incremental ÷ full"] == ["–"]
    assert table["incremental pipeline wall s"] == ["–"]


def test_peak_rss_growth_from_scale_1_to_10():
    s1, s10 = _scale(1.0), _scale(10.0)
    s10["full_pipeline"]["peak_rss_main_bytes"] = 480 * MB  # ×1.20
    target = next(t for t in evaluate_targets([s1, s10]) if t["key"] == "peak_rss_bytes")
    assert target == {
        "target": "peak RSS (pipeline process, dbt) at scale 10 ≈ scale 1, ≤ 1 GB",
        "key": "peak_rss_bytes",
        "scale": 10.0,
        "value": "s1: 400 MB, s10: 480 MB (×1.20)",
        "status": "pass",
    }
    s10["full_pipeline"]["peak_rss_main_bytes"] = 520 * MB  # ×1.30: grows with the data
    target = next(t for t in evaluate_targets([s1, s10]) if t["key"] == "peak_rss_bytes")
    assert target["status"] == "miss"
    text = render_markdown(_report(s1, s10))
    assert "From scale 1 to 10 the pipeline process's peak grows ×1.30 and dbt's ×1.00" in text


def test_summary_table_one_column_per_scale_and_ratio_formats():
    scales = [_scale(0.1), _scale(1.0, ours_s=4.0)]
    table = _table(summary_table(scales))
    assert table["figure"] == ["scale 0.1", "scale 1"]
    assert all(len(cells) == 2 for cells in table.values())
    assert table["ingest email_sends rows/s (÷ psql)"] == ["500 (0.80)", "250 (0.40)"]
    assert table["ingest total rows"] == ["2,000", "2,000"]
    assert table["psql \\copy rows/s (1 / 2 streams)"] == ["625 / 2,000", "625 / 2,000"]
    assert table["ours ÷ psql \\copy"] == ["0.80", "0.40"]
    assert table["ours ÷ to_sql (email_sends, default / multi)"] == ["5.0 / 2.0", "5.0 / 2.0"]
    assert table["merge after advance rows/s (rows)"] == ["20 (20)", "20 (20)"]
    assert table["incremental ÷ full"] == ["0.30", "0.30"]
    assert table["full: dbt build s"] == ["50.0", "50.0"]
    assert table["full: serving s"] == ["0.0", "0.0"]
    assert table["full: result"] == ["ok, 10 checks passed, 0 failed"] * 2
    assert table["peak RSS MB pipeline / dbt (full)"] == ["400 / 200", "400 / 200"]
    assert table["BI retailer_ranking_history p50 / p95 ms"] == ["0.50 / 1.00", "0.50 / 1.00"]
    assert table["load average start → end"] == ["1.00 → 2.00", "1.00 → 2.00"]
    # tables and queries come from the data, in its order
    assert [k for k in table if k.startswith("ingest ") and "(÷ psql)" in k] == [
        f"ingest {t} rows/s (÷ psql)" for t in TABLES
    ]


def test_a_figure_missing_from_one_scale_is_a_dash():
    s = _scale(1.0)
    del s["ingestion"]["to_sql"]
    table = _table(summary_table([_scale(0.1), s]))
    assert table["pandas to_sql rows/s (default / multi)"] == ["100 / 250", "–"]


def test_machine_merge_and_bi_lines():
    report = _report(_scale(0.1), _scale(1.0))
    report["notes"] = ["scale 1 incremental_pipeline: checks failed (x); log run.log"]
    lines = _lines(report)
    assert lines[:2] == ["# Benchmarks", ""]
    assert "- command: `make bench`" in lines
    assert "- date: 2026-01-02 03:04 (UTC), 10.0 min" in lines
    assert "- CPU: Test CPU, 2 logical cores (1 physical)" in lines
    assert "- RAM: 8.0 GB; OS Linux 6; Python 3.11.7" in lines
    assert (
        "- PostgreSQL 18.1 (postgresql://postgres@127.0.0.1:5433/postgres); "
        "shared_buffers=512MB, work_mem=32MB"
    ) in lines
    assert (
        "- email_sends: 10 rows (8 inserted, 2 updated) in 0.50 s (20 rows/s); server time: "
        "source COPY out 0 ms, COPY into the stage 0 ms, analyze 0 ms, merge statement 12 ms"
    ) in lines
    assert (
        "- `campaign_performance_row` p95 1.00 ms (p50 0.50 ms, 3 rows on average), plan: "
        "Index Scan. EXPLAIN ANALYZE: `Index Scan using pk on t`."
    ) in lines
    assert "{runs}" not in "\n".join(lines) and "20 timed runs per query" in "\n".join(lines)
    assert lines[-4:] == [
        "## Notes",
        "",
        "- scale 1 incremental_pipeline: checks failed (x); log run.log",
        "",
    ]


def test_incremental_vs_full_phase_ratios():
    text = render_markdown(_report(_scale(1.0)))
    # ingest 1/20, dbt 15/50, checks 5/10; outside the steps 30-21 = 9 and 100-80 = 20 s
    assert (
        "Phase by phase, incremental ÷ full: ingest 1.0 / 20.0 s = 0.05; dbt build 15.0 / "
        "50.0 s = 0.30; checks 5.0 / 10.0 s = 0.50; outside the steps 9.0 / 20.0 s."
    ) in text
    assert "The target allows 10 s for the incremental run at this scale" in text


def test_terminal_summary_ends_with_one_line_per_target():
    report = _report(_scale(1.0))
    lines = terminal_summary(report).split("\n")
    n = len(report["targets"])
    assert lines[-n:] == [
        f"  {t['status']:<6} {t['target']}: {t['value']} (scale {t['scale']:g})"
        for t in report["targets"]
    ]
    assert (
        lines[-n:][0]
        == "  pass   ingestion rows/s ÷ psql \\copy rows/s (same rows) ≥ 0.70: 0.80 (scale 1)"
    )


def test_render_does_not_change_the_report():
    report = _report(_scale(0.1), _scale(1.0))
    before = copy.deepcopy(report)
    render_markdown(report)
    terminal_summary(report)
    assert report == before


def test_the_renderer_imports_no_database_or_subprocess_library():
    code = (
        "import sys, bench.markdown, bench.targets; "
        "print([m for m in ('psycopg', 'psutil', 'sqlalchemy', 'subprocess', 'ingestion', "
        "'orchestration') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(
    not (PROJECT_ROOT / "docs" / "benchmarks.json").exists(), reason="no stored benchmark"
)
def test_docs_benchmarks_md_is_the_rendering_of_docs_benchmarks_json():
    docs = PROJECT_ROOT / "docs"
    report = json.loads((docs / "benchmarks.json").read_text())
    rejudge(report)
    assert render_markdown(report) == (docs / "benchmarks.md").read_text(), (
        "docs/benchmarks.md is stale: python -m bench --render docs/benchmarks.json"
    )


# --- the refresh figures: no-change, 1 % floor, latency, per-scale merge -----------------


def _refresh(scale: float, *, nochange_s: float = 8.0, latency_s: float = 45.0) -> dict:
    """_scale plus the figures of the change-driven refresh (chosen to check by hand)."""
    s = _scale(scale)
    s["run"] = {"started_at": "2026-01-02 03:04", "git_commit": "abc1234", "command": "make bench"}
    s["nochange_pipeline"] = _run(
        nochange_s,
        nochange_s - 2,
        {"ingest": 3.0, "dagster (ingest run)": 4.5, "plan": 0.5},
        300,
        0,
    )
    s["nochange_pipeline"].update(materialized=0, plan="nothing to build: every model is newer")
    incr = s["incremental_pipeline"]
    incr["phases"].update(
        {"dagster (ingest run)": 3.0, "plan": 0.5, "dagster (transform run)": 20.0}
    )
    incr.update(materialized=12, plan="10 assets, 40 checks to run: a, b")
    # wall 30, job 25: process 5; runs 23 + plan 0.5 → entry 1.5; steps 21 → Dagster 2
    incr["overhead"] = {
        "process_seconds": 5.0,
        "entry_seconds": 1.5,
        "plan_seconds": 0.5,
        "dagster_seconds": 2.0,
        "steps_seconds": 21.0,
        "dbt_step_seconds": 15.0,
        "dbt_startup_seconds": 4.0,
        "dbt_outside_nodes_seconds": 5.0,
        "dbt_nodes": 50,
        "dbt_per_node_overhead_seconds": 0.1,
        "dbt_sql_seconds": 5.0,
        "dbt_node_window_seconds": 10.0,
        "dbt_threads": 2,
    }
    incr["dbt"]["timing"] = {
        "node_seconds": 10.0,
        "biggest_models": [{"node": "model.p.fct_big", "sql_seconds": 2.5}],
    }
    s["transform_assets_total"] = 40
    s["warehouse_bytes"] = 300 * MB
    s["source_bytes"] = 200 * MB
    s["latency"] = {
        "file": "ad_metrics_2026-10-02.csv",
        "file_rows": 30,
        "seconds": latency_s,
        "timeline": {
            "ingest run enqueued (landing sensor tick)": 5.0,
            "ingest run started": 6.0,
            "ingest run finished": 15.0,
            "transform run enqueued (transform_on_change tick)": 18.0,
            "transform run started": 22.0,
            "serving/bi_access materialized": latency_s,
        },
        "transform_materialized": ["marts/m1", "serving/bi_access", "staging/s1"],
        "marts_rebuilt": ["marts/m1"],
        "marts_total": 3,
        "marts_not_rebuilt": ["marts/m2", "marts/m3"],
        "sensors_start_seconds": 9.0,
        "daemon_start_seconds": 4.0,
        "settle_seconds": 20.0,
        "daemon_log": "daemon.log",
    }
    return s


def test_refresh_targets_at_scale_1():
    status = {t["key"]: (t["value"], t["status"]) for t in evaluate_targets([_refresh(1.0)])}
    assert status["nochange_s1_seconds"] == ("8.0 s", "pass")
    assert status["latency_s1_seconds"] == ("45.0 s", "pass")
    assert status["scale10_measured"] == ("scale 10 not run", "not measured")
    slow = _refresh(1.0, nochange_s=10.01, latency_s=60.5)
    status = {t["key"]: (t["value"], t["status"]) for t in evaluate_targets([slow])}
    assert status["nochange_s1_seconds"] == ("10.0 s", "miss")
    assert status["latency_s1_seconds"] == ("60.5 s", "miss")
    failed = _refresh(1.0)
    failed["latency"] = {"error": "latency: no serving/bi_access materialization within 660 s"}
    status = {t["key"]: t["status"] for t in evaluate_targets([failed])}
    assert status["latency_s1_seconds"] == "miss"
    # only a smaller scale: the scale-1 targets are not measured, never passed
    status = {t["key"]: t["status"] for t in evaluate_targets([_refresh(0.1)])}
    assert status["nochange_s1_seconds"] == status["latency_s1_seconds"] == "not measured"


def test_ratio_is_judged_at_scale_1_and_rss_over_every_run_at_scale_10():
    s1, s10 = _refresh(1.0), _refresh(10.0)
    s10["incremental_over_full"] = 0.05
    s10["nochange_pipeline"]["peak_rss_main_bytes"] = 450 * MB  # the highest of scale 10
    targets = {t["key"]: t for t in evaluate_targets([s1, s10])}
    assert (
        targets["incremental_over_full"]["scale"],
        targets["incremental_over_full"]["value"],
    ) == (
        1.0,
        "0.30",
    )
    assert targets["peak_rss_bytes"]["value"] == "s1: 400 MB, s10: 450 MB (×1.12)"
    assert targets["scale10_measured"]["value"] == "full 100 s, 1 % refresh 30 s"
    assert targets["scale10_measured"]["status"] == "pass"


def test_refresh_rows_and_sections():
    report = _report(_refresh(1.0))
    report["git_commit"] = "abc1234+dirty"
    text = render_markdown(report)
    table = _table(summary_table(report["scales"]))
    assert table["run: date (UTC), commit"] == ["2026-01-02 03:04, abc1234"]
    assert table["no-change pipeline wall s"] == ["8.0"]
    assert table["no-change: materialized / plan"] == ["0 / nothing to build"]
    assert table["incremental: materialized / plan"] == ["12 / 10 assets, 40 checks to run"]
    assert table["incremental: dagster (transform run) s"] == ["20.0"]
    assert table["incremental: fixed s (process, entry, Dagster, dbt outside nodes)"] == [
        "5.0 / 1.5 / 2.0 / 5.0"
    ]
    assert table["incremental: dbt nodes, per-node overhead ms, SQL s"] == ["50, 100, 5.0"]
    assert table["landing → serving/bi_access s (daemon)"] == ["45.0"]
    assert table["latency: ingest start / done / transform start"] == ["6.0 / 15.0 / 22.0"]
    assert table["latency: marts rebuilt (of all)"] == ["1 of 3"]
    assert table["warehouse / source database MB"] == ["300 / 200"]
    assert "- git commit: abc1234+dirty" in text
    # fixed: 5 + 1.5 + 0.5 + 2 + 5 + window 10 × (1 − 5/10) = 19 s of the full run's 100 s
    assert "Fixed overhead, independent of the rows changed, is about 19.0 s" in text
    assert "alone 0.19 of the full run's 100.0 s — the measured floor" in text
    assert "The plan selected 10 of the 40 transform assets (25%)." in text
    assert "`fct_big` 2.5 s" in text
    assert "sources unchanged, took 8.0 s wall and materialized 0 assets" in text
    assert "`serving/bi_access` was materialized 45.0 s later" in text
    assert "1 of the 3 marts: `m1` (2 marts not rebuilt)" in text
    # sensors 5 + (18 − 15); queue and launch (6 − 5) + (22 − 18); work (15 − 6) + (45 − 22)
    assert (
        "Of the 45.0 s: waiting for sensor ticks 8.0 s (the landing tick 5.0 s, the transform "
        "tick 3.0 s after the ingest ended; 10 s intervals), queue and launch 5.0 s"
    ) in text
    assert "work 32.0 s (the ingest run 9.0 s, the transform run up to bi_access 23.0 s)" in text
    assert "### No-change refresh" in text and "### No-change refresh (missed)" not in text


def test_merge_keeps_other_scales_with_their_own_run():
    from bench.measure import merge_reports

    old = _report(_refresh(0.1), _scale(10.0))  # scale 10 stored before per-scale runs
    old["started_at"], old["command"] = "2026-01-01 00:00", "make bench SCALES=10"
    assert "run" not in old["scales"][1]
    new = _report(_refresh(1.0))
    merged = merge_reports(old, new)
    assert [s["scale"] for s in merged["scales"]] == [0.1, 1.0, 10.0]
    assert merged["kept_scales"] == [0.1, 10.0]
    assert merged["scales"][2]["run"] == {
        "started_at": "2026-01-01 00:00",
        "git_commit": "unknown",
        "command": "make bench SCALES=10",
    }
    assert merged["targets"] == evaluate_targets(merged["scales"])
    lines = _lines(merged)
    assert (
        "- scale 10 kept from an earlier run: 2026-01-01 00:00 (UTC), commit unknown, "
        "`make bench SCALES=10`"
    ) in lines
    # a rerun of a scale replaces it
    again = merge_reports(merged, _report(_refresh(0.1, nochange_s=3.0)))
    assert [s["scale"] for s in again["scales"]] == [0.1, 1.0, 10.0]
    assert again["scales"][0]["nochange_pipeline"]["process_wall_seconds"] == 3.0


def test_a_lean_scale_says_what_it_skipped():
    s = _refresh(10.0)
    s["lean"] = True
    del s["ingestion"]["to_sql"]
    for key in ("psql_copy_2streams_seconds", "python_copy_out_drain_seconds"):
        del s["ingestion"]["total"][key]
    text = render_markdown(_report(_refresh(1.0), s))
    assert "Lean at scale 10: the ingestion what-if micro-benchmarks" in text
    assert "were skipped at this scale (lean run)" in text
    assert _table(summary_table([s]))["pandas to_sql rows/s (default / multi)"] == ["–"]


def _with_parallel(s: dict, seconds: float) -> dict:
    """The scale's 2,000 rows loaded again in ``seconds`` by INGEST_WORKERS=2."""
    total = s["ingestion"]["total"]
    rate = total["rows"] / seconds
    s["ingestion"]["parallel"] = {
        "workers": 2,
        "rows": total["rows"],
        "seconds": seconds,
        "rows_per_second": rate,
        "ratio_vs_serial": rate / total["rows_per_second"],
        "ratio_vs_psql_copy": rate / total["psql_copy_rows_per_second"],
        "ratio_vs_psql_copy_2streams": rate / total["psql_copy_2streams_rows_per_second"],
        "tables": {t: {"rows": 1000, "streams": 2, "seconds": seconds / 2} for t in TABLES},
        "server_ms": {"copy_out": 900.0, "copy_in_stage": 1200.0, "primary_key": 300.0},
    }
    return s


def test_parallel_ingestion_rows_targets_and_bounds():
    # psql: 1 stream 2,000 rows / 3.2 s = 625 rows/s, 2 streams 2,000 rows/s
    fast = _with_parallel(_scale(1.0), seconds=1.0)  # 2,000 rows/s: 3.20 × 1 stream, 1.00 × 2
    lines = _lines(_report(_scale(0.1), fast))
    assert (
        "| parallel ingestion rows/s ÷ 2 parallel psql \\copy streams ≥ 0.90 | 1 | 1.00 "
        "| **pass** |"
    ) in lines
    assert (
        "| parallel ingestion rows/s ÷ 1 psql \\copy stream ≥ 1.50 | 1 | 3.20 | **pass** |" in lines
    )
    table = _table("\n".join(lines))
    assert table["ingest parallel rows/s (INGEST_WORKERS)"] == ["–", "2,000 (2)"]
    assert table["parallel ÷ psql \\copy 1 / 2 streams"] == ["–", "3.20 / 1.00"]
    assert table["parallel ÷ serial (INGEST_WORKERS=1)"] == ["–", "4.00"]
    assert "### Parallel ingestion (INGEST_WORKERS)" in lines

    slow = _with_parallel(_scale(1.0), seconds=2.5)  # 800 rows/s: 1.28 × 1 stream, 0.40 × 2
    status = {t["key"]: (t["value"], t["status"]) for t in evaluate_targets([slow])}
    assert status["parallel_vs_psql_2streams"] == ("0.40", "miss")
    assert status["parallel_vs_psql_1stream"] == ("1.28", "miss")
    # not run (an older report, or scale 1 not in it): not measured, not a miss
    status = {t["key"]: t["status"] for t in evaluate_targets([_scale(1.0)])}
    assert status["parallel_vs_psql_1stream"] == "not measured"
