"""Landing → mart latency through the real daemon: one export file lands, how long until
``serving/bi_access`` is materialized by the run the landing sensor started (one
``refresh`` run: the feed, what depends on it, and serving).

1. the bench world's Dagster env, exactly as ``orchestration.run`` exports it
   (:func:`orchestration.instance.prepare_dagster_home` of the world's settings);
2. ``landing_dir_sensor`` and ``transform_on_change`` started (:mod:`bench.dagster_sensors`),
   then ``dagster-daemon run`` (logs to ``<work>/daemon.log``), bounded start: its sensor
   daemon must heartbeat;
3. settle: the landing sensor's first tick sees every file already there as new (empty
   cursor) and starts an ingest that loads nothing; the clock starts only when that tick,
   its run, and a transform tick after it are done — so only the new file is timed;
4. ONE new ad_metrics file (the newest day's file of ``advance``, one day later: new rows
   for existing campaigns) is renamed into LANDING_DIR/ad_metrics; t0 = the rename;
5. Dagster's storage is polled (every wait bounded) until ``serving/bi_access`` has a
   materialization from a transform run started after t0.

The daemon and its process tree are always stopped (``finally``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psutil
import psycopg

from bench.world import BenchTimeout, Scale, say
from crownsync.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent
SENSORS = ("landing_dir_sensor", "transform_on_change")
BI_ACCESS = ["serving", "bi_access"]
BUILDING_JOBS = ("refresh", "transform")  # runs that publish serving/bi_access
IN_FLIGHT = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
# DagsterEventType values of the run lifecycle (legacy names)
RUN_EVENTS = {
    "PIPELINE_ENQUEUED": "enqueued",
    "PIPELINE_START": "started",
    "PIPELINE_SUCCESS": "finished",
    "PIPELINE_FAILURE": "failed",
}


def latency_timeout(scale: float) -> float:
    """Limit for the file → bi_access wait: 10 min, plus 1 min per unit of scale."""
    return 600.0 + 60.0 * scale


def dagster_env(ctx: Scale) -> dict[str, str]:
    """The env a Dagster process of the bench world gets (what orchestration.run exports)."""
    from crownsync.settings import Settings
    from orchestration.instance import prepare_dagster_home

    world = ctx.pipeline_env()
    settings = Settings(
        database_url=world["DATABASE_URL"],
        source_database_url=world["SOURCE_DATABASE_URL"],
        landing_dir=Path(world["LANDING_DIR"]),
        dagster_database_url=world["DAGSTER_DATABASE_URL"],
        dagster_home=Path(world["DAGSTER_HOME"]),
    )
    return {
        **os.environ,
        **world,
        **prepare_dagster_home(settings),
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYTHONUNBUFFERED": "1",
    }


# --- the export file -------------------------------------------------------------------


def write_new_export(landing: Path, staging_dir: Path) -> tuple[Path, int]:
    """A new ad_metrics CSV: the newest dated CSV's rows one day later. Returns (path, rows).

    Written next to the landing dir, then renamed in: the sensor never sees half a file.
    """
    folder = landing / "ad_metrics"
    dated = sorted(p for p in folder.glob("ad_metrics_????-??-??.csv"))
    source = dated[-1] if dated else max(folder.glob("*.csv"), key=lambda p: p.stat().st_mtime)
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    newest = max(date.fromisoformat(r["date"][:10]) for r in rows)
    day = newest + timedelta(days=1)
    while (folder / f"ad_metrics_{day.isoformat()}.csv").exists():
        day += timedelta(days=1)
    shift = day - newest
    for row in rows:
        row["date"] = (date.fromisoformat(row["date"][:10]) + shift).isoformat()
    name = f"ad_metrics_{day.isoformat()}.csv"
    staging_dir.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir / name
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    target = folder / name
    os.replace(tmp, target)
    return target, len(rows)


# --- Dagster storage -------------------------------------------------------------------


class Storage:
    """Read-only queries on the bench world's Dagster Postgres storage."""

    def __init__(self, url: str):
        self.url = url

    def _rows(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url, connect_timeout=10) as conn:
            return conn.execute(query, params).fetchall()

    def sensor_heartbeat(self) -> bool:
        try:
            return bool(self._rows("select 1 from daemon_heartbeats where daemon_type = 'SENSOR'"))
        except psycopg.errors.UndefinedTable:
            return False

    def ticks(self, sensor: str) -> list[dict]:
        """Finished ticks of a sensor: {timestamp, status, run_ids}."""
        out = []
        for (body,) in self._rows(
            "select tick_body from job_ticks where tick_body like %s order by id",
            (f'%"job_name": "{sensor}"%',),
        ):
            data = json.loads(body)
            if data.get("job_name") != sensor:
                continue
            status = str((data.get("status") or {}).get("__enum__", data.get("status")))
            if status.endswith("STARTED"):
                continue
            out.append(
                {
                    "timestamp": data.get("timestamp"),
                    "status": status.split(".")[-1],
                    "run_ids": data.get("run_ids") or [],
                }
            )
        return out

    def in_flight(self) -> int:
        return self._rows("select count(*) from runs where status = any(%s)", (list(IN_FLIGHT),))[
            0
        ][0]

    def last_run_end(self) -> float:
        row = self._rows("select max(end_time) from runs")[0][0]
        return float(row or 0.0)

    def high_event_id(self) -> int:
        return self._rows("select coalesce(max(id), 0) from event_logs")[0][0]

    def runs_after(self, event_id: int) -> list[dict]:
        """Runs with an event after ``event_id``: job, status, lifecycle times (epoch s)."""
        rows = self._rows(
            "select r.run_id, r.pipeline_name, r.status, e.dagster_event_type, "
            "extract(epoch from e.timestamp) from runs r join event_logs e using (run_id) "
            "where e.id > %s and e.dagster_event_type = any(%s) order by e.id",
            (event_id, list(RUN_EVENTS)),
        )
        runs: dict[str, dict] = {}
        for run_id, job, status, kind, ts in rows:
            run = runs.setdefault(run_id, {"run_id": run_id, "job": job, "status": status})
            run[RUN_EVENTS[kind]] = float(ts)
        return list(runs.values())

    def materializations_after(self, event_id: int) -> list[dict]:
        rows = self._rows(
            "select run_id, asset_key, extract(epoch from timestamp) from event_logs "
            "where id > %s and dagster_event_type = 'ASSET_MATERIALIZATION' order by id",
            (event_id,),
        )
        return [{"run_id": r, "asset": "/".join(json.loads(k)), "at": float(t)} for r, k, t in rows]


