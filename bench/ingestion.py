"""Ingestion micro-benchmarks: our loader against psql ``\\copy`` of the same rows, pandas
``to_sql``, and the incremental merge after ``advance``; server time from pg_stat_statements.

Every psql runs with a limit (:func:`bench.world.psql_timeout`) and gets the password in its
environment (``PGPASSWORD``), never on its command line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.world import BenchTimeout, Scale, psql_timeout, sa_url, say
from crownsync.settings import url_without_password

LARGE_TABLES = (
    "email_sends",
    "social_analytics",
    "sms_sends",
    "customer_interactions",
    "wish_list_items",
    "retailer_performance_metrics",
)
SCRATCH = "bench_copy"


def psql_binary() -> str:
    from crownsync.warehouse import embedded

    path = embedded.bin_path("psql")
    return str(path) if path.exists() else (shutil.which("psql") or "psql")


def _stats_reset(conn: psycopg.Connection, dbids: list[int]) -> None:
    for dbid in dbids:
        conn.execute("select pg_stat_statements_reset(0, %s, 0)", (dbid,))


def _stats(conn: psycopg.Connection, dbids: list[int], limit: int = 12) -> list[dict]:
    rows = conn.execute(
        """
        select d.datname, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 160), s.calls,
               s.total_exec_time,
               case
                 when s.query ilike 'copy "raw"."\\_stage\\_%%from stdin%%' then 'copy_in_stage'
                 when s.query ilike 'alter table "raw"."\\_stage\\_%%' then 'stage_to_raw'
                 when s.query ilike '%%add primary key%%' then 'primary_key'
                 when s.query ilike 'copy %%from stdin%%' then 'copy_in'
                 when s.query ilike 'copy %%to stdout%%' then 'copy_out'
                 when s.query ilike '%%on conflict%%' then 'merge'
                 when s.query ilike '%%not exists (select 1 from%%' then 'delete_check'
                 when s.query ilike 'select count(*) from%%'
                   or s.query ilike 'select max(%%' then 'post_load'
                 when s.query ilike 'analyze%%' then 'analyze'
                 else 'other'
               end
          from pg_stat_statements s join pg_database d on d.oid = s.dbid
         where s.dbid = any(%s) and s.total_exec_time > 1
         order by s.total_exec_time desc limit %s

        """,
        (dbids, limit),
    ).fetchall()
    return [
        {"database": db, "kind": kind, "query": query, "calls": calls, "ms": round(ms, 1)}
        for db, query, calls, ms, kind in rows
    ]


def _stmt_ms(stats: list[dict], kind: str) -> float:
    return sum(s["ms"] for s in stats if s["kind"] == kind)


def _psql_target(url: str, env: dict | None = None) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the subprocess env with PGPASSWORD instead.

    A password on psql's command line would be visible to every OS user (``ps``).
    """
    parsed = make_url(url)
    full_env = {**os.environ, **(env or {})}
    if parsed.password is not None:
        full_env["PGPASSWORD"] = str(parsed.password)
    return url_without_password(url), full_env


def _psql_expired(command: str, timeout: float) -> BenchTimeout:
    return BenchTimeout(
        f"psql ran longer than its limit of {timeout:.0f} s and was stopped: {command[:200]!r}. "
        "The server is overloaded, or a lock blocks the load (pg_stat_activity says which); "
        "rerun on a quieter machine or at a smaller scale."
    )


def _run_psql(
    psql: str, url: str, command: str, env: dict | None = None, *, timeout: float
) -> float:
    target, full_env = _psql_target(url, env)
    began = time.monotonic()
    try:
        subprocess.run(
            [psql, target, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command],
            check=True,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise _psql_expired(command, timeout) from None
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"psql failed ({command[:200]!r}): {exc.stderr.strip()}") from None
    return time.monotonic() - began


