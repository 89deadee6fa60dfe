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
    }


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


def run_pipeline(ctx: Scale, job: str, timeout: float | None = None) -> dict:
    """One run of ``orchestration.run --job <job>``; ``timeout`` defaults to the scale's limit."""
    timeout = pipeline_timeout(ctx.scale) if timeout is None else timeout
    out_json = ctx.work / f"run_{job}.json"
    log_path = ctx.work / f"run_{job}.log"
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
        )
    else:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        result.update(success=False, phases={}, failure="no result: " + " | ".join(tail))
    result["dbt"] = _newest_run_results(since)
    phases = result.get("phases", {})
    say(
        f"  {job}: {wall:.1f}s wall (ingest {phases.get('ingest', 0):.1f}, dbt build "
        f"{phases.get('dbt build', 0):.1f}, checks {phases.get('checks', 0):.1f}, serving "
        f"{phases.get('serving', 0):.1f}); peak RSS main {peak_main / MB:,.0f} MB, "
        f"dbt {peak_dbt / MB:,.0f} MB; {'SUCCESS' if result['success'] else 'FAILED'}"
        + (f" ({len(result.get('checks_failed', []))} checks failed)" if result["success"] else "")
    )
    return result
