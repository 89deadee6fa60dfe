"""House style is enforced in CI: ruff on the Python, sqlfluff (dbt templater) on the SQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crownsync.settings import PROJECT_ROOT
from crownsync.warehouse.bootstrap import bootstrap_warehouse
from tests.dbt_runner import dbt_env_for

BIN = Path(sys.executable).parent


def test_ruff_check_and_format():
    paths = ["crownsync", "ingestion", "orchestration", "serving", "simulator", "bench", "tests"]
    check = subprocess.run(
        [str(BIN / "ruff"), "check", *paths], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", *paths],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.integration
def test_sqlfluff_is_clean_on_the_dbt_project(make_database):
    # the dbt templater compiles every model, and is_incremental() asks the database
    warehouse = make_database("lint")
    bootstrap_warehouse(warehouse)
    result = subprocess.run(
        [
            str(BIN / "sqlfluff"),
            "lint",
            "dbt_project/models",
            "dbt_project/snapshots",
            "dbt_project/tests",
            "--processes",
            "2",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=dbt_env_for(warehouse),
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "Skipped file" not in output, output[-5000:]
    assert "All Finished" in output
