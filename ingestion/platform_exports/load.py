"""Load export files from ``LANDING_DIR/<export>/`` into ``raw.<export>``, exactly once.

Per file, in landing order (modification time, then name), one warehouse transaction:

- a file already in the ledger ``raw._files`` (same export, name and sha256) is skipped;
- the same bytes seen before under another name: recorded as ``duplicate``, nothing loaded;
- an unusable file (0 bytes, not UTF-8, CSV header missing a required column, ``.json`` that
  is not one JSON array, unsupported type): recorded as ``rejected`` with the reason;
- otherwise every record is validated by the feed's pydantic model: good rows are COPYed
  into ``raw.<export>``, bad rows go to ``raw._rejected_rows`` (line, column, raw text,
  reason), the ledger row records both counts, and ``_is_current`` is recomputed for the
  keys the file touched.

The landing folder is only read: nothing there is written, moved or deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from pydantic import ValidationError

from crownsync.warehouse.connections import connect_warehouse
from ingestion import ledger
from ingestion.failpoints import failpoint
from ingestion.ledger import qualified
from ingestion.platform_exports.feeds import FEEDS, Feed
from ingestion.platform_exports.readers import FileRejected, Record, read_records

log = logging.getLogger("ingestion")

SUPPORTED_SUFFIXES = {".csv", ".jsonl", ".json"}


@dataclass(frozen=True)
class LandedFile:
    export: str
    path: Path
    size: int
    modified_at: datetime

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class FileLoadResult:
    export: str
    file_name: str
    status: str  # loaded | duplicate | rejected | skipped
    file_id: int | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    reason: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"{self.export}/{self.file_name}: {self.status}"
        if self.status == "loaded":
            text += f", {self.rows_loaded:,} rows loaded, {self.rows_rejected:,} rejected"
        if self.reason:
            text += f" ({self.reason})"
        return f"{text} [{self.seconds:.2f}s]"


def discover(landing_dir: Path, export: str) -> list[LandedFile]:
    """The export's files in landing order: modification time, then name."""
    folder = landing_dir / export
    if not folder.is_dir():
        return []
    files = []
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        stat = path.stat()
        files.append(
            LandedFile(
                export=export,
                path=path,
                size=stat.st_size,
                modified_at=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC),
            )
        )
    files.sort(key=lambda f: (f.modified_at, f.name))
    return files


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_feed_table(conn: psycopg.Connection, feed: Feed) -> None:
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(dtype))
        for name, dtype in feed.columns.items()
    ]
    conn.execute(
        sql.SQL(
            """
            create table if not exists {table} (
                _row_id bigserial primary key,
                {columns},
                _key text not null,
                _file_id bigint not null references raw._files (file_id),
                _line_number integer not null,
                _is_current boolean not null default false,
                _extra jsonb,
                _load_id bigint not null,
                _loaded_at timestamptz not null default now(),
                _source text not null
            )
            """
        ).format(table=qualified(feed.name), columns=sql.SQL(", ").join(columns))
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (_key)").format(
            sql.Identifier(f"{feed.name}__key"), qualified(feed.name)
        )
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (_file_id)").format(
            sql.Identifier(f"{feed.name}__file"), qualified(feed.name)
        )
    )


def _key_text(value: object) -> str:
    return "" if value is None else str(value)


def _describe(error: ValidationError, fields: dict) -> tuple[str | None, str]:
    """The first offending column and a readable reason for all of the row's problems."""
    column, reasons = None, []
    for item in error.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or None
        column = column or loc
        if item["type"] == "missing":
            reasons.append(f"{loc}: missing required value")
        elif item["type"] == "literal_error":
            reasons.append(
                f"{loc}: unknown value {fields.get(loc)!r} "
                f"({item['msg'].removeprefix('Input should be ')})"
            )
        else:
            msg = item["msg"].removeprefix("Value error, ")
            reasons.append(
                f"{loc}: {msg}" + ("" if "got" in msg else f" (got {fields.get(loc)!r})")
            )
    return column, "; ".join(reasons)


def _clean(fields: dict[str, object]) -> dict[str, object]:
    """Empty values are absent values: a required field then reads as missing."""
    cleaned = {}
    for name, value in fields.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        cleaned[str(name).strip()] = value
    return cleaned


