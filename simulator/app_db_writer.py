"""The simulated app database: ownership checks, schema, state row and COPY loading."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from crownsync.settings import PROJECT_ROOT

SCHEMA_SQL = PROJECT_ROOT / "ingestion" / "app_db" / "source_schema.sql"  # the source contract
STATE_SCHEMA = "simulator"
COPY_CHUNK = 100_000


class SimulatorRefused(RuntimeError):
    """The target is not the simulator's own demo source: nothing was written."""


@dataclass(frozen=True)
class SimState:
    seed: int
    scale: float
    sim_day: int


def connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=False)
    conn.execute("set timezone = 'UTC'")
    return conn


def public_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables"
        " where table_schema = 'public' order by table_name"
    ).fetchall()
    return [r[0] for r in rows]


def read_state(conn: psycopg.Connection) -> SimState | None:
    exists = conn.execute("select to_regclass('simulator.state') is not null").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("select seed, scale, sim_day from simulator.state").fetchone()
    return SimState(int(row[0]), float(row[1]), int(row[2])) if row else None


def check_owned(conn: psycopg.Connection, url_for_message: str) -> SimState | None:
    """The simulator's state, or None for an empty database; refuse anything else."""
    name = conn.execute("select current_database()").fetchone()
    if name and name[0] in ("postgres", "template0", "template1"):
        raise SimulatorRefused(
            f"{url_for_message} is a maintenance database ({name[0]}): the simulator writes only "
            "to a database of its own (e.g. crownsync_app)."
        )
    state = read_state(conn)
    if state is None and public_tables(conn):
        raise SimulatorRefused(
            f"The database {url_for_message} has tables in schema public that the simulator did "
            "not create (no simulator.state). Refusing to write to it: point --source-url at an "
            "empty database or one the simulator made."
        )
    return state


def reset_schema(conn: psycopg.Connection) -> None:
    """Drop what the simulator made before (only called on an owned or empty database)."""
    for name in public_tables(conn):
        conn.execute(
            sql.SQL("drop table if exists {} cascade").format(sql.Identifier("public", name))
        )
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(STATE_SCHEMA)))


def create_schema(conn: psycopg.Connection, seed: int, scale: float) -> None:
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(STATE_SCHEMA)))
    conn.execute(
        "create table simulator.state ("
        " seed bigint not null, scale double precision not null, sim_day integer not null,"
        " generated_at_sim timestamptz not null, note text not null)"
    )
    conn.execute(
        "insert into simulator.state values (%s, %s, 0, '2026-10-01 00:00+00', %s)",
        (seed, scale, "created by python -m simulator"),
    )
    conn.execute("set search_path = public")
    conn.execute(SCHEMA_SQL.read_text())  # the contract's DDL, as is


@dataclass(frozen=True)
class Constraint:
    table: str
    name: str
    definition: str
    kind: str


def drop_keys(conn: psycopg.Connection) -> list[Constraint]:
    """Drop primary, unique and foreign keys of schema public before the bulk load.

    Checking foreign keys row by row and inserting into random-UUID indexes dominate a
    COPY of millions of rows; :func:`restore_keys` adds the very same constraints (names
    and definitions from ``pg_get_constraintdef``) afterwards, validating every row.
    """
    rows = conn.execute(
        "select c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype"
        " from pg_constraint c join pg_class t on t.oid = c.conrelid"
        " where t.relnamespace = 'public'::regnamespace and c.contype in ('p', 'u', 'f')"
        " order by c.contype = 'f' desc, 1, 2"
    ).fetchall()
    keys = [Constraint(*r) for r in rows]
    for key in keys:
        conn.execute(
            sql.SQL("alter table {} drop constraint {}").format(
                sql.Identifier("public", key.table), sql.Identifier(key.name)
            )
        )
    return keys


def restore_keys(conn: psycopg.Connection, keys: list[Constraint], progress: Progress) -> None:
    began = time.monotonic()
    for key in sorted(keys, key=lambda k: (k.kind == "f", k.table, k.name)):
        conn.execute(
            sql.SQL("alter table {} add constraint {} {}").format(
                sql.Identifier("public", key.table),
                sql.Identifier(key.name),
                sql.SQL(key.definition),
            )
        )
    if not progress.quiet:
        print(
            f"  {'keys and indexes restored':<30} {len(keys):>10} in {time.monotonic() - began:.1f}s",
            file=sys.stderr,
        )


def set_sim_day(conn: psycopg.Connection, day: int) -> None:
    conn.execute("update simulator.state set sim_day = %s", (day,))


class Progress:
    """Prints one line per table: rows and rows/s."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.rows: dict[str, int] = {}
        self.started = time.monotonic()

    def report(self, table: str, rows: int, seconds: float) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        if not self.quiet:
            rate = rows / seconds if seconds > 0 else float("inf")
            print(
                f"  {table:<30} {rows:>10,} rows  {rate:>10,.0f} rows/s",
                file=sys.stderr,
                flush=True,
            )


_SPECIAL = re.compile(r'[,"\n\r]')


Frame = pd.DataFrame | dict[str, np.ndarray]


def _column_text(values: np.ndarray) -> list[str]:
    """One column as CSV fields: None/NaN -> empty (NULL), booleans t/f, quoted when needed."""
    if values.dtype == bool:
        return np.where(values, "t", "f").tolist()
    if values.dtype.kind in "iu":
        return values.astype(str).tolist()
    if values.dtype.kind == "f":
        raise TypeError("float columns must be rendered to text first (stable decimals)")
    values = values.astype(object, copy=True)
    values[pd.isna(values)] = ""
    out = values.tolist()
    try:
        joined = "\x1f".join(out)
    except TypeError:  # some non-text values (integers in a nullable column)
        out = [v if isinstance(v, str) else str(v) for v in out]
        joined = "\x1f".join(out)
    if _SPECIAL.search(joined):
        # quote every value of such a column: valid CSV, and no per-value regex
        out = ['"' + v.replace('"', '""') + '"' if v else v for v in out]
    return out


def _as_columns(frame: Frame) -> dict[str, np.ndarray]:
    if isinstance(frame, pd.DataFrame):
        return {str(c): frame[c].to_numpy() for c in frame.columns}
    return frame


def csv_text(frame: Frame) -> str:
    """Rows of ``frame`` as CSV for COPY (much faster than DataFrame.to_csv)."""
    columns = [_column_text(v) for v in _as_columns(frame).values()]
    return "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"


def copy_frames(
    conn: psycopg.Connection,
    table: str,
    frames: Iterable[Frame],
    progress: Progress,
    *,
    freeze: bool = False,
) -> int:
    """COPY frames (columns in table order) into ``public.<table>`` as CSV, in chunks.

    ``freeze``: the table was created in this transaction; rows are written frozen, so the
    first full read (the warehouse's initial extraction) does not rewrite every page.
    """
    began = time.monotonic()
    total = 0
    for frame in frames:
        columns = _as_columns(frame)
        rows = len(next(iter(columns.values())))
        copy_sql = sql.SQL("copy {} ({}) from stdin (format csv{})").format(
            sql.Identifier("public", table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", freeze" if freeze else ""),
        )
        with conn.cursor() as cur, cur.copy(copy_sql, writer=QueuedLibpqWriter(cur)) as copy:
            for start in range(0, rows, COPY_CHUNK):
                chunk = {c: v[start : start + COPY_CHUNK] for c, v in columns.items()}
                copy.write(csv_text(chunk))
        total += rows
    progress.report(table, total, time.monotonic() - began)
    return total
