"""Serving: reader roles, tenant row-level security that survives rebuilds, comments, no PII."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import EXTERNAL_SERVER
from tests.pii import known_pii_from_source, scan_marts

# The module's fixture runs a whole full refresh (≈ 250 s at load ≈ 8 on 2 cores, as in
# test_orchestration), timed with whichever test runs first.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

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


# --- Superset (make bi) on the served warehouse ---------------------------------------------
# Real Superset (bi/.venv), real Chromium, this module's warehouse (one full refresh for all
# serving tests). The server is started once, at the first of these tests (install of its
# metadata: `superset db upgrade` + `init`, about 1–2 min on 2 cores), and stopped at the
# module's end even when a test fails.

BI_TIMEOUT = pytest.mark.timeout(1500)
ADMIN_PASSWORD = "admin-" + uuid.uuid4().hex[:12]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture(scope="module")
def superset(world, served, make_database, tmp_path_factory):
    from tests.bi_superset import served_superset

    home = tmp_path_factory.mktemp("bi_home")
    env = {
        **os.environ,
        "BI_HOME": str(home),
        "SUPERSET_DATABASE_URL": make_database("superset"),
        "BI_READER_PASSWORD": PASSWORD,  # the password the other serving tests log in with
        "SUPERSET_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    with served_superset(env, home, ADMIN_PASSWORD) as running:
        yield running


def _rows(superset, chart_id, **login) -> list[dict]:
    r = superset.chart_data(chart_id, **login)
    assert r.status_code == 200, f"chart {chart_id}: {r.status_code} {r.text[:500]}"
    result = r.json()["result"]
    assert all(not q.get("error") for q in result), result
    return [row for q in result for row in q["data"]]


def _one(world, query: str, params=()):
    with psycopg.connect(world.warehouse_url) as conn:
        return conn.execute(query, params).fetchone()


@BI_TIMEOUT
def test_superset_dashboards_exist_and_every_chart_returns_rows(world, superset):
    from tests.bi_superset import DASHBOARDS

    dashboards = superset.dashboards()
    assert {slug: d["dashboard_title"] for slug, d in dashboards.items()} == DASHBOARDS
    charts = {slug: superset.charts_of(slug) for slug in DASHBOARDS}
    assert [len(charts[slug]) for slug in DASHBOARDS] == [9, 2, 3]
    for slug, by_name in charts.items():
        for name, chart_id in by_name.items():
            assert _rows(superset, chart_id), f"{slug} / {name}: no rows"

    # KPI tiles: the marts' definitions, ratio of sums (docs/metrics.md), not averages
    kpis = charts["campaign-performance"]
    sent, opens, clicks, delivered, revenue, spend, ad_revenue = _one(
        world,
        "select sum(emails_sent), sum(unique_opens), sum(unique_clicks), sum(emails_delivered),"
        " sum(attributed_revenue), sum(ad_spend), sum(ad_revenue) from marts.campaign_performance",
    )
    value = {
        name: next(iter(_rows(superset, kpis[name])[0].values()))
        for name in kpis
        if name
        in {"Emails sent", "Open rate %", "Click rate %", "Attributed revenue", "Ad spend", "ROAS"}
    }
    assert value["Emails sent"] == sent
    assert value["Open rate %"] == pytest.approx(float(round(100 * opens / delivered, 2)))
    assert value["Click rate %"] == pytest.approx(float(round(100 * clicks / delivered, 2)))
    assert value["Attributed revenue"] == pytest.approx(float(revenue))
    assert value["Ad spend"] == pytest.approx(float(spend))
    assert value["ROAS"] == pytest.approx(float(round(ad_revenue / spend, 2)))
    avg_of_rates = _one(
        world, "select round(avg(open_rate_pct), 2) from marts.campaign_performance"
    )[0]
    assert value["Open rate %"] != pytest.approx(float(avg_of_rates))

    # ROAS by campaign: each bar is the campaign's ad revenue / ad spend
    bars = _rows(superset, kpis["ROAS by campaign (top 15 by ad spend)"])
    assert 0 < len(bars) <= 15
    with psycopg.connect(world.warehouse_url) as conn:
        expected = dict(
            conn.execute(
                "select campaign_name, round(sum(ad_revenue) / nullif(sum(ad_spend), 0), 2)"
                " from marts.campaign_performance group by 1"
            ).fetchall()
        )
    for bar in bars:
        assert bar["ad_roas"] == pytest.approx(float(expected[bar["campaign_name"]]))

    # the leaderboard is the mart's ranks, as they are
    leaderboard = _rows(
        superset, charts["retailer-ranking"]["Leaderboard (latest date of each period)"]
    )
    top = min(leaderboard, key=lambda row: (row["metric_period"], row["overall_rank"]))
    assert {"overall_rank", "regional_rank", "tier_rank", "rank_change"} <= set(top)


@BI_TIMEOUT
def test_superset_datasets_carry_the_mart_comments_and_sql_lab_cannot_write(world, superset):
    datasets = {d["table_name"]: d["id"] for d in superset.listing("dataset")}
    assert {
        "campaign_performance",
        "retailer_ranking",
        "regional_wish_list",
        "fct_campaign_channel_daily",
    } <= set(datasets)
    detail = superset.get(f"/api/v1/dataset/{datasets['campaign_performance']}").json()["result"]
    described = {c["column_name"]: c["description"] for c in detail["columns"]}
    with psycopg.connect(world.warehouse_url) as conn:
        comments = dict(
            conn.execute(
                "select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute a"
                " where a.attrelid = 'marts.campaign_performance'::regclass and a.attnum > 0"
                " and not a.attisdropped"
            ).fetchall()
        )
    assert described == comments and all(described.values())

    database = superset.listing("database")
    assert len(database) == 1 and not database[0].get("allow_dml", False)
    database_id = database[0]["id"]
    for statement in (
        "create table marts.bi_probe (a int)",
        "delete from marts.campaign_performance",
    ):
        r = superset.sql_lab(statement, database_id)
        assert r.status_code != 200 and "DML_NOT_ALLOWED" in r.text, r.text[:300]
    r = superset.sql_lab("select * from raw._load_ledger limit 1", database_id)
    assert r.status_code != 200 and "permission denied" in r.text, r.text[:300]
    r = superset.sql_lab("select count(*) as n from marts.campaign_performance", database_id)
    assert (
        r.status_code == 200
        and r.json()["data"][0]["n"]
        == _one(world, "select count(*) from marts.campaign_performance")[0]
    )


@BI_TIMEOUT
def test_superset_dashboards_render_in_chromium(superset):
    from tests.bi_superset import DASHBOARDS, browser_check

    report = browser_check(superset, SCREENSHOTS)
    assert set(report) == set(DASHBOARDS)
    for slug, seen in report.items():
        assert not seen["timed_out"], f"{slug}: charts still loading: {seen['charts']}"
        assert (
            len(seen["charts"])
            == {"campaign-performance": 9, "retailer-ranking": 2, "regional-wish-list": 3}[slug]
        )
        for chart in seen["charts"]:
            assert not chart["error"], f"{slug} / {chart['title']}: error tile: {chart['text']}"
            assert chart["drawn"], f"{slug} / {chart['title']}: no marks drawn: {chart}"
        assert Path(seen["screenshot"]).stat().st_size > 20_000


@BI_TIMEOUT
def test_superset_tenant_login_sees_only_its_brand(world, superset, served, tmp_path):
    login = served["logins"]["brand_a"].role_name
    brand = served["brands"][0]
    password = (superset.home / "tenants" / f"{login}.password").read_text().strip()
    as_tenant = {"user": login, "password": password}
    charts = superset.charts_of("campaign-performance")

    bars = _rows(superset, charts["ROAS by campaign (top 15 by ad spend)"], **as_tenant)
    with psycopg.connect(world.warehouse_url) as conn:
        own = {
            r[0]
            for r in conn.execute(
                "select campaign_name from marts.campaign_performance where brand_id = %s", (brand,)
            )
        }
        others = {
            r[0]
            for r in conn.execute(
                "select campaign_name from marts.campaign_performance where brand_id <> %s",
                (brand,),
            )
        }
    names = {bar["campaign_name"] for bar in bars}
    assert names and names <= own and not names & (others - own)

    sent = _rows(superset, charts["Emails sent"], **as_tenant)[0]["emails_sent"]
    assert (
        sent
        == _one(
            world,
            "select sum(emails_sent) from marts.campaign_performance where brand_id = %s",
            (brand,),
        )[0]
    )
    assert sent < _one(world, "select sum(emails_sent) from marts.campaign_performance")[0]
    daily = _rows(
        superset,
        charts["Daily activity per channel (log scale: sends, impressions, orders)"],
        **as_tenant,
    )
    assert daily
    # in Chromium, the tenant's dashboard shows its brand's figure
    from tests.bi_superset import browser_check

    report = browser_check(
        superset,
        tmp_path,
        user=login,
        password_file=superset.home / "tenants" / f"{login}.password",
        dashboards=["campaign-performance"],
    )["campaign-performance"]
    tiles = {chart["title"]: chart for chart in report["charts"]}
    assert not report["timed_out"] and all(c["drawn"] and not c["error"] for c in tiles.values())
    assert tiles["Emails sent"]["bigNumber"] == f"{sent:,}"

    # a brand login reads no retailer-keyed dataset
    leaderboard = superset.charts_of("retailer-ranking")["Leaderboard (latest date of each period)"]
    assert superset.chart_data(leaderboard, **as_tenant).status_code in (403, 404)


@BI_TIMEOUT
def test_superset_reprovisioning_changes_nothing(superset):
    from tests.bi_superset import bi_prepare, bi_provision, completed_ok

    before = superset.counts()
    assert [len(before[k]) for k in ("dashboard", "chart", "dataset", "database")] == [3, 14, 7, 1]
    completed_ok(bi_prepare(superset.env), "python -m serving bi-prepare")
    again = bi_provision(superset.env)
    completed_ok(again, "bi/provision.py (second time)")
    assert "db upgrade" not in again.stdout  # the metadata is current: no migration
    assert superset.counts() == before


@BI_TIMEOUT
def test_superset_bad_input_gets_a_message_not_a_traceback(
    world, superset, make_database, tmp_path
):
    from tests.bi_superset import bi_prepare, bi_provision
    from tests.processes import free_port

    # a wrong admin password
    wrong = bi_provision({**superset.env, "SUPERSET_ADMIN_PASSWORD": "not-the-password"})
    assert wrong.returncode == 2, wrong.stderr[-2000:]
    assert (
        "error: SUPERSET_ADMIN_PASSWORD is not the password of the existing Superset admin"
        in wrong.stderr
    )
    assert "Traceback" not in wrong.stderr + wrong.stdout

    # the warehouse not running
    dead = f"postgresql://postgres:x@127.0.0.1:{free_port()}/crownsync_warehouse"
    down = bi_prepare({**superset.env, "DATABASE_URL": dead, "BI_HOME": str(tmp_path / "a")})
    assert down.returncode == 2 and "error:" in down.stderr and "Traceback" not in down.stderr, (
        down.stderr
    )
    home = tmp_path / "b"
    home.mkdir()
    info = json.loads((superset.home / "connection.json").read_text())
    info["warehouse"]["port"] = int(dead.rsplit(":", 1)[1].split("/")[0])
    (home / "connection.json").write_text(json.dumps(info))
    gone = bi_provision({**superset.env, "BI_HOME": str(home)})
    assert (
        gone.returncode == 2 and "error: the warehouse does not answer as bi_reader" in gone.stderr
    ), gone.stderr
    assert "Traceback" not in gone.stderr

    # the marts not built yet
    empty = make_database("empty")
    unbuilt = bi_prepare({**superset.env, "DATABASE_URL": empty, "BI_HOME": str(tmp_path / "c")})
    assert unbuilt.returncode == 2, unbuilt.stderr
    assert "the marts are not built yet" in unbuilt.stderr and "make run" in unbuilt.stderr
    assert "Traceback" not in unbuilt.stderr