def _psql_parallel(psql: str, url: str, commands: list[str], env: dict, *, timeout: float) -> float:
    """The commands in parallel psql processes; ``timeout`` bounds them all together."""
    target, full_env = _psql_target(url, env)
    began = time.monotonic()
    procs = [
        subprocess.Popen(
            [psql, target, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    try:
        for proc, command in zip(procs, commands, strict=True):
            try:
                _, err = proc.communicate(timeout=max(0.0, began + timeout - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise _psql_expired(command, timeout) from None
            if proc.returncode:
                raise RuntimeError(f"psql failed ({command[:200]!r}): {err.strip()}")
    finally:
        for proc in procs:  # on any failure, none is left running
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return time.monotonic() - began


def _split_file(path: Path, parts: int) -> list[Path]:
    with open(path, "rb") as handle:
        lines = handle.readlines()
    size = (len(lines) + parts - 1) // parts
    out = []
    for i in range(parts):
        part = path.with_suffix(f".part{i}")
        with open(part, "wb") as handle:
            handle.writelines(lines[i * size : (i + 1) * size])
        out.append(part)
    return out


def _python_drain(src: str, select: str) -> tuple[float, int, int]:
    """Read ``COPY (select) TO STDOUT`` in Python and throw it away: (seconds, reads, bytes)."""
    reads = size = 0
    with psycopg.connect(src, autocommit=True) as conn:
        cur = conn.cursor()
        began = time.monotonic()
        with cur.copy(f"copy ({select}) to stdout") as copy:
            for chunk in copy:
                reads += 1
                size += len(chunk)
        return time.monotonic() - began, reads, size


def _python_relay_batched(src: str, dst: str, select: str, into: str) -> float:
    """The loader's relay, but writing ~128 kB blocks instead of one write per row."""
    with (
        psycopg.connect(src, autocommit=True) as source,
        psycopg.connect(dst, autocommit=True) as target,
    ):
        target.execute("set crownsync.load_id = '0'")
        began = time.monotonic()
        with (
            source.cursor().copy(f"copy ({select}) to stdout") as copy_out,
            target.cursor().copy(f"copy {into} from stdin") as copy_in,
        ):
            block = bytearray()
            for chunk in copy_out:
                block += chunk
                if len(block) >= 128 * 1024:
                    copy_in.write(block)
                    block = bytearray()
            if block:
                copy_in.write(block)
        return time.monotonic() - began


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _dbid(conn: psycopg.Connection, name: str) -> int:
    return conn.execute("select oid from pg_database where datname = %s", (name,)).fetchone()[0]


def bench_ingestion(ctx: Scale, psql: str, tosql_rows: int, comparisons: bool = True) -> dict:
    """Initial load of the large tables by our loader and by psql ``\\copy`` (1 stream).

    ``comparisons`` False (scale 10, see :func:`bench.measure.lean_scale`): the what-if
    micro-benchmarks are skipped — Python drain, 128 kB relay, 2 psql streams, pandas
    ``to_sql`` — none of them is needed for a target, and each re-reads every row.
    """
    from ingestion.api import ingest_app_table, prepare_warehouse
    from ingestion.app_db.extract import source_columns

    src, ing = ctx.url("src"), ctx.url("ing")
    copy_dir = ctx.work / "copy"
    copy_dir.mkdir(exist_ok=True)
    load_env = {"PGOPTIONS": "-c crownsync.load_id=0"}
    timeout = psql_timeout(ctx.scale)
    prepare_warehouse(ing)
    tables: dict[str, dict] = {}
    with (
        psycopg.connect(ing, autocommit=True) as conn,
        psycopg.connect(src, autocommit=True) as source,
    ):
        conn.execute("create extension if not exists pg_stat_statements")
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCRATCH)))
        dbids = [_dbid(conn, ctx.name("ing")), _dbid(conn, ctx.name("src"))]
        for table in LARGE_TABLES:
            cols = list(source_columns(source, table))
            col_list = ", ".join(f'"{c}"' for c in cols)
            _stats_reset(conn, dbids)
            began = time.monotonic()
            # one stream per table, tables one after the other: INGEST_WORKERS=1
            result = ingest_app_table(table, warehouse_url=ing, source_url=src, workers=1)
            ours_s = time.monotonic() - began
            stats = _stats(conn, dbids)
            rows = result.rows_read
            # the same rows, exported once, then loaded by psql into an empty identical table
            data = copy_dir / f"{table}.copy"
            export_s = _run_psql(
                psql,
                src,
                f'\\copy (select {col_list} from public."{table}") to {_quote_path(data)}',  # noqa: S608
                timeout=timeout,
            )
            scratch = f'{SCRATCH}."{table}"'
            conn.execute(f'create table {scratch} (like raw."{table}" including all)')
            psql_s = _run_psql(
                psql,
                ing,
                f"\\copy {scratch} ({col_list}) from {_quote_path(data)}",
                load_env,
                timeout=timeout,
            )
            conn.execute(f"truncate {scratch}")
            select = f'select {col_list} from public."{table}"'  # noqa: S608
            comparison: dict = {}
            parts: list[Path] = []
            if comparisons:
                comparison, parts = _comparisons(
                    psql, src, ing, conn, select, scratch, col_list, data, load_env, timeout
                )
            conn.execute(f"drop table {scratch}")
            for path in [data, *parts]:
                path.unlink(missing_ok=True)
            copy_in_ms = _stmt_ms(stats, "copy_in")
            copy_out_ms = _stmt_ms(stats, "copy_out")
            post_ms = _stmt_ms(stats, "post_load")
            entry = {
                "rows": rows,
                "seconds": ours_s,
                "rows_per_second": rows / ours_s,
                "loader_reported_seconds": result.seconds,
                "mode": result.mode,
                "psql_export_seconds": export_s,
                "psql_copy_seconds": psql_s,
                "psql_copy_rows_per_second": rows / psql_s,
                "ratio_vs_psql_copy": psql_s / ours_s,
                "server_copy_in_ms": copy_in_ms,
                "server_copy_out_ms": copy_out_ms,
                "server_post_load_queries_ms": post_ms,
                "top_statements": stats,
            }
            if comparison:
                psql2_s, batched_s = comparison["psql2_s"], comparison["batched_s"]
                entry.update(
                    psql_copy_2streams_seconds=psql2_s,
                    psql_copy_2streams_rows_per_second=rows / psql2_s,
                    python_copy_out_drain_seconds=comparison["drain_s"],
                    python_copy_out_reads=comparison["drain_reads"],
                    copy_bytes=comparison["drain_bytes"],
                    python_relay_batched_seconds=batched_s,
                    python_relay_batched_rows_per_second=rows / batched_s,
                    ratio_batched_relay_vs_psql_copy=psql_s / batched_s,
                )
            tables[table] = entry
            say(
                f"  ingest {table:<30} {rows:>10,} rows  ours {rows / ours_s:>9,.0f} rows/s  "
                f"psql \\copy {rows / psql_s:>9,.0f}"
                + (f"  (2 streams {rows / comparison['psql2_s']:,.0f})" if comparison else "")
                + f"  ratio {psql_s / ours_s:.2f}"
            )
    total_rows = sum(t["rows"] for t in tables.values())
    ours = sum(t["seconds"] for t in tables.values())
    psql_total = sum(t["psql_copy_seconds"] for t in tables.values())
    out = {
        "tables": tables,
        "total": {
            "rows": total_rows,
            "seconds": ours,
            "rows_per_second": total_rows / ours,
            "psql_copy_seconds": psql_total,
            "psql_copy_rows_per_second": total_rows / psql_total,
            "ratio_vs_psql_copy": psql_total / ours,
            "server_copy_in_ms": sum(t["server_copy_in_ms"] for t in tables.values()),
            "server_copy_out_ms": sum(t["server_copy_out_ms"] for t in tables.values()),
            "server_post_load_queries_ms": sum(
                t["server_post_load_queries_ms"] for t in tables.values()
            ),
        },
        "comparisons": comparisons,
    }
    if comparisons:
        psql2_total = sum(t["psql_copy_2streams_seconds"] for t in tables.values())
        batched_total = sum(t["python_relay_batched_seconds"] for t in tables.values())
        out["total"].update(
            psql_copy_2streams_seconds=psql2_total,
            psql_copy_2streams_rows_per_second=total_rows / psql2_total,
            ratio_vs_psql_copy_2streams=psql2_total / ours,
            python_copy_out_drain_seconds=sum(
                t["python_copy_out_drain_seconds"] for t in tables.values()
            ),
            python_copy_out_reads=sum(t["python_copy_out_reads"] for t in tables.values()),
            python_relay_batched_seconds=batched_total,
            ratio_batched_relay_vs_psql_copy=psql_total / batched_total,
        )
    say(
        f"  ingest total {total_rows:,} rows: ours {out['total']['rows_per_second']:,.0f} rows/s, "
        f"psql \\copy {out['total']['psql_copy_rows_per_second']:,.0f} rows/s "
        f"→ ratio {out['total']['ratio_vs_psql_copy']:.2f}"
    )
    out["parallel"] = bench_parallel_ingestion(ctx, out["total"])
    if comparisons:
        out["to_sql"] = bench_to_sql(ctx, tosql_rows, tables["email_sends"]["rows_per_second"])
    return out


def bench_parallel_ingestion(ctx: Scale, serial: dict, workers: int | None = None) -> dict:
    """The same six tables again, into an empty ``raw``, as one ``ingest_app_db`` call with
    ``INGEST_WORKERS`` (default: the core count): tables largest first, a large table in
    key-range streams. Next to the serial figures (INGEST_WORKERS=1) and psql's 1 and 2
    streams of the same rows, measured just before in the same run. The raw schema of the
    ingestion database is dropped first (ledger included: a first load for every table).
    """
    from crownsync.settings import get_settings
    from ingestion.api import ingest_app_db, prepare_warehouse

    workers = workers or get_settings().workers
    src, ing = ctx.url("src"), ctx.url("ing")
    with psycopg.connect(ing, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
        dbids = [_dbid(conn, ctx.name("ing")), _dbid(conn, ctx.name("src"))]
    prepare_warehouse(ing)
    with psycopg.connect(ing, autocommit=True) as conn:
        _stats_reset(conn, dbids)
        began = time.monotonic()
        report = ingest_app_db(
            tables=list(LARGE_TABLES), warehouse_url=ing, source_url=src, workers=workers
        )
        seconds = time.monotonic() - began
        stats = _stats(conn, dbids, limit=40)
    if not report.ok:
        raise RuntimeError(f"parallel ingestion failed: {report.errors}")
    rows = sum(t.rows_read for t in report.tables)
    if rows != serial["rows"]:
        raise RuntimeError(
            f"parallel ingestion read {rows:,} rows, the serial one {serial['rows']:,}"
        )
    rate = rows / seconds
    out = {
        "workers": workers,
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rate,
        "ratio_vs_serial": rate / serial["rows_per_second"],
        "ratio_vs_psql_copy": rate / serial["psql_copy_rows_per_second"],
        "tables": {
            t.table: {"rows": t.rows_read, "streams": t.streams, "seconds": t.seconds}
            for t in report.tables
        },
        "server_ms": {
            kind: _stmt_ms(stats, kind)
            for kind in (
                "copy_out",
                "copy_in_stage",
                "copy_in",
                "stage_to_raw",
                "primary_key",
                "post_load",
                "merge",
                "other",
            )
        },
        "top_statements": stats[:12],
    }
    if "psql_copy_2streams_rows_per_second" in serial:
        out["ratio_vs_psql_copy_2streams"] = rate / serial["psql_copy_2streams_rows_per_second"]
    say(
        f"  ingest parallel (INGEST_WORKERS={workers}) {rows:,} rows in {seconds:.1f} s: "
        f"{rate:,.0f} rows/s = {out['ratio_vs_serial']:.2f} × serial, "
        f"{out['ratio_vs_psql_copy']:.2f} × psql 1 stream"
        + (
            f", {out['ratio_vs_psql_copy_2streams']:.2f} × psql 2 streams"
            if "ratio_vs_psql_copy_2streams" in out
            else ""
        )
    )
    return out


def _comparisons(
    psql: str,
    src: str,
    ing: str,
    conn: psycopg.Connection,
    select: str,
    scratch: str,
    col_list: str,
    data: Path,
    load_env: dict[str, str],
    timeout: float,
) -> tuple[dict, list[Path]]:
    """The what-if figures of one table: Python drain, 128 kB relay, 2 psql streams."""
    drain_s, drain_reads, drain_bytes = _python_drain(src, select)
    batched_s = _python_relay_batched(src, ing, select, f"{scratch} ({col_list})")
    conn.execute(f"truncate {scratch}")
    parts = _split_file(data, 2)
    psql2_s = _psql_parallel(
        psql,
        ing,
        [f"\\copy {scratch} ({col_list}) from {_quote_path(p)}" for p in parts],
        load_env,
        timeout=timeout,
    )
    return {
        "drain_s": drain_s,
        "drain_reads": drain_reads,
        "drain_bytes": drain_bytes,
        "batched_s": batched_s,
        "psql2_s": psql2_s,
    }, parts


def _as_text(value: object) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def bench_to_sql(ctx: Scale, sample_rows: int, ours_rows_per_second: float) -> dict:
    import pandas as pd
    from sqlalchemy import create_engine

    src_engine = create_engine(sa_url(ctx.url("src")))
    ing_engine = create_engine(sa_url(ctx.url("ing")))
    try:
        with src_engine.connect() as conn:
            frame = pd.read_sql(
                f"select * from public.email_sends order by send_id limit {int(sample_rows)}",  # noqa: S608
                conn,
            )
        # the naive path: uuid/inet/json values as text, pandas creates its own table
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].map(
                    lambda v: v if v is None or isinstance(v, str) else _as_text(v)
                )
        rows = len(frame)
        out: dict = {"sample_table": "email_sends", "rows": rows}
        for method, chunksize in ((None, None), ("multi", 1000)):
            name = f"email_sends_tosql_{method or 'default'}"
            frame.head(0).to_sql(name, ing_engine, schema=SCRATCH, if_exists="replace", index=False)
            began = time.monotonic()
            frame.to_sql(
                name,
                ing_engine,
                schema=SCRATCH,
                if_exists="append",
                index=False,
                method=method,
                chunksize=chunksize,
            )
            seconds = time.monotonic() - began
            key = f"method_{method or 'none'}"
            out[key] = {
                "seconds": seconds,
                "rows_per_second": rows / seconds,
                "chunksize": chunksize,
                "ratio_ours_over_to_sql": ours_rows_per_second / (rows / seconds),
            }
            say(
                f"  pandas to_sql(method={method}) {rows:,} rows: {rows / seconds:,.0f} rows/s "
                f"(ours on email_sends {ours_rows_per_second / (rows / seconds):.1f}× faster)"
            )
            with psycopg.connect(ctx.url("ing"), autocommit=True) as conn:
                conn.execute(f"drop table if exists {SCRATCH}.{name}")
        return out
    finally:
        src_engine.dispose()
        ing_engine.dispose()


def bench_merge(ctx: Scale) -> dict:
    """The incremental path: after advance, merge the new/changed rows into loaded tables."""
    from ingestion.api import ingest_app_table

    ing, src = ctx.url("ing"), ctx.url("src")
    tables = {}
    with psycopg.connect(ing, autocommit=True) as conn:
        dbids = [_dbid(conn, ctx.name("ing")), _dbid(conn, ctx.name("src"))]
        for table in LARGE_TABLES:
            _stats_reset(conn, dbids)
            began = time.monotonic()
            result = ingest_app_table(table, warehouse_url=ing, source_url=src)
            seconds = time.monotonic() - began
            stats = _stats(conn, dbids)
            tables[table] = {
                "rows_read": result.rows_read,
                "rows_inserted": result.rows_inserted,
                "rows_updated": result.rows_updated,
                "rows_deleted": result.rows_deleted,
                "deletes_checked": result.deletes_checked,
                "mode": result.mode,
                "seconds": seconds,
                "rows_per_second": result.rows_read / seconds if seconds else 0.0,
                "server_copy_out_ms": _stmt_ms(stats, "copy_out"),
                "server_copy_in_ms": _stmt_ms(stats, "copy_in"),
                "server_merge_ms": _stmt_ms(stats, "merge"),
                "server_analyze_ms": _stmt_ms(stats, "analyze"),
                "server_delete_check_ms": _stmt_ms(stats, "delete_check"),
                "top_statements": stats,
            }
            say(
                f"  merge {table:<30} read {result.rows_read:>8,} (ins {result.rows_inserted:,}, "
                f"upd {result.rows_updated:,}) {seconds:6.2f}s = "
                f"{tables[table]['rows_per_second']:,.0f} rows/s"
            )
    rows = sum(t["rows_read"] for t in tables.values())
    seconds = sum(t["seconds"] for t in tables.values())
    return {
        "tables": tables,
        "total": {"rows_read": rows, "seconds": seconds, "rows_per_second": rows / seconds},
    }
