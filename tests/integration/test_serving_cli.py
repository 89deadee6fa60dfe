"""The serving CLI without a pipeline run: reader logins from the environment, tenant
logins listed and dropped. Real commands against a real (scratch) warehouse."""

from __future__ import annotations

import os
import subprocess
import uuid

import psycopg
import pytest
from psycopg import sql

from crownsync.settings import PROJECT_ROOT, url_parts

pytestmark = pytest.mark.timeout(300)

PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")


def _serving(url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")}
    return subprocess.run(
        [PYTHON, "-m", "serving", *args],
        cwd=PROJECT_ROOT,
        env={**clean, "DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_reader_logins_and_tenant_logins_are_managed_without_a_run(make_database, pg_server_url):
    url = make_database("servingcli")
    brand = uuid.uuid4()
    # the bootstrap (roles, marts.access_grants) runs in the command; dim tables stand in
    # for the dbt-built marts the tenant id is looked up in
    assert _serving(url, "apply").returncode == 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set role warehouse_owner")  # who builds the marts
        conn.execute("create table marts.dim_brands (brand_id uuid primary key)")
        conn.execute("create table marts.dim_retailers (retailer_id uuid primary key)")
        conn.execute("insert into marts.dim_brands values (%s)", (brand,))

    nothing = _serving(url, "grant-logins")
    assert nothing.returncode == 2 and "BI_READER_PASSWORD" in nothing.stderr
    password = uuid.uuid4().hex
    granted = _serving(url, "grant-logins", BI_READER_PASSWORD=password)
    assert granted.returncode == 0, granted.stderr
    assert "bi_reader" in granted.stdout and password not in granted.stdout
    parts = url_parts(url)
    with psycopg.connect(
        host=parts["host"],
        port=parts["port"],
        dbname=parts["database"],
        user="bi_reader",
        password=password,
    ) as reader:
        assert reader.execute("select current_user").fetchone()[0] == "bi_reader"

    login = f"brand_probe_{uuid.uuid4().hex[:6]}"
    made = _serving(url, "tenant-login", "--brand", str(brand), "--login", login)
    assert made.returncode == 0, made.stderr
    listed = _serving(url, "tenant-logins")
    assert listed.returncode == 0
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(login)]
    assert "brand" in line and str(brand) in line

    dropped = _serving(url, "tenant-logins", "--drop", login)
    assert dropped.returncode == 0, dropped.stderr
    assert login not in _serving(url, "tenant-logins").stdout
    with psycopg.connect(pg_server_url) as conn:
        assert not conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone()
    again = _serving(url, "tenant-logins", "--drop", login)
    assert again.returncode == 2 and "is not a tenant login" in again.stderr
    with psycopg.connect(pg_server_url, autocommit=True) as conn:  # bi_reader is cluster-wide
        conn.execute(sql.SQL("alter role bi_reader nologin password null"))
