"""Serving: reader roles, tenant row-level security that survives rebuilds, comments, no PII."""

from __future__ import annotations

import os
import uuid

import dagster as dg
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import EXTERNAL_SERVER
from tests.pii import known_pii_from_source, scan_marts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "test-" + uuid.uuid4().hex[:12]


def _run_full_refresh() -> dg.ExecuteInProcessResult:
    from orchestration.definitions import defs

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("full_refresh").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert result.success
    return result


def _as(world, role: str) -> psycopg.Connection:
    url = make_url(world.warehouse_url).set(username=role, password=PASSWORD)
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@pytest.fixture(scope="module")
def served(world):
    """A built warehouse, reader passwords set, one brand and one retailer login."""
    os.environ["ANALYST_PASSWORD"] = os.environ["BI_READER_PASSWORD"] = PASSWORD
    try:
        _run_full_refresh()
    finally:
        os.environ.pop("ANALYST_PASSWORD")
        os.environ.pop("BI_READER_PASSWORD")
    from serving.grants import create_tenant_login

    suffix = uuid.uuid4().hex[:6]
    with psycopg.connect(world.warehouse_url, autocommit=True) as conn:
        brands = [
            r[0]
            for r in conn.execute(
                "select brand_id from marts.campaign_performance group by 1 having count(*) > 1 order by 1 limit 2"
            )
        ]
        retailers = [
            r[0]
            for r in conn.execute(
                "select retailer_id from marts.retailer_ranking group by 1 order by 1 limit 2"
            )
        ]
        logins = {
            "brand_a": create_tenant_login(
                conn, brand_id=brands[0], role_name=f"t_brand_a_{suffix}", password=PASSWORD
            ),
            "retailer_a": create_tenant_login(
                conn,
                retailer_id=retailers[0],
                role_name=f"t_retailer_a_{suffix}",
                password=PASSWORD,
            ),
        }
    yield {"brands": brands, "retailers": retailers, "logins": logins}
    with psycopg.connect(world.warehouse_url, autocommit=True) as conn:
        for login in logins.values():
            conn.execute(f'drop owned by "{login.role_name}"')
            conn.execute(f'drop role "{login.role_name}"')


