"""``make run``: the main job, end to end, through Dagster, in this process.

1. the warehouse server (embedded unless DATABASE_URL is set) and its databases;
2. demo sources from the simulator — only when no real source is configured
   (SOURCE_DATABASE_URL / LANDING_DIR set: those are only read, never simulated over);
3. the refresh through Dagster, with the in-process executor, recorded in Dagster's
   Postgres storage so the UI shows it. Default (``incremental``): an ``ingest`` run (only
   the raw tables whose data changed materialize), then, if anything is stale, a
   ``transform`` run of exactly the stale models and their checks → serving
   (orchestration/defs/automation/refresh.py). ``full_refresh``: one run of everything;
4. a summary: wall time per phase, rows per layer, checks passed/failed, where to connect.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg

from crownsync.errors import cli
from crownsync.settings import PROJECT_ROOT, database_name, get_settings, safe_url
from crownsync.warehouse import embedded
from crownsync.warehouse.databases import ensure_project_databases
from orchestration.console import captured_output, captured_run, new_log_path

SIMULATOR_TIMEOUT_S = 3 * 3600  # scale 10 takes about 15 min on 2 cores
LAYERS = ("raw", "staging", "intermediate", "snapshots", "marts")


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    phases: dict[str, float]
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)
    failure: str | None = None
    run_ids: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    plan: str | None = None
    dbt_nodes: int = 0
    started_at: float = field(default_factory=time.time)


def _phase(step_key: str) -> str:
    from orchestration.defs.automation.jobs import EXPORT_OPS, INGESTION_OPS

    if step_key in INGESTION_OPS or step_key in EXPORT_OPS:
        return "ingest"
    if step_key == "crownsync_dbt_assets":
        return "dbt build"
    if step_key.startswith("serving__"):
        return "serving"
    return "checks"


def run_job(
    job_name: str = "ingest",
    run_config: dict | None = None,
    log_level: str = "INFO",
    *,
    asset_selection=None,
    asset_check_selection=None,
    outcome: RunOutcome | None = None,
) -> RunOutcome:
    """Execute a job of the code location in process, against the persistent instance.

    With ``asset_selection`` (and ``asset_check_selection``) only that subset runs. Phase
    times, checks and failures are added to ``outcome`` when one is given (a refresh is
    two runs).
    """
    import dagster as dg

    from orchestration.definitions import defs

    job = defs.resolve_job_def(job_name)
    if asset_selection is not None:
        job = job.get_subset(
            asset_selection=set(asset_selection),
            asset_check_selection=set(asset_check_selection or ()),
        )
    config = dict(run_config or {})
    # Dagster's console logger writes to sys.stderr, which orchestration.console routes to
    # the run's log (and to the console with -v); Python logging skips its records, so each
    # event is written once
    config.setdefault("loggers", {"console": {"config": {"log_level": log_level}}})
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=config)
        records = instance.all_logs(result.run_id)
    if outcome is None:
        outcome = RunOutcome(success=True, run_id=result.run_id, phases=defaultdict(float))
    outcome.run_ids.append(result.run_id)
    outcome.success = outcome.success and result.success
    starts: dict[str, float] = {}
    phases = outcome.phases
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        key = event.step_key
        if key and event.event_type_value == "STEP_START":
            starts[key] = record.timestamp
        elif (
            key
            and event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")
            and key in starts
        ):
            phases[_phase(key)] += record.timestamp - starts.pop(key)
        if event.event_type_value == "ASSET_MATERIALIZATION":
            outcome.materialized.append(event.asset_key.to_user_string())
            outcome.dbt_nodes += key == "crownsync_dbt_assets"
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                outcome.checks_passed.append(name)
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                outcome.checks_warned.append(name)
            else:
                outcome.checks_failed.append(name)
        if event.event_type_value == "STEP_FAILURE" and outcome.failure is None:
            outcome.failure = f"{key}: {event.message}"
    return outcome


def refresh(job_name: str, log_level: str = "INFO") -> RunOutcome:
    """A refresh: the ingest run, then a transform run of what is stale (if anything is).

    ``job_name`` ``incremental``: every table and feed; ``exports``: the export feeds only;
    ``full_refresh``: one run of everything.
    """
    if job_name == "full_refresh":
        return run_job("full_refresh", log_level=log_level)
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.automation.jobs import RAW_KEYS
    from orchestration.defs.automation.refresh import plan_for_graph, report_current
    from orchestration.defs.quality.checks import FRESHNESS_MARTS

    raw = RAW_KEYS
    if job_name == "exports":
        from ingestion.api import EXPORTS

        raw = [k for k in RAW_KEYS if k.path[-1] in EXPORTS]
    t0 = time.monotonic()
    outcome = run_job("ingest", log_level=log_level, asset_selection=raw)
    outcome.phases["dagster (ingest run)"] = time.monotonic() - t0
    t0 = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        plan = plan_for_graph(instance, defs.resolve_asset_graph())
        if outcome.success:  # raw was compared with the sources when the ingest run began
            report_current(instance, plan, FRESHNESS_MARTS, outcome.started_at)
    outcome.plan = plan.describe()
    outcome.phases["plan"] = time.monotonic() - t0
    if plan.empty:
        return outcome

    t0 = time.monotonic()
    run_job(
        "transform",
        plan.run_config(),
        log_level=log_level,
        asset_selection=plan.assets,
        asset_check_selection=plan.checks,
        outcome=outcome,
    )
    outcome.phases["dagster (transform run)"] = time.monotonic() - t0
    return outcome


def layer_rows(warehouse_url: str) -> dict[str, tuple[int, int]]:
    """Per schema: (relations, rows of its tables). Rows come from the planner statistics
    (``pg_class.reltuples``, kept by ANALYZE and autovacuum: close, not exact), so the
    summary costs milliseconds at any scale; a table never analyzed is counted exactly.
    Views hold no rows of their own (staging): they count as relations only."""
    counts: dict[str, tuple[int, int]] = {}
    from psycopg import sql

    with psycopg.connect(warehouse_url) as conn:
        for schema in LAYERS:
            relations = conn.execute(
                r"""
                select c.relname, c.relkind, c.reltuples
                  from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm')
                   and c.relname not like '\_%%'
                """,
                (schema,),
            ).fetchall()
            total = 0
            for name, kind, estimate in relations:
                if kind == "v":
                    continue
                if estimate < 0:  # never analyzed
                    estimate = conn.execute(
                        sql.SQL("select count(*) from {}.{}").format(
                            sql.Identifier(schema), sql.Identifier(name)
                        )
                    ).fetchone()[0]
                total += int(estimate)
            counts[schema] = (len(relations), total)
    return counts


def _write_json(
    path: str,
    job: str,
    outcome: RunOutcome,
    timings: dict[str, float],
    total: float,
    log_path=None,
) -> None:
    """The run's figures as JSON (read by ``make bench``)."""
    import json
    from pathlib import Path

    Path(path).write_text(
        json.dumps(
            {
                "job": job,
                "run_id": outcome.run_id,
                "run_ids": outcome.run_ids,
                "materialized": len(outcome.materialized),
                "materialized_assets": sorted(outcome.materialized),
                "plan": outcome.plan,
                "success": outcome.success,
                "phases": dict(timings),
                "total_seconds": total,
                "checks_passed": len(outcome.checks_passed),
                "checks_failed": list(outcome.checks_failed),
                "checks_warned": list(outcome.checks_warned),
                "failure": outcome.failure,
                "log_file": str(log_path) if log_path else None,
            },
            indent=2,
        ),
        encoding="utf-8",
    )


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.run", description=__doc__)
    parser.add_argument(
        "--job", default="incremental", choices=["incremental", "full_refresh", "exports"]
    )
    parser.add_argument("--scale", type=float, default=0.1, help="demo data scale (default 0.1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the demo world first")
    parser.add_argument("--skip-simulator", action="store_true", help="use the demo data as it is")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream every Dagster event and dbt line to the console (also LOG_LEVEL=DEBUG)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the phase times, checks and total seconds to PATH (make bench)",
    )
    args = parser.parse_args(argv)
    verbose = args.verbose or os.environ.get("LOG_LEVEL", "").upper() == "DEBUG"
    settings = get_settings()
    log_path = new_log_path(LOG_DIR)
    with captured_run(log_path, verbose=verbose) as (console, log):
        code, outcome, timings, total = _run(args, settings, console, log)
    if outcome is None:
        print(f"  full log       {log_path}")
        return code
    if args.json:
        _write_json(args.json, args.job, outcome, timings, total, log_path)
    _print_summary(settings, outcome, timings, total, log_path)
    return 0 if outcome.success and not outcome.checks_failed else 1


