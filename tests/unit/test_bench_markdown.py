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