def _denied(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_reader_logins_need_their_password(world, served):
    if EXTERNAL_SERVER:
        pytest.skip("authentication is configured by the external server's pg_hba.conf")
    wrong = make_url(world.warehouse_url).set(username="bi_reader", password="not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong.render_as_string(hide_password=False))


def test_bi_reader_reads_marts_only_and_writes_nothing(world, served):
    with _as(world, "bi_reader") as conn:
        assert conn.execute("select count(*) from marts.campaign_performance").fetchone()[0] > 0
        assert _denied(conn, "select 1 from raw.email_sends limit 1")
        assert _denied(conn, "select 1 from staging.stg_app_db__retailers limit 1")
        assert _denied(conn, "select 1 from snapshots.retailers_snapshot limit 1")
        assert _denied(conn, "update marts.campaign_performance set emails_sent = 0")
        assert _denied(conn, "delete from marts.retailer_ranking")
        assert _denied(
            conn,
            "insert into marts.access_grants (role_name, brand_id) values ('x', gen_random_uuid())",
        )
        assert _denied(conn, "create table marts.mine (n int)")
        assert _denied(conn, "create table public.mine (n int)")
        assert _denied(conn, "truncate marts.dim_brands")
        assert _denied(conn, "create temp table mine (n int)")
        assert _denied(conn, "create schema mine")


def test_analyst_reads_staging_and_marts_but_cannot_write(world, served):
    with _as(world, "analyst") as conn:
        assert conn.execute("select count(*) from staging.stg_app_db__retailers").fetchone()[0] > 0
        assert conn.execute("select count(*) from marts.retailer_ranking").fetchone()[0] > 0
        assert _denied(conn, "select 1 from raw.retailers limit 1")
        assert _denied(conn, "update marts.retailer_ranking set overall_rank = 1")
        assert _denied(conn, "insert into marts.dim_brands (brand_id) values (gen_random_uuid())")
        assert _denied(conn, "create table staging.mine (n int)")
        assert _denied(conn, "create table public.mine (n int)")
        assert _denied(conn, "create temp table mine (n int)")
        assert _denied(conn, "create schema mine")


def _check_isolation(world, served) -> None:
    brand_a, brand_b = served["brands"]
    retailer_a, retailer_b = served["retailers"]
    with psycopg.connect(world.warehouse_url) as owner:
        own_ranking = owner.execute(
            "select count(*) from marts.retailer_ranking where retailer_id = %s", (retailer_a,)
        ).fetchone()[0]
        own_campaigns = owner.execute(
            "select count(*) from marts.campaign_performance where brand_id = %s", (brand_a,)
        ).fetchone()[0]
    assert own_ranking > 0 and own_campaigns > 0

    with _as(world, served["logins"]["retailer_a"].role_name) as conn:
        rows = conn.execute("select distinct retailer_id from marts.retailer_ranking").fetchall()
        assert rows == [(retailer_a,)]
        assert (
            conn.execute("select count(*) from marts.retailer_ranking").fetchone()[0] == own_ranking
        )
        assert (
            conn.execute(
                "select count(*) from marts.retailer_ranking where retailer_id = %s", (retailer_b,)
            ).fetchone()[0]
            == 0
        )
        assert conn.execute("select count(*) from marts.campaign_performance").fetchone()[0] == 0
    with _as(world, served["logins"]["brand_a"].role_name) as conn:
        assert (
            conn.execute(
                "select count(*) from marts.campaign_performance where brand_id = %s", (brand_b,)
            ).fetchone()[0]
            == 0
        )
        assert conn.execute(
            "select distinct brand_id from marts.campaign_performance"
        ).fetchall() == [(brand_a,)]
        assert (
            conn.execute("select count(*) from marts.campaign_performance").fetchone()[0]
            == own_campaigns
        )
        wished = conn.execute("select distinct brand_id from marts.regional_wish_list").fetchall()
        assert set(wished) <= {(brand_a,)}
        assert conn.execute("select count(*) from marts.retailer_ranking").fetchone()[0] == 0
        assert conn.execute("select role_name from marts.access_grants").fetchall() == [
            (served["logins"]["brand_a"].role_name,)
        ]
        assert _denied(conn, "select 1 from staging.stg_app_db__campaigns limit 1")
        assert _denied(conn, "create temp table mine (n int)")
        assert _denied(conn, "create table marts.mine (n int)")


def test_tenant_logins_see_only_their_rows_and_still_after_a_rebuild(world, served):
    _check_isolation(world, served)
    _run_full_refresh()  # rebuilds every mart table: policies must be re-applied
    with psycopg.connect(world.warehouse_url) as owner:
        assert (
            owner.execute(
                "select count(*) from pg_tables where schemaname = 'marts' and not rowsecurity"
            ).fetchone()[0]
            == 0
        )
    _check_isolation(world, served)


def test_every_public_mart_column_has_a_comment(world, served):
    with psycopg.connect(world.warehouse_url) as conn:
        rows = conn.execute(
            """
            select c.relname, a.attname, col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')
              from pg_class c
              join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'marts'
              join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
             where c.relname in ('campaign_performance', 'retailer_ranking', 'regional_wish_list')
            """
        ).fetchall()
    assert len({r[0] for r in rows}) == 3 and len(rows) > 50
    missing = [f"{t}.{c}" for t, c, comment, _ in rows if not (comment or "").strip()]
    assert missing == []
    assert all((table_comment or "").strip() for *_, table_comment in rows)


def test_no_personal_data_in_the_marts(world, served):
    assert scan_marts(world.warehouse_url, known_pii_from_source(world.source_url)) == []
