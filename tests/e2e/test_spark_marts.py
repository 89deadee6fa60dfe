"""The Spark target builds the three public marts equal to the Postgres ones.

The hand-built world's Postgres pipeline (``handbuilt_pipeline``, shared with
test_marts_handbuilt.py: two ingestions, ``dbt build``) is the reference. On the same raw
tables, read over JDBC, ``dbt run --target spark`` builds the public marts' ancestors on a
local Spark (dbt-spark session, its own warehouse folder). Then every row and every column of
``campaign_performance``, ``retailer_ranking`` and ``regional_wish_list`` on Spark equals the
Postgres mart, matched on the grain keys: counts, text, dates and flags exactly, money and rates
(numeric) within 0.01. Spark's tables are read from their parquet files (pyarrow): no second JVM.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from crownsync.errors import UserError
from crownsync.settings import PROJECT_ROOT
from crownsync.spark import BUILD_SELECT, PUBLIC_MARTS, jdbc_jar, spark_env
from tests.dbt_runner import dbt_env_for
from tests.e2e.conftest import HandbuiltPipeline
from tests.system_packages import INSTALL_SECONDS

# The Spark build (JVM start, Hive metastore, 30 models) has a budget of 4 minutes on 2 shared
# cores; the limit adds the shared Postgres pipeline (timed with whichever test runs first,
# 111 s at load 8) and a possible apt-get install of the JDBC driver.
SPARK_BUILD_TIMEOUT_S = 600
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(SPARK_BUILD_TIMEOUT_S + 500 + INSTALL_SECONDS),
]

GRAIN = {
    "campaign_performance": ("campaign_id",),
    "retailer_ranking": ("retailer_id", "metric_period", "metric_date"),
    "regional_wish_list": ("region", "model_id"),
}
TOLERANCE = Decimal("0.01")


def _jdbc_jar_or_skip() -> Path:
    try:
        return jdbc_jar()
    except UserError as err:
        pytest.skip(f"no PostgreSQL JDBC driver for Spark: {err}")


@pytest.fixture(scope="module")
def spark_build(
    handbuilt_pipeline: HandbuiltPipeline, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess, float]:
    pytest.importorskip("pyspark", reason="the spark extra: uv sync --locked --extra spark")
    jar = _jdbc_jar_or_skip()
    work = tmp_path_factory.mktemp("spark")
    spark_dir = work / "spark"
    env = {
        **dbt_env_for(handbuilt_pipeline.warehouse_url),
        **spark_env(spark_dir, jar),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        str(Path(sys.executable).parent / "dbt"),
        "run",
        "--select",
        *BUILD_SELECT,
        "--project-dir",
        str(PROJECT_ROOT / "dbt_project"),
        "--target-path",
        str(work / "target"),
    ]
    started = time.monotonic()
    result = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=SPARK_BUILD_TIMEOUT_S,
    )
    return spark_dir, result, time.monotonic() - started


def _postgres_rows(warehouse_url: str, mart: str) -> list[dict]:
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        return conn.execute(
            sql.SQL("select * from {}.{}").format(sql.Identifier("marts"), sql.Identifier(mart))
        ).fetchall()


def _spark_rows(spark_dir: Path, mart: str) -> list[dict]:
    """The Spark table's rows, from its parquet files in the Spark warehouse folder."""
    import pyarrow.parquet as pq

    folder = spark_dir / "warehouse" / "marts.db" / mart
    files = sorted(folder.glob("part-*"))
    assert files, f"Spark wrote no marts.{mart} ({folder})"
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def _key(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.date()
    return value


def _differs(pg: Any, spark: Any) -> bool:
    if pg is None or spark is None:
        return (pg is None) != (spark is None)
    if isinstance(pg, bool) or isinstance(spark, bool):
        return pg != spark
    if isinstance(pg, int) and isinstance(spark, int):
        return pg != spark  # counts and ranks: exact
    if isinstance(pg, int | float | Decimal) and isinstance(spark, int | float | Decimal):
        return abs(Decimal(str(pg)) - Decimal(str(spark))) > TOLERANCE  # money and rates
    if isinstance(pg, UUID):
        return str(pg) != spark
    if isinstance(pg, date) and not isinstance(pg, datetime):
        return pg != (spark.date() if isinstance(spark, datetime) else spark)
    return pg != spark


def _compare(mart: str, pg_rows: list[dict], spark_rows: list[dict]) -> list[str]:
    grain = GRAIN[mart]
    problems: list[str] = []
    pg = {tuple(_key(row[k]) for k in grain): row for row in pg_rows}
    spark: dict[tuple, dict] = {}
    for row in spark_rows:
        key = tuple(_key(row[k]) for k in grain)
        if key in spark:
            problems.append(f"{mart}: duplicate Spark row for {key}")
        spark[key] = row
    problems += [f"{mart}: MISSING on Spark {k}" for k in sorted(set(pg) - set(spark), key=str)]
    problems += [f"{mart}: EXTRA on Spark {k}" for k in sorted(set(spark) - set(pg), key=str)]
    columns = list(pg_rows[0]) if pg_rows else []
    if spark_rows:
        problems += [
            f"{mart}: column {c} missing on Spark" for c in columns if c not in spark_rows[0]
        ]
    for key in sorted(set(pg) & set(spark), key=str):
        for column in columns:
            if column in spark[key] and _differs(pg[key][column], spark[key][column]):
                problems.append(
                    f"{mart}[{key}].{column}: postgres={pg[key][column]!r} "
                    f"spark={spark[key][column]!r}"
                )
    return problems


def test_spark_build_succeeds(spark_build) -> None:
    _, result, seconds = spark_build
    assert result.returncode == 0, (
        f"dbt run --target spark failed after {seconds:.0f} s:\n"
        f"{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
    )
    print(f"Spark build of the public marts' ancestors: {seconds:.1f} s")


@pytest.mark.parametrize("mart", PUBLIC_MARTS)
def test_spark_mart_equals_postgres(
    mart: str, spark_build, handbuilt_pipeline: HandbuiltPipeline
) -> None:
    spark_dir, result, _ = spark_build
    if result.returncode != 0:
        pytest.fail(f"the Spark build failed:\n{result.stdout[-3000:]}")
    pg_rows = _postgres_rows(handbuilt_pipeline.warehouse_url, mart)
    spark_rows = _spark_rows(spark_dir, mart)
    assert pg_rows, f"marts.{mart} is empty on Postgres: nothing would be compared"
    assert len(spark_rows) == len(pg_rows)
    problems = _compare(mart, pg_rows, spark_rows)
    assert not problems, "\n".join(problems[:60])
