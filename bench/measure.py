"""``make bench``: one measured run of the whole warehouse on this machine, per scale.

For every scale it builds a fresh, isolated world on the project's server (embedded unless
``DATABASE_URL`` is set, or ``--server-url``): databases ``<prefix>_src_s<scale>`` (simulated
source), ``<prefix>_ing_s<scale>`` (ingestion micro-benchmarks), ``<prefix>_wh_s<scale>`` and
``<prefix>_dagster_s<scale>`` (the pipeline), and a work dir ``.warehouse/bench/s<scale>``.
They are dropped and recreated at the start; the project's own databases are never touched.

Measured, in this order:

1. simulator: ``generate(...)`` rows/s;
2. ingestion: ``ingest_app_table`` initial load of the six large tables, next to the physical
   limit measured in the same run (``psql \\copy`` of the same rows from a file into an empty
   table of the same shape, 1 and 2 streams) and pandas ``to_sql`` on an email_sends sample;
3. full pipeline: ``python -m orchestration.run --job full_refresh`` (the ``make run`` entry
   point) in a child process, wall time per phase, peak RSS of it and of its dbt subprocess;
4. no-change refresh: the same entry point, ``--job incremental``, right after, sources
   unchanged (nothing should materialize but the ingest run's observations);
5. ``advance`` (≈ 1 % new/changed rows), then the incremental merge of the six tables;
6. 1 % refresh: ``--job incremental`` again (ingest run + transform run of the stale part);
7. BI query latency (p50/p95) on the marts, with the plan of each query;
8. landing → mart latency through the real ``dagster-daemon`` and sensors
   (:mod:`bench.latency`).

At scale ≥ 5 (:func:`lean_scale`, or ``--lean``) the ingestion what-if micro-benchmarks
(Python drain, 128 kB relay, 2 psql streams, pandas ``to_sql``) are skipped: no target needs
them and each re-reads every row.

Writes ``docs/benchmarks.json`` (raw figures) and ``docs/benchmarks.md`` (``--out`` elsewhere).
Results merge per scale: a run keeps the other scales already in ``benchmarks.json`` (each
column says its own date and git commit), so scale 10 can run on its own (``--fresh``: not).

Modules: this one runs the measurements in order and holds the CLI; :mod:`bench.world`
(server, per-scale databases, subprocess limits), :mod:`bench.ingestion`,
:mod:`bench.pipeline`, :mod:`bench.bi` measure; :mod:`bench.targets` judges;
:mod:`bench.markdown` typesets, from the results dict only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.bi import bench_bi, plan_kind
from bench.ingestion import bench_ingestion, bench_merge, psql_binary
from bench.latency import bench_latency
from bench.markdown import render_markdown, terminal_summary
from bench.pipeline import run_pipeline
from bench.targets import TARGETS, evaluate_targets
from bench.world import (
    BenchTimeout,
    Scale,
    database_size,
    drop_database,
    git_commit,
    machine_info,
    resolve_server,
    say,
    scale_tag,
    setup_scale,
)
from crownsync.settings import PROJECT_ROOT

# --- 1. simulator ----------------------------------------------------------------------


def bench_simulator(ctx: Scale, seed: int) -> dict:
    from simulator import generate

    say(f"scale {ctx.scale:g}: simulator → {ctx.name('src')}")
    began = time.monotonic()
    summary = generate(ctx.url("src"), ctx.landing, ctx.scale, seed, regenerate=True, quiet=True)
    wall = time.monotonic() - began
    seconds = summary.seconds or wall
    out = {
        "rows": summary.total_rows,
        "app_rows": sum(summary.rows.values()),
        "export_rows": sum(summary.export_rows.values()),
        "seconds": seconds,
        "rows_per_second": summary.total_rows / seconds,
        "rows_by_table": dict(summary.rows),
    }
    say(f"  {out['rows']:,} rows in {seconds:.1f}s = {out['rows_per_second']:,.0f} rows/s")
    return out


def bench_advance(ctx: Scale) -> dict:
    from simulator import advance

    say(f"scale {ctx.scale:g}: advance the simulated world one day")
    summary = advance(ctx.url("src"), ctx.landing, quiet=True)
    changes = {k: v for k, v in summary.changes.items() if isinstance(v, int | float | str)}
    return {
        "rows_inserted": sum(summary.rows.values()),
        "total_rows": summary.total_rows,
        "changes": changes,
        "seconds": summary.seconds,
    }


# --- one scale -------------------------------------------------------------------------

LEAN_FROM_SCALE = 5.0


def lean_scale(scale: float, forced: bool = False) -> bool:
    """Skip the ingestion what-if micro-benchmarks at this scale (scale 10: ≈ 54 M rows)."""
    return forced or scale >= LEAN_FROM_SCALE


def _transform_assets(run: dict) -> list[str]:
    return sorted(a for a in run.get("materialized_assets", []) if not a.startswith("raw/"))


def bench_scale(
    scale: float, server_url: str, args: argparse.Namespace, psql: str
) -> dict[str, object]:
    work_root = Path(args.work_dir) if args.work_dir else PROJECT_ROOT / ".warehouse" / "bench"
    ctx = Scale(
        scale=scale,
        tag=scale_tag(scale),
        server_url=server_url,
        prefix=args.db_prefix,
        work=work_root / scale_tag(scale),
    )
    say(
        f"scale {scale:g}: fresh databases {', '.join(ctx.name(r) for r in ('src', 'ing', 'wh', 'dagster'))}"
    )
    began = time.monotonic()
    setup_scale(ctx)
    result: dict[str, object] = {
        "scale": scale,
        "databases": {r: ctx.name(r) for r in ("src", "ing", "wh", "dagster")},
        "load_average_start": os.getloadavg(),
    }
    result["run"] = {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "git_commit": args.git_commit,
        "command": args.command_line,
    }
    lean = lean_scale(scale, args.lean)
    result["lean"] = lean
    result["simulator"] = bench_simulator(ctx, args.seed)
    say(
        f"scale {scale:g}: ingestion (initial load into empty {ctx.name('ing')})"
        + (" — lean: what-if micro-benchmarks skipped" if lean else "")
    )
    result["ingestion"] = bench_ingestion(ctx, psql, args.tosql_rows, comparisons=not lean)
    result["full_pipeline"] = run_pipeline(ctx, "full_refresh")
    if args.skip_incremental_pipeline:
        result["nochange_pipeline"] = {"skipped": True, "success": True}
    else:
        say(f"scale {scale:g}: no-change refresh (sources unchanged since the full run)")
        result["nochange_pipeline"] = run_pipeline(ctx, "incremental", label="nochange")
    result["advance"] = bench_advance(ctx)
    say(f"scale {scale:g}: incremental merge after advance")
    result["merge"] = bench_merge(ctx)
    drop_database(server_url, ctx.name("ing"))
    if args.skip_incremental_pipeline:
        result["incremental_pipeline"] = {"skipped": True, "success": True}
        result["incremental_over_full"] = None
    else:
        result["incremental_pipeline"] = run_pipeline(ctx, "incremental")
        full = result["full_pipeline"]["process_wall_seconds"]
        incr = result["incremental_pipeline"]["process_wall_seconds"]
        result["incremental_over_full"] = incr / full
    result["transform_assets_total"] = len(_transform_assets(result["full_pipeline"]))
    result["warehouse_bytes"] = database_size(server_url, ctx.name("wh"))
    result["source_bytes"] = database_size(server_url, ctx.name("src"))
    say(f"scale {scale:g}: BI queries ({args.bi_runs} runs each) on {ctx.name('wh')}")
    result["bi"] = bench_bi(ctx, args.bi_runs, args.seed)
    if args.skip_latency:
        result["latency"] = {"skipped": True}
    else:
        marts = [a for a in _transform_assets(result["full_pipeline"]) if a.startswith("marts/")]
        try:
            result["latency"] = bench_latency(ctx, marts)
        except BenchTimeout as exc:  # bounded: say so, keep every other figure
            say(f"  latency: {exc}")
            result["latency"] = {"error": str(exc)}
    result["load_average_end"] = os.getloadavg()
    result["seconds"] = time.monotonic() - began
    shutil.rmtree(ctx.work / "copy", ignore_errors=True)
    if not args.keep:
        for role in ("src", "wh", "dagster"):
            drop_database(server_url, ctx.name(role))
    return result


# --- main ------------------------------------------------------------------------------


def parse_scales(args: argparse.Namespace) -> list[float]:
    if args.scales:
        scales = [float(x) for x in args.scales.replace(",", " ").split()]
    elif args.scale > 0.1:
        scales = [0.1, args.scale]
    else:
        scales = [args.scale]
    return sorted(set(scales))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="requested scale (default 1)")
    parser.add_argument("--scales", help='explicit scales, e.g. "0.1 1" (default: 0.1 and --scale)')
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bi-runs", type=int, default=500, help="timed runs per BI query")
    parser.add_argument(
        "--tosql-rows", type=int, default=100_000, help="email_sends sample for pandas to_sql"
    )
    parser.add_argument("--out", help="output dir for benchmarks.md/.json (default docs/)")
    parser.add_argument("--work-dir", help="landing/Dagster dirs (default .warehouse/bench)")
    parser.add_argument("--db-prefix", default="bench", help="bench database name prefix")
    parser.add_argument(
        "--server-url", help="maintenance URL of the server (default: the project's server)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument(
        "--skip-incremental-pipeline",
        action="store_true",
        help="run only the full pipeline (smoke test; the incremental ratio is not measured)",
    )
    parser.add_argument(
        "--skip-latency",
        action="store_true",
        help="do not measure landing → mart latency through the daemon",
    )
    parser.add_argument(
        "--lean",
        action="store_true",
        help=f"skip the ingestion what-if micro-benchmarks (always at scale ≥ {LEAN_FROM_SCALE:g})",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="do not keep the other scales of an existing benchmarks.json in --out",
    )
    parser.add_argument("--command", help="the command line to record in the report")
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="only rewrite benchmarks.md (in --out) from an existing benchmarks.json",
    )
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads(Path(args.render).read_text())
        rejudge(report)
        out_dir = Path(args.out) if args.out else Path(args.render).parent
        (out_dir / "benchmarks.md").write_text(render_markdown(report), encoding="utf-8")
        print(terminal_summary(report))
        return 0
    if not args.db_prefix.replace("_", "").isalnum():
        parser.error("--db-prefix: letters, digits and _ only")
    protected = {"crownsync_warehouse", "crownsync_app", "crownsync_dagster", "postgres"}
    scales = parse_scales(args)
    for scale in scales:
        for role in ("src", "ing", "wh", "dagster"):
            if f"{args.db_prefix}_{role}_{scale_tag(scale)}" in protected:
                parser.error("refusing a bench database name of the project")

    out_dir = Path(args.out) if args.out else PROJECT_ROOT / "docs"
    out_dir.mkdir(parents=True, exist_ok=True)
    command = args.command or " ".join(["python -m bench", *(argv or sys.argv[1:])])
    args.command_line = command
    args.git_commit = git_commit(PROJECT_ROOT)
    try:
        report = run_bench(args, scales, command)
    except BenchTimeout as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 3
    previous = out_dir / "benchmarks.json"
    if not args.fresh and previous.exists():
        report = merge_reports(json.loads(previous.read_text()), report)
    # typeset from exactly what is stored, so --render of the JSON gives the same Markdown
    text = json.dumps(report, indent=2, default=str)
    (out_dir / "benchmarks.json").write_text(text, encoding="utf-8")
    stored = json.loads(text)
    (out_dir / "benchmarks.md").write_text(render_markdown(stored), encoding="utf-8")
    print()
    print(terminal_summary(stored))
    print(f"\nwritten: {out_dir / 'benchmarks.md'}, {out_dir / 'benchmarks.json'}")
    return 0


def run_bench(args: argparse.Namespace, scales: list[float], command: str) -> dict:
    """Every scale, in order: the report as benchmarks.json stores it."""
    server_url = resolve_server(args.server_url)
    psql = psql_binary()
    started = datetime.now(UTC)
    began = time.monotonic()
    report: dict = {
        "command": command,
        "started_at": started.strftime("%Y-%m-%d %H:%M"),
        "machine": machine_info(server_url),
        "git_commit": args.git_commit,
        "load_average_start": os.getloadavg(),
        "targets_definition": TARGETS,
        "scales": [],
        "notes": [],
    }
    say(
        f"scales {', '.join(f'{s:g}' for s in scales)} on {report['machine']['server']} "
        f"(PostgreSQL {report['machine']['postgres_version']}), "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for scale in scales:
        report["scales"].append(bench_scale(scale, server_url, args, psql))
    report["load_average_end"] = os.getloadavg()
    report["seconds"] = time.monotonic() - began
    report["targets"] = evaluate_targets(report["scales"])
    report["notes"] = failure_notes(report["scales"])
    return report


def merge_reports(previous: dict, current: dict) -> dict:
    """``current`` plus the scales of ``previous`` it did not run, in scale order.

    A kept scale carries its own ``run`` (date, commit, command); one stored before
    per-scale runs were recorded gets the previous report's date and command.
    """
    ran = {s["scale"] for s in current["scales"]}
    kept = []
    for s in previous.get("scales", []):
        if s["scale"] in ran:
            continue
        s.setdefault(
            "run",
            {
                "started_at": previous.get("started_at", "?"),
                "git_commit": previous.get("git_commit", "unknown"),
                "command": previous.get("command", "?"),
            },
        )
        kept.append(s)
    if not kept:
        return current
    merged = dict(current)
    merged["scales"] = sorted([*kept, *current["scales"]], key=lambda s: s["scale"])
    merged["kept_scales"] = sorted(s["scale"] for s in kept)
    merged["targets"] = evaluate_targets(merged["scales"])
    merged["notes"] = failure_notes(merged["scales"])
    return merged


PIPELINE_RUNS = ("full_pipeline", "nochange_pipeline", "incremental_pipeline")


def failure_notes(scales: list[dict]) -> list[str]:
    """A note per pipeline run that failed or had failed checks, and per latency error."""
    notes = []
    for s in scales:
        if (s.get("latency") or {}).get("error"):
            notes.append(f"scale {s['scale']:g} latency: {s['latency']['error']}")
        for job in PIPELINE_RUNS:
            run = s.get(job)
            if run is None:
                continue
            if run.get("skipped"):
                continue
            if not run["success"] or run.get("checks_failed"):
                notes.append(
                    f"scale {s['scale']:g} {job}: "
                    + ("FAILED" if not run["success"] else "checks failed")
                    + f" ({run.get('failure') or ', '.join(run.get('checks_failed', []))}); "
                    f"log {run['log']}"
                )
    return notes


def rejudge(report: dict) -> None:
    """Recompute the derived fields of a stored report (plan kinds, target verdicts)."""
    for s in report["scales"]:
        for q in s["bi"]["queries"].values():
            if "explain_analyze" in q:
                q["plan_kind"] = plan_kind(q["explain_analyze"])
    report["targets"] = evaluate_targets(report["scales"])


if __name__ == "__main__":
    sys.exit(main())