LOG_DIR = PROJECT_ROOT / ".warehouse" / "logs"


def _run(args, settings, console, log):
    """The phases, each a console line; (exit code, outcome or None, timings, total)."""
    began = time.monotonic()
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    if settings.uses_embedded_server:
        embedded.start(settings.warehouse_pg_dir, settings.warehouse_pg_port)
    ensure_project_databases(settings)
    from crownsync.dbt import DbtParseError, prepare_manifest
    from orchestration.instance import prepare_dagster_home

    os.environ.update(prepare_dagster_home(settings))  # this process is the entry point
    try:
        prepare_manifest()
    except DbtParseError as err:
        console.line(f"error: {err}")
        return 1, None, timings, 0.0
    timings["database"] = time.monotonic() - t0
    console.line(
        f"database     {database_name(settings.warehouse_url)} ready "
        f"({'embedded server' if settings.uses_embedded_server else 'DATABASE_URL'}), "
        f"dbt manifest prepared   {timings['database']:.1f}s"
    )

    t0 = time.monotonic()
    if settings.uses_demo_sources and not args.skip_simulator:
        # The demo world is a tool beside the pipeline: run it, never import it.
        command = [sys.executable, "-m", "simulator", "--scale", str(args.scale)]
        command += ["--seed", str(args.seed)] + (["--regenerate"] if args.regenerate else [])
        console.progress(f"simulator: scale {args.scale}, seed {args.seed}…")
        sink = None if console.verbose else log
        try:
            log.flush()
            simulated = subprocess.run(
                command, timeout=SIMULATOR_TIMEOUT_S, check=False, stdout=sink, stderr=sink
            )
        except subprocess.TimeoutExpired:
            console.line(f"error: the simulator did not finish within {SIMULATOR_TIMEOUT_S} s")
            return 1, None, timings, 0.0
        if simulated.returncode != 0:
            console.line("error: the simulator failed; nothing was run (its output is in the log)")
            return 1, None, timings, 0.0
        timings["simulator"] = time.monotonic() - t0
        console.line(f"simulator    demo world, scale {args.scale}   {timings['simulator']:.1f}s")
    elif not settings.uses_demo_sources:
        console.line(
            "sources      real (SOURCE_DATABASE_URL / LANDING_DIR): read only, no simulator"
        )

    with captured_output(console, log):
        outcome = refresh(args.job, log_level="DEBUG")  # all of it in the log
    timings.update(outcome.phases)
    raw_changed = sorted({m for m in outcome.materialized if m.startswith("raw/")})
    console.line(
        f"ingest       {len(raw_changed)} raw tables changed   {timings.get('ingest', 0.0):.1f}s"
    )
    if outcome.plan:
        console.line(f"plan         {outcome.plan.split(':')[0]}")
    if "dbt build" in timings:
        console.line(
            f"transform    dbt {outcome.dbt_nodes} nodes, then checks and serving   "
            f"{timings.get('dbt build', 0.0) + timings.get('checks', 0.0):.1f}s"
        )
    return 0, outcome, timings, time.monotonic() - began


