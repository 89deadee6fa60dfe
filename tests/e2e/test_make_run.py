"""`make run`'s entry point, as a user runs it: short output with the phases, the whole
stream in a log file, and a second run on unchanged sources that builds nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from crownsync.settings import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")
MAX_LINES = 60


def _make_run(world, tmp_path: Path, name: str) -> tuple[subprocess.CompletedProcess, dict]:
    summary = tmp_path / f"{name}.json"
    result = subprocess.run(
        [PYTHON, "-m", "orchestration.run", "--json", str(summary)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **world.env()},
        capture_output=True,
        text=True,
        timeout=800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result, json.loads(summary.read_text(encoding="utf-8"))


def test_a_run_prints_phases_logs_everything_and_a_second_run_builds_nothing(world, tmp_path):
    first, figures = _make_run(world, tmp_path, "first")
    lines = first.stdout.splitlines() + first.stderr.splitlines()
    assert len(lines) <= MAX_LINES, "\n".join(lines)
    assert "Traceback" not in first.stdout + first.stderr
    for phase in ("database ", "sources ", "ingest ", "plan ", "transform "):
        assert any(line.startswith(phase) for line in lines), (phase, lines)
    assert not any(" of " in line and " START " in line for line in lines)  # dbt lines: log only
    log = Path(figures["log_file"])
    assert f"full log       {log}" in first.stdout
    text = log.read_text(encoding="utf-8")
    assert " of " in text and "START" in text  # dbt's node lines
    assert "STEP_START" in text and "RUN_SUCCESS" in text  # every Dagster event
    assert text.count('Started execution of step "crownsync_dbt_assets"') == 1  # once each
    assert figures["success"] and figures["materialized"] > 50

    second, figures = _make_run(world, tmp_path, "second")
    assert "plan         nothing to build" in second.stdout
    assert "materialized   0 assets" in second.stdout
    assert figures["materialized"] == 0 and figures["checks_passed"] == 0
    assert len(figures["run_ids"]) == 1  # the ingest run only: no transform, no dbt process
    assert "crownsync_dbt_assets" not in Path(figures["log_file"]).read_text(encoding="utf-8")
