"""`make ui` for real: webserver + daemon, the GraphQL API, a run launched through it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    port = _free_port()
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.ui", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **world.env(), "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=open(log, "w"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.log_path = log
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-5000:]
        try:
            data = _graphql(port, "{ assetNodes { assetKey { path } } }")
            if data["assetNodes"]:
                break
        except (OSError, AssertionError):
            pass
        time.sleep(2)
    else:
        proc.kill()
        pytest.fail("the Dagster webserver did not answer within 240 s")
    yield port, proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)


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
    port, _ = ui
    workspace = _graphql(
        port,
        "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }",
    )
    location = workspace["workspaceOrError"]["locationEntries"][0]["name"]
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "incremental",
            "assetSelection": [{"path": ["raw", "retailers"]}, {"path": ["raw", "brands"]}],
        },
        "runConfigData": {},
    }
    launched = _graphql(port, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = _graphql(
            port,
            "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
            {"id": run_id},
        )["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"
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
    left = subprocess.run(["pgrep", "-f", "--", f"-p {port} "], capture_output=True, text=True)
    assert left.stdout.strip() == ""
