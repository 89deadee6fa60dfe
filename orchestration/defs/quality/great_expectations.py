"""Run a Great Expectations 1.x suite against a SQL query in the warehouse.

GE is imported inside :func:`validate` (it costs seconds to import), in an ephemeral
context: suites live in code here, results go to the asset check's metadata (and so into
Dagster's event storage, where the UI shows them).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from crownsync.settings import sqlalchemy_url


@dataclass(frozen=True)
class Expectation:
    """One GE expectation by its class name in ``great_expectations.expectations``."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class SuiteResult:
    success: bool
    evaluated: int
    failed: list[str]
    details: list[dict[str, Any]]

    def metadata(self) -> dict[str, Any]:
        import dagster as dg

        return {
            "expectations_evaluated": self.evaluated,
            "expectations_failed": len(self.failed),
            "failed": ", ".join(self.failed) or "none",
            "results": dg.MetadataValue.json(self.details),
        }


def _sqlalchemy_url(url: str) -> str:
    return sqlalchemy_url(url, "psycopg2")


QUALITY_SCHEMA = "quality"


def _publish_view(warehouse_url: str, name: str, query: str) -> None:
    """The suite's query as a view ``quality.<name>``.

    GE 1.x fetches every row of a *query* asset into Python (memory grows with the table:
    ~0.9 GB for 3 M email sends); on a *table* asset — a view is one — it computes each
    metric in the database. So each suite validates a view of its query.
    """
    from psycopg import sql

    from crownsync.warehouse.connections import connect_warehouse

    view = sql.Identifier(QUALITY_SCHEMA, name)
    with connect_warehouse(warehouse_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            sql.SQL("create schema if not exists {}").format(sql.Identifier(QUALITY_SCHEMA))
        )
        conn.execute(sql.SQL("drop view if exists {}").format(view))
        conn.execute(sql.SQL("create view {} as {}").format(view, sql.SQL(query)))


def validate(
    warehouse_url: str, name: str, query: str, expectations: list[Expectation]
) -> SuiteResult:
    _publish_view(warehouse_url, name, query)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    for noisy in ("great_expectations", "great_expectations.core"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # in memory, no analytics (this machine has no network), no temporary docs site
    config = DataContextConfig(
        analytics_enabled=False,
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_postgres(
        name=f"warehouse_{uuid.uuid4().hex[:8]}", connection_string=_sqlalchemy_url(warehouse_url)
    )
    asset = source.add_table_asset(name=name, table_name=name, schema_name=QUALITY_SCHEMA)
    batch = asset.add_batch_definition_whole_table("all")
    suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
    for expectation in expectations:
        suite.add_expectation(getattr(gxe, expectation.kind)(**expectation.kwargs))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    )
    outcome = definition.run(result_format="SUMMARY")
    details, failed = [], []
    for result in outcome.results:
        config = result.expectation_config
        label = f"{config.type}({config.kwargs.get('column', '')})".replace("()", "")
        if not result.success:
            failed.append(label)
        details.append(
            {
                "expectation": label,
                "success": bool(result.success),
                "observed": _plain(result.result.get("observed_value")),
                "unexpected_count": result.result.get("unexpected_count"),
                "unexpected_sample": _plain(result.result.get("partial_unexpected_list", [])[:5]),
            }
        )
    return SuiteResult(bool(outcome.success), len(outcome.results), failed, details)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
