"""Superset for the BI tests: provisioned by the project's own commands, served on a free
port for one module, always stopped; a small REST client over its API."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.processes import free_port, run, started, wait_until

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BI_PY = PROJECT_ROOT / "bi" / ".venv" / "bin" / "python"
DASHBOARDS = {
    "campaign-performance": "Campaign performance",
    "retailer-ranking": "Retailer ranking",
    "regional-wish-list": "Regional wish list",
}


def bi_prepare(env: dict[str, str], timeout: float = 180):
    return run(
        [sys.executable, "-m", "serving", "bi-prepare"], env=env, timeout=timeout, cwd=PROJECT_ROOT
    )


def bi_provision(env: dict[str, str], timeout: float = 600):
    return run([str(BI_PY), "bi/provision.py"], env=env, timeout=timeout, cwd=PROJECT_ROOT)


def completed_ok(done, what: str) -> None:
    if done.returncode != 0:
        pytest.fail(
            f"{what} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}",
            pytrace=False,
        )


@dataclass
class Superset:
    url: str
    home: Path
    env: dict[str, str]
    admin_password: str
    _sessions: dict[str, requests.Session] = field(default_factory=dict)

    def session(self, user: str = "admin", password: str | None = None) -> requests.Session:
        if user not in self._sessions:
            s = requests.Session()
            r = s.post(
                f"{self.url}/api/v1/security/login",
                json={
                    "username": user,
                    "password": password or self.admin_password,
                    "provider": "db",
                    "refresh": True,
                },
                timeout=30,
            )
            assert r.status_code == 200, f"login {user}: {r.status_code} {r.text[:300]}"
            s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            self._sessions[user] = s
        return self._sessions[user]

    def get(
        self, path: str, user: str = "admin", password: str | None = None, **params
    ) -> requests.Response:
        return self.session(user, password).get(
            f"{self.url}{path}", timeout=120, params=params or None
        )

    def listing(self, kind: str) -> list[dict[str, Any]]:
        r = self.get(f"/api/v1/{kind}/", q="(page_size:100)")
        assert r.status_code == 200, r.text[:300]
        return r.json()["result"]

    def dashboards(self) -> dict[str, dict[str, Any]]:
        return {d["slug"]: d for d in self.listing("dashboard")}

    def charts_of(self, slug: str) -> dict[str, int]:
        dashboard_id = self.dashboards()[slug]["id"]
        r = self.get(f"/api/v1/dashboard/{dashboard_id}/charts")
        assert r.status_code == 200, r.text[:300]
        return {c["slice_name"]: c["id"] for c in r.json()["result"]}

    def chart_data(
        self, chart_id: int, user: str = "admin", password: str | None = None
    ) -> requests.Response:
        return self.get(f"/api/v1/chart/{chart_id}/data/", user=user, password=password)

    def counts(self) -> dict[str, list[int]]:
        return {
            kind: sorted(item["id"] for item in self.listing(kind))
            for kind in ("dashboard", "chart", "dataset", "database")
        }

    def sql_lab(self, sql: str, database_id: int) -> requests.Response:
        s = self.session()
        token = s.get(f"{self.url}/api/v1/security/csrf_token/", timeout=30).json()["result"]
        return s.post(
            f"{self.url}/api/v1/sqllab/execute/",
            json={
                "database_id": database_id,
                "sql": sql,
                "runAsync": False,
                "schema": "marts",
                "client_id": os.urandom(5).hex(),
                "tab": "test",
            },
            headers={"X-CSRFToken": token, "Referer": self.url},
            timeout=120,
        )


def _healthy(url: str) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(f"{url}/health", timeout=5).status_code == 200
    return False


@contextlib.contextmanager
def served_superset(env: dict[str, str], home: Path, admin_password: str) -> Iterator[Superset]:
    """bi-prepare + provision (the steps of `make bi`), then Superset on a free port until
    the block ends — stopped however it ends."""
    if not BI_PY.exists():
        pytest.fail(
            f"{BI_PY} is missing: `make bi-install` (a prerequisite of `make test`)", pytrace=False
        )
    completed_ok(bi_prepare(env), "python -m serving bi-prepare")
    completed_ok(bi_provision(env), "bi/provision.py")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with started(
        [str(BI_PY), "bi/serve.py", "--port", str(port)],
        log_path=home / "serve.log",
        env=env,
        cwd=PROJECT_ROOT,
    ) as proc:
        wait_until(
            lambda: _healthy(url),
            timeout=180,
            interval=1,
            what=f"Superset to answer on {url}/health",
            details=lambda: (proc.assert_running(), proc.log_tail())[1],
        )
        yield Superset(url=url, home=home, env=env, admin_password=admin_password)


def browser_check(
    superset: Superset,
    screenshots: Path,
    timeout: float = 150,
    *,
    user: str = "admin",
    password_file: Path | None = None,
    dashboards: list[str] | None = None,
) -> dict[str, Any]:
    """bi/browser_check.py (headless Chromium) as ``user``; its JSON report."""
    done = run(
        [
            str(BI_PY),
            "bi/browser_check.py",
            "--url",
            superset.url,
            "--user",
            user,
            "--password-file",
            str(password_file or superset.home / "admin.password"),
            "--screenshots",
            str(screenshots),
            "--timeout",
            str(timeout),
            *(["--dashboards", *dashboards] if dashboards else []),
        ],
        env=superset.env,
        timeout=timeout * 3 + 120,
        cwd=PROJECT_ROOT,
    )
    completed_ok(done, "bi/browser_check.py")
    return json.loads(done.stdout)
