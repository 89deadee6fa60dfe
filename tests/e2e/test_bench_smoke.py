"""``make bench SCALE=0.1`` end to end, as the CI smoke test: one run, checked for consistency.

Never how fast anything is: that the rows measured are the rows the simulator wrote, that
every ratio is the quotient of the JSON's own figures, that the Markdown says what the JSON
says (targets, one column per scale) and that ``--render`` of the JSON reproduces it. The
typesetting itself is unit-tested without a database (tests/unit/test_bench_markdown.py).
The run goes to a temporary folder and benchsmoke_* databases of the test server:
docs/benchmarks.md is untouched.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import measure as bench
from bench.bi import BI_QUERIES
from bench.ingestion import LARGE_TABLES
from bench.pipeline import STEP_PHASES
from bench.targets import evaluate_targets
from tests.processes import reaped_descendants

# the whole bench at scale 0.1 (two pipeline runs) takes a few minutes on 2 shared cores
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

SCALE = 0.1


def _ratio(numerator: float, denominator: float) -> object:
    return pytest.approx(numerator / denominator, rel=1e-9)


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def bench_report(pg_server_url: str, tmp_path_factory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("bench")
    out = root / "out"
    with reaped_descendants():  # its psql streams and pipeline child, if interrupted
        rc = bench.main(
            [
                "--scales",
                str(SCALE),
                "--bi-runs",
                "20",
                "--tosql-rows",
                "2000",
                "--out",
                str(out),
                "--work-dir",
                str(root / "work"),
                "--db-prefix",
                "benchsmoke",
                "--server-url",
                pg_server_url,
                # the daemon latency takes ~2 min even at a tiny scale (sensor start, daemon
                # start, settle, two runs): its pieces are unit-tested
                # (tests/unit/test_bench_latency_pieces.py), make bench runs it
                "--skip-latency",
                "--command",
                "pytest tests/e2e/test_bench_smoke.py",
            ]
        )
    assert rc == 0
    return json.loads((out / "benchmarks.json").read_text()), out


def test_every_figure_is_produced(bench_report):
    report, _ = bench_report
    assert [s["scale"] for s in report["scales"]] == [SCALE]
    s = report["scales"][0]

    assert _positive(s["simulator"]["rows"]) and _positive(s["simulator"]["rows_per_second"])

    ingestion = s["ingestion"]
    assert set(ingestion["tables"]) == set(LARGE_TABLES)
    for table, t in ingestion["tables"].items():
        for key in (
            "rows",
            "rows_per_second",
            "psql_copy_rows_per_second",
            "psql_copy_2streams_rows_per_second",
            "ratio_vs_psql_copy",
            "python_relay_batched_rows_per_second",
        ):
            assert _positive(t[key]), (table, key, t[key])
        assert t["mode"] == "initial"
    total = ingestion["total"]
    assert total["rows"] == sum(t["rows"] for t in ingestion["tables"].values())
    for key in ("rows_per_second", "psql_copy_rows_per_second", "ratio_vs_psql_copy"):
        assert _positive(total[key]), key
    parallel = ingestion["parallel"]  # the same rows again, INGEST_WORKERS (default)
    assert parallel["rows"] == total["rows"] and parallel["workers"] >= 1
    assert set(parallel["tables"]) == set(LARGE_TABLES)
    assert all(t["streams"] >= 1 for t in parallel["tables"].values())
    for key in ("rows_per_second", "ratio_vs_serial", "ratio_vs_psql_copy"):
        assert _positive(parallel[key]), key
    assert parallel["ratio_vs_psql_copy_2streams"] == _ratio(
        parallel["rows_per_second"], total["psql_copy_2streams_rows_per_second"]
    )
    for method in ("method_none", "method_multi"):
        assert _positive(ingestion["to_sql"][method]["rows_per_second"])
        assert _positive(ingestion["to_sql"][method]["ratio_ours_over_to_sql"])

    assert s["advance"]["total_rows"] > 0
    assert set(s["merge"]["tables"]) == set(LARGE_TABLES)
    assert _positive(s["merge"]["total"]["rows_read"])
    assert all(t["mode"] == "incremental" for t in s["merge"]["tables"].values())

    assert _positive(s["incremental_over_full"])
    for job in ("full_pipeline", "nochange_pipeline", "incremental_pipeline"):
        run = s[job]
        assert run["success"], run.get("failure")
        assert not run["checks_failed"]
        assert _positive(run["process_wall_seconds"])
        assert _positive(run["peak_rss_main_bytes"])
        assert _positive(run["job_seconds"]) and run["rss_timeline_mb"]
        assert run["run_ids"] and all(r["seconds"] >= 0 for r in run["dagster_runs"]), job
        assert _positive(run["overhead"]["process_seconds"]), job
        assert run["overhead"]["dagster_seconds"] > 0, job
        if job == "nochange_pipeline":
            continue
        for phase in ("ingest", "dbt build", "checks"):
            assert _positive(run["phases"][phase]), (job, phase)
        assert _positive(run["peak_rss_dbt_bytes"]), "the dbt subprocess was not sampled"
        assert run["materialized"] > 0 and run["materialized_assets"], job
        o = run["overhead"]
        assert o["dbt_nodes"] > 0 and _positive(o["dbt_sql_seconds"]), job
        assert _positive(o["dbt_startup_seconds"]) and o["dbt_per_node_overhead_seconds"] >= 0

    # a refresh right after the full run, sources unchanged: one ingest run, nothing built
    nochange = s["nochange_pipeline"]
    assert nochange["materialized"] == 0, nochange["materialized_assets"]
    assert nochange["plan"].startswith("nothing to build"), nochange["plan"]
    assert len(nochange["run_ids"]) == 1 and "dagster (transform run)" not in nochange["phases"]
    assert nochange["dbt"] is None and _positive(nochange["phases"]["dagster (ingest run)"])
    # after advance: an ingest run, then a transform run of the stale part only
    incr = s["incremental_pipeline"]
    assert len(incr["run_ids"]) == 2 and _positive(incr["phases"]["dagster (transform run)"])
    assert incr["plan"].split(" ", 1)[0].isdigit(), incr["plan"]
    assert 0 < int(incr["plan"].split(" ", 1)[0]) <= s["transform_assets_total"]
    assert s["full_pipeline"]["plan"] is None  # full_refresh: one run of everything
    assert _positive(s["warehouse_bytes"]) and _positive(s["source_bytes"])
    assert s["run"]["git_commit"] == report["git_commit"] and s["run"]["started_at"]
    assert s["lean"] is False
    assert s["latency"] == {"skipped": True}

    queries = s["bi"]["queries"]
    assert set(queries) == set(BI_QUERIES)
    for name, q in queries.items():
        assert q["runs"] == 20, name
        assert _positive(q["p50_ms"]) and q["p95_ms"] >= q["p50_ms"], name
        assert q["explain_analyze"] and q["plan_kind"], name


def test_targets_and_machine_are_reported(bench_report):
    report, out = bench_report
    machine = report["machine"]
    assert machine["logical_cores"] >= 1 and machine["ram_bytes"] > 0
    assert machine["postgres_version"] and machine["cpu_model"] is not None
    keys = {t["key"] for t in report["targets"]}
    assert {"ingest_vs_psql", "full_pipeline_s1_seconds", "incremental_over_full"} <= keys
    assert {f"bi_p95_ms:{name}" for name in BI_QUERIES} <= keys
    assert "peak_rss_bytes" in keys
    for target in report["targets"]:
        assert target["status"] in ("pass", "miss") or target["status"].startswith("not measured")
    # scale 1 was not measured: its target says so, never pass
    status = {t["key"]: t["status"] for t in report["targets"]}
    assert status["full_pipeline_s1_seconds"] == "not measured"
    assert status["nochange_s1_seconds"] == status["latency_s1_seconds"] == "not measured"
    assert status["scale10_measured"] == "not measured"
    assert machine and report["git_commit"] and report["git_commit"] != "unknown"
    assert status["incremental_over_full"] in ("pass", "miss")

    text = (out / "benchmarks.md").read_text()
    for heading in ("## Machine and run", "## Results", "## Targets", "## What bounds it"):
        assert heading in text
    assert f"- git commit: {report['git_commit']}" in text
    assert "### No-change refresh" in text and "Fixed overhead, independent of the rows" in text
    assert "PostgreSQL" in text and "load average" in text
    assert "pytest tests/e2e/test_bench_smoke.py" in text


def test_rows_measured_are_the_rows_the_simulator_wrote(bench_report):
    report, _ = bench_report
    s = report["scales"][0]
    sim = s["simulator"]
    assert sim["rows"] == sim["app_rows"] + sim["export_rows"]
    assert sum(sim["rows_by_table"].values()) == sim["app_rows"]
    # the initial load read every row of each large table, no more, no less
    for table in LARGE_TABLES:
        assert s["ingestion"]["tables"][table]["rows"] == sim["rows_by_table"][table], table
    assert s["ingestion"]["total"]["rows"] == sum(sim["rows_by_table"][t] for t in LARGE_TABLES)
    # the merge after advance: what it wrote is part of what it read, and advance added rows
    merge = s["merge"]
    for table, t in merge["tables"].items():
        assert t["rows_inserted"] + t["rows_updated"] <= t["rows_read"], table
    inserted = sum(t["rows_inserted"] for t in merge["tables"].values())
    assert 0 < inserted <= s["advance"]["rows_inserted"]
    assert merge["total"]["rows_read"] == sum(t["rows_read"] for t in merge["tables"].values())
    assert s["ingestion"]["to_sql"]["rows"] == 2000


def test_every_ratio_is_the_quotient_of_its_own_figures(bench_report):
    report, _ = bench_report
    s = report["scales"][0]
    tables, total = s["ingestion"]["tables"], s["ingestion"]["total"]
    for table, t in tables.items():
        assert t["ratio_vs_psql_copy"] == _ratio(t["psql_copy_seconds"], t["seconds"]), table
        assert t["ratio_vs_psql_copy"] == _ratio(
            t["rows_per_second"], t["psql_copy_rows_per_second"]
        )
        assert t["rows_per_second"] == _ratio(t["rows"], t["seconds"])
        assert t["ratio_batched_relay_vs_psql_copy"] == _ratio(
            t["psql_copy_seconds"], t["python_relay_batched_seconds"]
        )
    for key in ("seconds", "psql_copy_seconds", "psql_copy_2streams_seconds"):
        assert total[key] == pytest.approx(sum(t[key] for t in tables.values())), key
    assert total["ratio_vs_psql_copy"] == _ratio(total["psql_copy_seconds"], total["seconds"])
    assert total["ratio_vs_psql_copy_2streams"] == _ratio(
        total["psql_copy_2streams_seconds"], total["seconds"]
    )
    assert total["rows_per_second"] == _ratio(total["rows"], total["seconds"])
    ours_email = tables["email_sends"]["rows_per_second"]
    for method in ("method_none", "method_multi"):
        m = s["ingestion"]["to_sql"][method]
        assert m["ratio_ours_over_to_sql"] == _ratio(ours_email, m["rows_per_second"]), method
    assert s["incremental_over_full"] == _ratio(
        s["incremental_pipeline"]["process_wall_seconds"],
        s["full_pipeline"]["process_wall_seconds"],
    )
    for job in ("full_pipeline", "nochange_pipeline", "incremental_pipeline"):
        run = s[job]
        steps = sum(run["phases"].get(k, 0.0) for k in STEP_PHASES)
        assert steps <= run["job_seconds"] <= run["process_wall_seconds"], job
        runs = sum(v for k, v in run["phases"].items() if k.startswith("dagster ("))
        assert runs <= run["job_seconds"], job
        assert run["overhead"]["steps_seconds"] == pytest.approx(steps), job
        if job != "nochange_pipeline":
            assert run["checks_passed"] > 0, job
    for name, q in s["bi"]["queries"].items():
        assert q["p50_ms"] <= q["p95_ms"] <= q["max_ms"], name
        assert q["distinct_parameter_sets"] > 0, name


def test_the_markdown_says_what_the_json_says(bench_report, tmp_path):
    report, out = bench_report
    text = (out / "benchmarks.md").read_text()
    lines = text.split("\n")
    # the targets: the stored verdicts are evaluate_targets of the stored figures, and the
    # Markdown's Targets table is exactly them, in order
    assert report["targets"] == evaluate_targets(report["scales"])
    start = lines.index("| target | scale | measured | status |") + 2
    rows = lines[start : start + len(report["targets"]) + 1]
    assert rows[-1] == ""
    assert rows[:-1] == [
        f"| {t['target']} | {t['scale']:g} | {t['value']} | **{t['status']}** |"
        for t in report["targets"]
    ]
    # the results table: one column per scale, every row as wide as the header
    head = next(line for line in lines if line.startswith("| figure"))
    cells = [c.strip() for c in head.strip("|").split("|")]
    assert cells == ["figure"] + [f"scale {s['scale']:g}" for s in report["scales"]]
    table = lines[lines.index(head) :]
    table = table[: next(i for i, x in enumerate(table) if not x.startswith("|"))]
    assert len(table) > 30 and all(x.count("|") == head.count("|") for x in table)
    ratio = next(x for x in table if x.startswith("| ours ÷ psql \\copy "))
    s = report["scales"][0]
    assert [c.strip() for c in ratio.strip("|").split("|")][1:] == [
        f"{s['ingestion']['total']['ratio_vs_psql_copy']:.2f}"
    ]
    # --render of the stored JSON gives the same page
    assert bench.main(["--render", str(out / "benchmarks.json"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "benchmarks.md").read_text() == text
