"""Tell transient database errors (retry) from permanent ones (fail, say why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dagster as dg
import psycopg
from psycopg import errors as pg_errors

from crownsync.errors import ConnectionFailed, UserError
from ingestion.app_db.extract import SchemaContractError

T = TypeVar("T")

TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown
    "57P03",  # cannot_connect_now (server starting up)
    "08000",
    "08001",
    "08003",
    "08004",
    "08006",  # connection exceptions
}

MAX_RETRIES = 3


def is_transient(err: BaseException) -> bool:
    if isinstance(err, ConnectionFailed):
        return err.transient
    if isinstance(err, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return True
    if isinstance(err, psycopg.OperationalError):
        sqlstate = getattr(err, "sqlstate", None)
        if sqlstate is None:
            # libpq could not connect at all: refused, reset, timed out, server restarting
            text = str(err).lower()
            return any(
                hint in text
                for hint in (
                    "connection refused",
                    "could not connect",
                    "server closed",
                    "timeout",
                    "the database system is starting up",
                    "connection failed",
                )
            )
        return sqlstate in TRANSIENT_SQLSTATES
    return False


def run_with_retry_policy(
    context: dg.OpExecutionContext | dg.AssetExecutionContext, work: Callable[[], T]
) -> T:
    """Run ``work``; transient DB errors ask Dagster for a retry, permanent ones fail clearly."""
    try:
        return work()
    except SchemaContractError as err:
        raise dg.Failure(description=str(err), allow_retries=False) from err
    except Exception as err:
        if is_transient(err):
            context.log.warning(f"transient database error, retrying: {err}")
            raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=2) from err
        if isinstance(err, UserError):  # bad configuration: say it, do not retry
            raise dg.Failure(description=str(err), allow_retries=False) from err
        if isinstance(err, psycopg.Error):
            raise dg.Failure(
                description=f"permanent database error (not retried): {type(err).__name__}: {err}",
                allow_retries=False,
            ) from err
        raise
