"""`make ui` for real: webserver + daemon, the GraphQL API, a run launched through it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT
from tests.processes import free_port, started, wait_until

UI_START_SECONDS = 240
RUN_SECONDS = 300

# pytest-timeout times fixture setup with the test: the module's fixtures (a world, then the
# webserver and daemon started and answering: 87–106 s measured at load 8–9 on 2 cores) count
# against whichever test runs first, and the run through GraphQL took 68–115 s. Every test here
# gets room for both (≈ 4.5×), whichever is selected first.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def ui(world, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    with started(
        [sys.executable, "-m", "orchestration.ui", "--port", str(port)],
        log_path=log,
        cwd=PROJECT_ROOT,
        env={**os.environ, **world.env(), "PYTHONPATH": str(PROJECT_ROOT)},
        stop_signal=signal.SIGINT,  # what Ctrl-C sends; it stops the webserver and the daemon
        grace=60,
    ) as proc:

        def answers():
            proc.assert_running()
            return _graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]

        wait_until(
            answers,
            timeout=UI_START_SECONDS,
            interval=2,
            what="the Dagster webserver to list the assets",
            details=proc.log_tail,
            ignore=(OSError, ValueError, KeyError, AssertionError),
        )
        yield port, proc


def test_graphql_lists_every_asset(ui):
    from orchestration.definitions import defs

    port, _ = ui
    data = _graphql(port, "{ assetNodes { assetKey { path } } }")
    listed = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    expected = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert listed == expected
    assert {
        "raw/email_sends",
        "staging/stg_app_db__email_sends",
        "marts/campaign_performance",
    } <= listed


LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""


def test_a_run_launched_through_graphql_succeeds(ui, world):
    port, proc = ui
    workspace = _graphql(
        port,
        "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }",
    )
    location = workspace["workspaceOrError"]["locationEntries"][0]["name"]
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "ingest",
            "assetSelection": [{"path": ["raw", "retailers"]}, {"path": ["raw", "brands"]}],
        },
        "runConfigData": {},
    }
    launched = _graphql(port, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def finished():
        status = _graphql(
            port,
            "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
            {"id": run_id},
        )["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    status = wait_until(
        finished,
        timeout=RUN_SECONDS,
        interval=2,
        what=f"run {run_id} to finish",
        details=proc.log_tail,
    )
    assert status == "SUCCESS", proc.log_tail()
    with psycopg.connect(world.warehouse_url) as conn, psycopg.connect(world.source_url) as src:
        for table in ("retailers", "brands"):
            expected = src.execute(f"select count(*) from public.{table}").fetchone()[0]  # noqa: S608
            assert conn.execute(f"select count(*) from raw.{table}").fetchone()[0] == expected  # noqa: S608
    # the run is recorded in Dagster's Postgres storage
    with psycopg.connect(world.dagster_url) as conn:
        assert (
            conn.execute("select status from runs where run_id = %s", (run_id,)).fetchone()[0]
            == "SUCCESS"
        )


def test_ctrl_c_stops_both_processes(ui):
    import re

    port, proc = ui
    started = re.search(r"webserver pid (\d+), daemon pid (\d+)", proc.log_path.read_text())
    assert started, proc.log_path.read_text()[:2000]
    pids = [int(started.group(1)), int(started.group(2))]
    for pid in pids:
        os.kill(pid, 0)  # both alive
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    left = subprocess.run(
        ["pgrep", "-f", "--", f"-p {port} "], capture_output=True, text=True, timeout=30
    )
    assert left.stdout.strip() == ""