# --- the daemon ------------------------------------------------------------------------


def _stop_daemon(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM the daemon's process group and every descendant, SIGKILL after ``grace``."""
    try:
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _tail(path: Path, n: int = 4) -> str:
    try:
        lines = ANSI.sub("", path.read_text(errors="replace")).splitlines()
    except OSError:
        return ""
    return " | ".join(line[:200] for line in lines[-n:])


def _wait(what: str, ready, timeout: float, log: Path, proc: subprocess.Popen | None) -> float:
    """Poll ``ready()`` every 0.5 s up to ``timeout`` s; the moment it held (epoch s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchTimeout(
                f"dagster-daemon exited ({proc.returncode}) while waiting for {what}; "
                f"log {log}: {_tail(log)}"
            )
        if ready():
            return time.time()
        time.sleep(0.5)
    raise BenchTimeout(
        f"no {what} within {timeout:.0f} s (the daemon was stopped); daemon log {log}: {_tail(log)}"
    )


def bench_latency(ctx: Scale, all_marts: list[str], timeout: float | None = None) -> dict:
    """Landing → serving/bi_access through the daemon (see the module docstring)."""
    timeout = latency_timeout(ctx.scale) if timeout is None else timeout
    env = dagster_env(ctx)
    storage = Storage(ctx.url("dagster"))
    log = ctx.work / "daemon.log"
    say(f"scale {ctx.scale:g}: landing → mart latency via dagster-daemon (log {log})")
    began = time.monotonic()
    started = subprocess.run(
        [sys.executable, "-m", "bench.dagster_sensors", *SENSORS],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if started.returncode != 0:
        raise BenchTimeout(f"could not start the sensors: {started.stderr[-1500:]}")
    sensors_s = time.monotonic() - began
    t_start = time.time()
    with open(log, "w", encoding="utf-8") as handle:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-m", "orchestration.definitions"]
            + ["-d", str(PROJECT_ROOT)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        t_up = _wait("sensor daemon heartbeat", storage.sensor_heartbeat, 180, log, daemon)
        say(f"  daemon up in {t_up - t_start:.1f} s (sensors started in {sensors_s:.1f} s)")

        def settled() -> bool:
            landing = [t for t in storage.ticks("landing_dir_sensor") if t["timestamp"] >= t_start]
            if not landing or storage.in_flight():
                return False
            after = max(storage.last_run_end(), landing[0]["timestamp"])
            return any(t["timestamp"] > after for t in storage.ticks("transform_on_change"))

        t_settled = _wait("first sensor ticks and their runs", settled, 300, log, daemon)
        say(f"  settled (first ticks, baseline ingest done) after {t_settled - t_up:.1f} s")
        mark = storage.high_event_id()
        path, rows = write_new_export(ctx.landing, ctx.work / "latency_staging")
        t0 = time.time()
        say(f"  landed {path.name} ({rows} rows) at t0; waiting for serving/bi_access")

        def published() -> bool:
            transforms = {
                r["run_id"] for r in storage.runs_after(mark) if r["job"] in BUILDING_JOBS
            }
            return any(
                m["asset"] == "serving/bi_access" and m["run_id"] in transforms
                for m in storage.materializations_after(mark)
            )

        t_done = _wait("serving/bi_access materialization", published, timeout, log, daemon)
        # the transform run's end (its checks after bi_access), bounded
        with contextlib.suppress(BenchTimeout):
            _wait("end of the transform run", lambda: not storage.in_flight(), 300, log, daemon)
        runs = storage.runs_after(mark)
        mats = storage.materializations_after(mark)
    finally:
        _stop_daemon(daemon)
    return _latency_result(path, rows, t0, t_done, runs, mats, all_marts, log) | {
        "daemon_start_seconds": t_up - t_start,
        "settle_seconds": t_settled - t_up,
        "sensors_start_seconds": sensors_s,
    }


def _latency_result(
    path: Path,
    rows: int,
    t0: float,
    t_done: float,
    runs: list[dict],
    mats: list[dict],
    all_marts: list[str],
    log: Path,
) -> dict:
    # the landing sensor's one `refresh` run ingests and builds; older versions used an
    # `ingest` run followed by a `transform` run
    ingest = next((r for r in runs if r["job"] in ("refresh", "ingest")), {})
    transform = next((r for r in runs if r["job"] in BUILDING_JOBS), {})
    in_transform = [m for m in mats if m["run_id"] == transform.get("run_id")]
    marts = sorted({m["asset"] for m in in_transform if m["asset"].startswith("marts/")})
    raw = next((m for m in mats if m["asset"] == "raw/ad_metrics"), None)
    bi = next((m for m in in_transform if m["asset"] == "serving/bi_access"), None)

    def since(ts: float | None) -> float | None:
        return None if ts is None else round(ts - t0, 2)

    timeline = {
        "ingest run enqueued (landing sensor tick)": since(ingest.get("enqueued")),
        "ingest run started": since(ingest.get("started")),
        "raw/ad_metrics materialized": since(raw["at"] if raw else None),
        "ingest run finished": since(ingest.get("finished")),
        "transform run enqueued (transform_on_change tick)": since(transform.get("enqueued")),
        "transform run started": since(transform.get("started")),
        "first mart materialized": since(
            min((m["at"] for m in in_transform if m["asset"].startswith("marts/")), default=None)
        ),
        "serving/bi_access materialized": since(bi["at"] if bi else t_done),
        "transform run finished": since(transform.get("finished")),
    }
    from orchestration.defs.automation.sensors import LANDING_INTERVAL_S

    out = {
        "landing_interval_s": LANDING_INTERVAL_S,
        "file": path.name,
        "file_rows": rows,
        "seconds": timeline["serving/bi_access materialized"],
        "timeline": timeline,
        "runs": [
            {k: (round(v - t0, 2) if isinstance(v, float) else v) for k, v in r.items()}
            for r in runs
        ],
        "transform_materialized": sorted({m["asset"] for m in in_transform}),
        "marts_rebuilt": marts,
        "marts_total": len(all_marts),
        "marts_not_rebuilt": sorted(set(all_marts) - set(marts)),
        "daemon_log": str(log),
    }
    say(
        f"  file → bi_access {out['seconds']:.1f} s; transform rebuilt "
        f"{len(out['transform_materialized'])} assets, {len(marts)} of {len(all_marts)} marts"
    )
    for label, value in timeline.items():
        say(f"    +{value if value is not None else '?'} s  {label}")
    return out
