"""The pipeline runs: ``python -m orchestration.run`` in a child process, its wall time and
phases, and the peak RSS of it and of its dbt subprocess (sampled every 0.2 s).

The child runs with a limit (:func:`bench.world.pipeline_timeout`); past it, the child and its
descendants are stopped and :class:`bench.world.BenchTimeout` says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.targets import MB
from bench.world import BenchTimeout, Scale, pipeline_timeout, say
from crownsync.settings import PROJECT_ROOT


def _is_dbt(proc: psutil.Process) -> bool:
    try:
        if proc.name() == "dbt":
            return True
        cmd = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return any(Path(part).name == "dbt" for part in cmd[:2])


def _when(text: str | None) -> float | None:
    """An ISO timestamp of dbt's artifacts (UTC) as epoch seconds."""
    if not text:
        return None
    from datetime import UTC, datetime

    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def dbt_timing(data: dict) -> dict:
    """Fixed overhead vs data time of one dbt invocation, from its run_results.json.

    - startup: dbt's invocation start → the first node starts (parse, manifest, adapter,
      DAG, connections);
    - node window: first node start → last node end (threads run nodes side by side);
    - node time: Σ execution_time; SQL time: Σ of each node's ``execute`` timing (the
      statement in the server: the data work, plus one round trip); per-node overhead:
      (node time − SQL time) ÷ nodes (compile, materialization macros, adapter
      bookkeeping, introspection queries);
    - tail: last node end → run_results written (artifacts, cleanup).
    """
    results = data.get("results", [])
    starts, ends = [], []
    execute_s = compile_s = 0.0
    by_type: dict[str, int] = {}
    models = []
    for r in results:
        uid = r.get("unique_id", "?")
        kind = uid.split(".", 1)[0]
        by_type[kind] = by_type.get(kind, 0) + 1
        node_exec = 0.0
        for t in r.get("timing") or []:
            a, b = _when(t.get("started_at")), _when(t.get("completed_at"))
            if a is None or b is None:
                continue
            starts.append(a)
            ends.append(b)
            if t.get("name") == "execute":
                execute_s += b - a
                node_exec += b - a
            elif t.get("name") == "compile":
                compile_s += b - a
        if kind in ("model", "snapshot"):
            models.append((node_exec, uid))
    meta = data.get("metadata", {})
    invoked = _when(meta.get("invocation_started_at"))
    generated = _when(meta.get("generated_at"))
    node_s = sum(r.get("execution_time") or 0.0 for r in results)
    n = len(results)
    out: dict = {
        "nodes_by_type": by_type,
        "threads": len({r.get("thread_id") for r in results if r.get("thread_id")})
        or (data.get("args") or {}).get("threads"),
        "node_seconds": node_s,
        "sql_seconds": execute_s,
        "compile_seconds": compile_s,
        "per_node_overhead_seconds": (node_s - execute_s) / n if n else 0.0,
        "biggest_models": [
            {"node": uid, "sql_seconds": round(sec, 2)} for sec, uid in sorted(models)[::-1][:5]
        ],
    }
    if starts and invoked is not None:
        out["startup_seconds"] = min(starts) - invoked
        out["node_window_seconds"] = max(ends) - min(starts)
        if generated is not None:
            out["tail_seconds"] = max(0.0, generated - max(ends))
            out["invocation_seconds"] = generated - invoked
    return out


def _newest_run_results(since: float) -> dict | None:
    """Slowest dbt nodes of the build dagster-dbt ran (its target dir under dbt_project)."""
    target = PROJECT_ROOT / "dbt_project" / "target"
    found = [
        p for p in target.glob("**/run_results.json") if p.stat().st_mtime >= since and p.is_file()
    ]
    if not found:
        return None
    newest = max(found, key=lambda p: p.stat().st_mtime)
    try:
        data = json.loads(newest.read_text())
    except (OSError, ValueError):
        return None
    nodes = sorted(
        (
            (r.get("execution_time") or 0.0, r.get("unique_id", "?"), r.get("status"))
            for r in data.get("results", [])
        ),
        reverse=True,
    )
    return {
        "file": str(newest.relative_to(PROJECT_ROOT)),
        "elapsed_time": data.get("elapsed_time"),
        "nodes": len(nodes),
        "slowest": [{"node": n, "seconds": round(s, 2), "status": st} for s, n, st in nodes[:8]],
        "timing": dbt_timing(data),
    }