def _validate(
    feed: Feed, records: Iterable[Record]
) -> Iterable[tuple[Record, object | None, str | None, str | None]]:
    for record in records:
        if record.fields is None:
            yield record, None, None, record.error
            continue
        fields = _clean(record.fields)
        try:
            row = feed.model.model_validate(fields)
        except ValidationError as err:
            column, reason = _describe(err, fields)
            yield record, None, column, reason
            continue
        yield record, row, None, None


def load_file(
    conn: psycopg.Connection, feed: Feed, landed: LandedFile, digest: str, load_id: int
) -> FileLoadResult:
    """Load one file inside the caller's transaction (see module docstring)."""
    result = FileLoadResult(export=feed.name, file_name=landed.name, status="loaded")
    seen = ledger.find_file(conn, feed.name, landed.name, digest)
    if seen:
        result.file_id, result.status = seen[0], "skipped"
        result.reason = f"already recorded as {seen[1]}"
        return result

    def record(status: str, reason: str | None, duplicate_of: int | None = None) -> int:
        return _record_landed(conn, feed, landed, digest, load_id, status, reason, duplicate_of)

    if landed.size > 0:
        original = ledger.find_original(conn, feed.name, digest)
        if original:
            result.status = "duplicate"
            result.reason = f"same bytes as {original[1]} (file_id {original[0]})"
            result.file_id = record("duplicate", result.reason, original[0])
            return result

    file_id = record("loaded", None)
    result.file_id = file_id
    failpoint("export.file_recorded")
    rejected: list[tuple] = []
    columns = list(feed.columns)
    try:
        records = read_records(landed.path, feed.required_header)
        with conn.cursor().copy(
            sql.SQL(
                "copy {} ({}, _key, _file_id, _line_number, _extra, _load_id, _source) from stdin"
            ).format(qualified(feed.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
        ) as copy:
            source = f"export:{landed.name}"
            for rec, row, column, reason in _validate(feed, records):
                if row is None:
                    rejected.append((rec.line, column, rec.raw, reason))
                    continue
                values = [getattr(row, name) for name in columns]
                key = "|".join(_key_text(getattr(row, k)) for k in feed.key)
                extra = row.model_extra or None
                copy.write_row(
                    [
                        *values,
                        key,
                        file_id,
                        rec.line,
                        json.dumps(extra, default=str) if extra else None,
                        load_id,
                        source,
                    ]
                )
                result.rows_loaded += 1
                failpoint("export.row")
    except FileRejected as err:
        # Throw away what this file wrote so far: back to the savepoint, then record why.
        raise _Rejected(err.reason) from None

    failpoint("export.copied")
    result.rows_rejected = ledger.record_file_rows(
        conn,
        file_id=file_id,
        export=feed.name,
        file_name=landed.name,
        rows_loaded=result.rows_loaded,
        rejected=rejected,
        load_id=load_id,
    )
    failpoint("export.rejects_written")
    _analyze_if_stale(conn, feed, result.rows_loaded)
    _refresh_current(conn, feed, file_id)
    failpoint("export.current_refreshed")
    return result


def _record_landed(
    conn: psycopg.Connection,
    feed: Feed,
    landed: LandedFile,
    digest: str,
    load_id: int,
    status: str,
    reason: str | None,
    duplicate_of: int | None = None,
) -> int:
    return ledger.record_file(
        conn,
        export=feed.name,
        file_name=landed.name,
        size=landed.size,
        sha256=digest,
        modified_at=landed.modified_at,
        status=status,
        load_id=load_id,
        reason=reason,
        duplicate_of=duplicate_of,
    )


class _Rejected(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _analyze_if_stale(conn: psycopg.Connection, feed: Feed, rows_added: int) -> None:
    """Refresh the planner's statistics when this file outgrew what they say.

    Root cause of a hang seen after a loader was killed mid-file: autovacuum cleaned the
    rolled-back rows and left ``raw.<export>`` at ``reltuples = 0`` with its pages still
    allocated. The next load put 150 k rows into it inside one transaction, the planner
    read "0 rows per page", chose a nested loop for :func:`_refresh_current`'s self-join,
    and the statement ran for hours (150 k x 150 k). ANALYZE inside the transaction counts
    the transaction's own rows, so the plan fits the data again.
    """
    estimate = conn.execute(
        "select greatest(reltuples, 0) from pg_class where oid = to_regclass(%s)",
        (f"raw.{feed.name}",),
    ).fetchone()[0]
    if rows_added >= 1000 and rows_added > 0.2 * estimate:
        conn.execute(sql.SQL("analyze {}").format(qualified(feed.name)))


def _refresh_current(conn: psycopg.Connection, feed: Feed, file_id: int) -> None:
    """Per key touched by the file: the row of the latest landed file, its last line, wins."""
    conn.execute(
        sql.SQL(
            """
            with ranked as (
                select x._row_id,
                       row_number() over (
                           partition by x._key
                           order by f.modified_at desc, f.file_name collate "C" desc,
                                    f.file_id desc, x._line_number desc
                       ) = 1 as is_current
                  from {table} x
                  join raw._files f on f.file_id = x._file_id
                 where x._key in (select _key from {table} where _file_id = %s)
            )
            update {table} x
               set _is_current = ranked.is_current
              from ranked
             where x._row_id = ranked._row_id
               and x._is_current is distinct from ranked.is_current
            """
        ).format(table=qualified(feed.name)),
        (file_id,),
    )


def load_export(export: str, *, landing_dir: Path, warehouse_url: str) -> list[FileLoadResult]:
    """Load every new file of one export. Each file commits (or rolls back) on its own."""
    feed = FEEDS[export]
    files = discover(landing_dir, export)
    if not files:
        log.info("exports.%s: no files in %s", export, landing_dir / export)
    results = []
    with (
        connect_warehouse(warehouse_url, autocommit=True) as recorder,
        connect_warehouse(warehouse_url) as conn,
    ):
        with conn.transaction():
            ledger.lock_target(conn, f"export:{export}", wait_message=f"raw.{export}")
            ensure_feed_table(conn, feed)
        for landed in files:
            if landed.path.suffix.lower() not in SUPPORTED_SUFFIXES:
                log.warning(
                    "exports.%s: ignoring %s (not .csv, .jsonl or .json)", export, landed.name
                )
                continue
            # files never change after they land: a file seen before is not even re-hashed
            if ledger.recorded_file_status(
                recorder, export, landed.name, landed.size, landed.modified_at
            ):
                continue
            result = _load_landed_file(recorder, conn, feed, landed)
            if result.status != "skipped":
                rejected_any = result.status == "rejected" or result.rows_rejected
                log.log(
                    logging.WARNING if rejected_any else logging.INFO,
                    "exports.%s",
                    result.summary(),
                )
            results.append(result)
    return results


def _load_landed_file(
    recorder: psycopg.Connection, conn: psycopg.Connection, feed: Feed, landed: LandedFile
) -> FileLoadResult:
    """One file, one transaction: its rows, its ledger row and its load record commit together."""
    began = time.monotonic()
    target = f"export:{feed.name}"
    digest = sha256_of(landed.path)
    with ledger.recorded_load(recorder, f"{target}/{landed.name}", "export") as load_id:
        failpoint("export.started")
        with conn.transaction():
            ledger.lock_target(conn, target, wait_message=f"raw.{feed.name}")
            ledger.abandon_stale_loads(conn, f"{target}/{landed.name}", load_id)
            failpoint("export.locked")
            try:
                with conn.transaction():  # savepoint: a rejected file leaves no rows
                    result = load_file(conn, feed, landed, digest, load_id)
            except _Rejected as rejected:
                result = FileLoadResult(
                    export=feed.name,
                    file_name=landed.name,
                    status="rejected",
                    reason=rejected.reason,
                )
                result.file_id = _record_landed(
                    conn, feed, landed, digest, load_id, "rejected", rejected.reason
                )
            ledger.succeed_load(
                conn,
                load_id,
                rows_read=result.rows_loaded + result.rows_rejected,
                rows_inserted=result.rows_loaded,
                rows_rejected=result.rows_rejected,
                error=result.reason if result.status == "rejected" else None,
            )
            failpoint("export.before_commit")
        failpoint("export.after_commit")
    result.seconds = time.monotonic() - began
    return result