def _print_summary(settings, outcome, timings, total, log_path) -> None:
    warehouse = settings.warehouse_url
    rows = layer_rows(warehouse)
    print()
    print("CrownSync warehouse — run summary")
    print(
        f"  dagster runs   {', '.join(outcome.run_ids)}  "
        f"({'SUCCESS' if outcome.success else 'FAILED'})"
    )
    if outcome.plan:
        print(f"  refresh        {outcome.plan}")
    print(f"  materialized   {len(outcome.materialized)} assets")
    print("  phase          seconds")
    for phase in ("database", "simulator", "ingest", "plan", "dbt build", "checks", "serving"):
        if phase in timings:
            print(f"  {phase:<14} {timings[phase]:7.1f}")
    print(f"  {'total (wall)':<14} {total:7.1f}")
    print("  layer          relations   rows (≈, tables)")
    for schema, (relations, count) in rows.items():
        shown = f"{count:11,d}" if count or schema != "staging" else "    (views)"
        print(f"  {schema:<14} {relations:9d} {shown}")
    print(
        f"  checks         {len(outcome.checks_passed)} passed, {len(outcome.checks_failed)} failed, "
        f"{len(outcome.checks_warned)} warnings"
    )
    for name in outcome.checks_failed[:10]:
        print(f"    FAILED {name}")
    for name in outcome.checks_warned[:10]:
        print(f"    WARN   {name}")
    if outcome.failure:
        print(f"  first failure: {outcome.failure.splitlines()[0][:300]}")
    print(f"  connect        psql {safe_url(warehouse)}   (schema marts)")
    ui = "make ui" if settings.ui_port == 3000 else f"UI_PORT={settings.ui_port} make ui"
    print(f"  Dagster UI     {ui}  → http://127.0.0.1:{settings.ui_port}")
    print(f"  full log       {log_path}")


if __name__ == "__main__":
    sys.exit(main())