def dagster_run_times(dagster_url: str, run_ids: list[str]) -> list[dict]:
    """Per Dagster run: its start → end (Dagster's own run record), epoch seconds."""
    import psycopg

    if not run_ids:
        return []
    try:
        with psycopg.connect(dagster_url) as conn:
            rows = conn.execute(
                "select run_id, pipeline_name, start_time, end_time from runs "
                "where run_id = any(%s)",
                (run_ids,),
            ).fetchall()
    except psycopg.Error:
        return []
    found = {r[0]: r for r in rows}
    out = []
    for run_id in run_ids:
        if run_id in found and found[run_id][2] and found[run_id][3]:
            _, job, start, end = found[run_id]
            out.append({"run_id": run_id, "job": job, "seconds": float(end) - float(start)})
    return out


def _last_log_line(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = [x for x in handle.read().decode(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


@dataclass
class RssSamples:
    """What sampling the child process every 0.2 s saw."""

    peak_main: int = 0
    peak_dbt: int = 0
    peak_tree: int = 0
    load_max: float = 0.0
    peak_context: str = ""  # the log's last line when the main process's RSS last grew
    timeline: list[tuple[float, int, int]] = field(default_factory=list)  # (s, main MB, dbt MB)


def _stop_tree(child: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the child and every process it started (dbt, Dagster's own), by their pids."""
    try:
        procs = [psutil.Process(child.pid), *psutil.Process(child.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    child.wait()


def _sample_until_exit(
    child: subprocess.Popen, log_path: Path, began: float, deadline: float
) -> RssSamples:
    """Sample RSS until the child exits; past ``deadline`` (monotonic) return early."""
    samples = RssSamples()
    watched = psutil.Process(child.pid)
    next_tick = 0.0
    while child.poll() is None and time.monotonic() < deadline:
        try:
            main_rss = watched.memory_info().rss
            kids = watched.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        tree = main_rss
        dbt_now = 0
        for kid in kids:
            try:
                rss = kid.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            tree += rss
            if _is_dbt(kid):
                dbt_now = max(dbt_now, rss)
        samples.peak_dbt = max(samples.peak_dbt, dbt_now)
        if main_rss > samples.peak_main * 1.02:
            samples.peak_context = _last_log_line(log_path)  # what the run was doing then
        samples.peak_main = max(samples.peak_main, main_rss)
        now = time.monotonic() - began
        if now >= next_tick:
            samples.timeline.append((round(now, 1), main_rss // MB, dbt_now // MB))
            next_tick = now + 1.0
        samples.peak_tree = max(samples.peak_tree, tree)
        samples.load_max = max(samples.load_max, os.getloadavg()[0])
        time.sleep(0.2)
    return samples


def run_pipeline(
    ctx: Scale, job: str, timeout: float | None = None, label: str | None = None
) -> dict:
    """One run of ``orchestration.run --job <job>``; ``timeout`` defaults to the scale's limit.

    ``label`` names its log and JSON (two ``incremental`` runs: the no-change one and the
    one after ``advance``).
    """
    timeout = pipeline_timeout(ctx.scale) if timeout is None else timeout
    label = label or job
    out_json = ctx.work / f"run_{label}.json"
    log_path = ctx.work / f"run_{label}.log"
    out_json.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "orchestration.run",
        "--job",
        job,
        "--skip-simulator",
        "--json",
        str(out_json),
    ]
    env = {**os.environ, **ctx.pipeline_env(), "PYTHONUNBUFFERED": "1"}
    say(f"scale {ctx.scale:g}: pipeline job '{job}' (log {log_path}, limit {timeout:.0f} s)")
    since = time.time()
    began = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        child = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            samples = _sample_until_exit(child, log_path, began, began + timeout)
            if child.poll() is None:
                raise BenchTimeout(
                    f"pipeline job '{job}' at scale {ctx.scale:g} ran longer than its limit of "
                    f"{timeout:.0f} s and was stopped (with its dbt and Dagster subprocesses). "
                    f"Last log line: {_last_log_line(log_path)!r}; whole log: {log_path}."
                )
        finally:
            if child.poll() is None:
                _stop_tree(child)
        child.wait()
    wall = time.monotonic() - began
    peak_main, peak_dbt = samples.peak_main, samples.peak_dbt
    result: dict = {
        "job": job,
        "exit_code": child.returncode,
        "process_wall_seconds": wall,
        "peak_rss_main_bytes": peak_main,
        "peak_rss_dbt_bytes": peak_dbt,
        "peak_rss_tree_bytes": samples.peak_tree,
        "load_average_max_1min": samples.load_max,
        "peak_rss_main_context": samples.peak_context,
        "rss_timeline_mb": samples.timeline,
        "log": str(log_path),
    }
    if out_json.exists():
        run = json.loads(out_json.read_text())
        result.update(
            success=run["success"],
            job_seconds=run["total_seconds"],
            phases=run["phases"],
            checks_passed=run["checks_passed"],
            checks_failed=run["checks_failed"],
            checks_warned=len(run["checks_warned"]),
            failure=run["failure"],
            run_ids=run.get("run_ids") or [run.get("run_id")],
            materialized=run.get("materialized", 0),
            materialized_assets=run.get("materialized_assets", []),
            plan=run.get("plan"),
        )
    else:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        result.update(success=False, phases={}, failure="no result: " + " | ".join(tail))
    result["dbt"] = _newest_run_results(since) if phases_ran_dbt(result) else None
    result["dagster_runs"] = dagster_run_times(ctx.url("dagster"), result.get("run_ids") or [])
    result["overhead"] = overhead_breakdown(result)
    phases = result.get("phases", {})
    say(
        f"  {label}: {result.get('materialized', '?')} assets materialized; "
        f"plan: {result.get('plan') or '(one run of everything)'}"
    )
    say(
        f"  {label}: {wall:.1f}s wall (ingest {phases.get('ingest', 0):.1f}, dbt build "
        f"{phases.get('dbt build', 0):.1f}, checks {phases.get('checks', 0):.1f}, serving "
        f"{phases.get('serving', 0):.1f}); peak RSS main {peak_main / MB:,.0f} MB, "
        f"dbt {peak_dbt / MB:,.0f} MB; {'SUCCESS' if result['success'] else 'FAILED'}"
        + (f" ({len(result.get('checks_failed', []))} checks failed)" if result["success"] else "")
    )
    return result


STEP_PHASES = ("ingest", "dbt build", "checks", "serving")


def phases_ran_dbt(result: dict) -> bool:
    return result.get("phases", {}).get("dbt build", 0.0) > 0


def overhead_breakdown(run: dict) -> dict:
    """The run's wall time split into fixed overhead and data time (all in seconds).

    - process: interpreter, imports, settings, the end summary (wall − the job's total);
    - entry: database check, manifest, simulator skip (the job's total − the Dagster runs
      as ``run_job`` timed them);
    - dagster: each ``run_job`` call (code location, run launch, event storage) minus the
      step times inside it; ``dagster_record`` is the same from Dagster's run records
      (RUN_START → RUN_SUCCESS) minus the steps: the executor's own share;
    - dbt fixed: the dbt step − dbt's node window (process start, parse, adapter, the
      dagster-dbt event stream) plus per-node overhead × nodes; dbt data: Σ SQL time;
    - the other steps (ingest, checks, serving) as measured.
    """
    phases = run.get("phases", {})
    wall = run["process_wall_seconds"]
    job = run.get("job_seconds", wall)
    steps = sum(phases.get(k, 0.0) for k in STEP_PHASES)
    runs_wall = sum(v for k, v in phases.items() if k.startswith("dagster ("))
    if not runs_wall:  # full_refresh: one run_job call, not timed apart
        runs_wall = job - phases.get("database", 0.0) - phases.get("simulator", 0.0)
    out = {
        "process_seconds": wall - job,
        "entry_seconds": job - runs_wall - phases.get("plan", 0.0),
        "plan_seconds": phases.get("plan", 0.0),
        "dagster_seconds": runs_wall - steps,
        "steps_seconds": steps,
    }
    record = sum(r["seconds"] for r in run.get("dagster_runs") or [])
    if record:
        out["dagster_record_seconds"] = record
        out["dagster_executor_seconds"] = record - steps
    timing = (run.get("dbt") or {}).get("timing") or {}
    dbt_step = phases.get("dbt build", 0.0)
    if timing.get("node_window_seconds") is not None and dbt_step:
        n = sum(timing["nodes_by_type"].values())
        out["dbt_step_seconds"] = dbt_step
        out["dbt_startup_seconds"] = timing["startup_seconds"]
        if timing.get("invocation_seconds") is not None:
            # before dbt's invocation starts (process spawn, imports) and after its
            # artifacts are written (dagster-dbt turning results into Dagster events)
            out["dbt_wrapper_seconds"] = dbt_step - timing["invocation_seconds"]
            out["dbt_tail_seconds"] = timing.get("tail_seconds", 0.0)
        out["dbt_outside_nodes_seconds"] = dbt_step - timing["node_window_seconds"]
        out["dbt_nodes"] = n
        out["dbt_per_node_overhead_seconds"] = timing["per_node_overhead_seconds"]
        out["dbt_sql_seconds"] = timing["sql_seconds"]
        threads = timing.get("threads") or 1
        # the node window shared by the threads: SQL time is the data part of it
        out["dbt_node_window_seconds"] = timing["node_window_seconds"]
        out["dbt_threads"] = threads
    return out
