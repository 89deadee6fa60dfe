"""Every subprocess of the bench is bounded: psql and the pipeline child stop at their limit.

Also: psql gets the password through ``PGPASSWORD`` in its environment, never in its argv.
"""

from __future__ import annotations

import time

import pytest

from bench.ingestion import _psql_parallel, _psql_target, _run_psql, psql_binary
from bench.pipeline import run_pipeline
from bench.world import BenchTimeout, Scale, pipeline_timeout, psql_timeout

pytestmark = pytest.mark.integration


def test_limits_grow_with_the_scale_and_are_generous():
    assert psql_timeout(0.1) >= 600 and pipeline_timeout(0.1) >= 1800
    assert psql_timeout(10) > psql_timeout(1) > psql_timeout(0.1)
    assert pipeline_timeout(10) >= 3 * 3600  # scale 10 may take about an hour
    assert pipeline_timeout(1) >= 10 * 180  # the full run at scale 1 is ~3 min


def test_psql_password_goes_in_the_environment_only():
    target, env = _psql_target("postgresql://bench:s3cr%40t@127.0.0.1:5433/db")
    assert "s3cr" not in target and env["PGPASSWORD"] == "s3cr@t"


def test_psql_past_its_limit_is_stopped_with_a_clear_message(pg_server_url):
    began = time.monotonic()
    with pytest.raises(BenchTimeout, match=r"psql ran longer than its limit of 1 s"):
        _run_psql(psql_binary(), pg_server_url, "select pg_sleep(20)", timeout=1)
    assert time.monotonic() - began < 15


def test_parallel_psql_past_its_limit_is_stopped(pg_server_url):
    began = time.monotonic()
    with pytest.raises(BenchTimeout, match=r"limit of 1 s"):
        _psql_parallel(psql_binary(), pg_server_url, ["select pg_sleep(20)"] * 2, {}, timeout=1)
    assert time.monotonic() - began < 15


def test_psql_failure_says_what_failed(pg_server_url):
    with pytest.raises(RuntimeError, match=r"psql failed .*no_such_table"):
        _run_psql(psql_binary(), pg_server_url, "select * from no_such_table", timeout=60)


def test_pipeline_child_past_its_limit_is_stopped(pg_server_url, tmp_path):
    ctx = Scale(scale=0.1, tag="s0_1", server_url=pg_server_url, prefix="benchto", work=tmp_path)
    began = time.monotonic()
    with pytest.raises(BenchTimeout) as info:
        run_pipeline(ctx, "full_refresh", timeout=1)
    assert time.monotonic() - began < 30
    message = str(info.value)
    assert "pipeline job 'full_refresh' at scale 0.1 ran longer than its limit of 1 s" in message
    assert str(tmp_path / "run_full_refresh.log") in message
