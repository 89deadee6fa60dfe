"""The Spark target: dbt-spark in session mode, reading ``raw`` from the warehouse over JDBC.

``python -m crownsync.spark jdbc-jar`` locates the PostgreSQL JDBC driver (Debian's
``libpostgresql-jdbc-java``), installing it with apt-get when it is missing and this is root.
``python -m crownsync.spark build`` runs ``dbt run --target spark`` on the ancestors of the
three public marts, into a local Spark warehouse folder (``.warehouse/spark``). Everything
else about the target is in ``profiles.yml`` (target ``spark``) and docs/spark.md.

The Spark session lives in the dbt process (one JVM per dbt invocation). It reads the same
raw tables as the Postgres build, through global temporary views made by the on-run-start
hook ``register_raw_sources`` (dbt_project/macros/spark_sources.sql); the JDBC password reaches
the JVM as the environment variable ``DBT_PG_PASSWORD``, never in a SQL text or a log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from crownsync.dbt import dbt_environment
from crownsync.errors import UserError, cli
from crownsync.settings import PROJECT_ROOT

JDBC_PACKAGE = "libpostgresql-jdbc-java"
DEBIAN_JDBC_JAR = Path("/usr/share/java/postgresql.jar")
APT_TIMEOUT_S = 900
DEFAULT_SPARK_DIR = PROJECT_ROOT / ".warehouse" / "spark"
PUBLIC_MARTS = ("campaign_performance", "retailer_ranking", "regional_wish_list")
# `dbt run`, not `build`: tests and unit tests stay on the Postgres build, which owns them
BUILD_SELECT = [f"+{mart}" for mart in PUBLIC_MARTS]
BUILD_TIMEOUT_S = 1800


def jdbc_jar(install: bool = True) -> Path:
    """Path of the PostgreSQL JDBC driver jar; apt-get installs it when missing (root only).

    ``SPARK_JDBC_JAR`` names another jar. Raises :class:`UserError` saying what to do when
    there is none and it cannot be installed here.
    """
    named = os.environ.get("SPARK_JDBC_JAR")
    if named:
        if not Path(named).is_file():
            raise UserError(
                f"SPARK_JDBC_JAR={named} is not a file",
                hint="point it at a PostgreSQL JDBC driver jar, or unset it to use Debian's",
            )
        return Path(named)
    if DEBIAN_JDBC_JAR.is_file():
        return DEBIAN_JDBC_JAR
    hint = f"apt-get install {JDBC_PACKAGE} (as root), or set SPARK_JDBC_JAR to a driver jar"
    if not install:
        raise UserError(f"the PostgreSQL JDBC driver {DEBIAN_JDBC_JAR} is missing", hint=hint)
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise UserError(
            f"the PostgreSQL JDBC driver {DEBIAN_JDBC_JAR} is missing and cannot be "
            "installed here (needs root and apt-get)",
            hint=hint,
        )
    print(f"PostgreSQL JDBC driver missing: installing Debian's {JDBC_PACKAGE} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", JDBC_PACKAGE]):
        try:
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise UserError(
                f"{' '.join(command)} did not finish within {APT_TIMEOUT_S} s", hint=hint
            ) from None
        if result.returncode != 0:
            raise UserError(
                f"{' '.join(command)} failed ({result.returncode}): {result.stderr[-500:]}",
                hint=hint,
            )
    if not DEBIAN_JDBC_JAR.is_file():
        raise UserError(
            f"{JDBC_PACKAGE} is installed but {DEBIAN_JDBC_JAR} is not there", hint=hint
        )
    return DEBIAN_JDBC_JAR


def spark_env(spark_dir: Path | None = None, jar: Path | None = None) -> dict[str, str]:
    """What profiles.yml's ``spark`` target reads, besides the warehouse's ``DBT_PG_*``."""
    spark_dir = Path(spark_dir or os.environ.get("DBT_SPARK_DIR") or DEFAULT_SPARK_DIR).resolve()
    spark_dir.mkdir(parents=True, exist_ok=True)
    return {
        "DBT_TARGET": "spark",
        "DBT_SPARK_DIR": str(spark_dir),
        "DBT_SPARK_JDBC_JAR": str(jar or jdbc_jar()),
    }


def dbt_spark_command(args: list[str], project_dir: Path | None = None) -> list[str]:
    dbt = Path(sys.executable).parent / "dbt"
    project = project_dir or PROJECT_ROOT / "dbt_project"
    return [str(dbt), *args, "--project-dir", str(project)]


def build(spark_dir: Path | None = None) -> int:
    """``dbt run --target spark --select +<each public mart>``; returns dbt's exit code."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError(
            "pyspark is not installed", hint="uv sync --locked --extra spark (make build-spark)"
        ) from None
    env = {**dbt_environment(), **spark_env(spark_dir)}
    command = dbt_spark_command(["run", "--select", *BUILD_SELECT])
    print(f"Spark warehouse: {env['DBT_SPARK_DIR']}  JDBC driver: {env['DBT_SPARK_JDBC_JAR']}")
    try:
        return subprocess.run(
            command, env=env, cwd=PROJECT_ROOT, timeout=BUILD_TIMEOUT_S
        ).returncode
    except subprocess.TimeoutExpired:
        raise UserError(f"the Spark build did not finish within {BUILD_TIMEOUT_S} s") from None


@cli
def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["jdbc-jar"]:
        print(f"PostgreSQL JDBC driver: {jdbc_jar()}")
        return 0
    if args == ["build"]:
        return build()
    print("usage: python -m crownsync.spark {jdbc-jar|build}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
