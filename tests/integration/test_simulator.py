"""The simulator against a real PostgreSQL: contract conformance, determinism, traps, advance, safety."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from crownsync.settings import PROJECT_ROOT, get_settings
from simulator import SimulatorRefused, Summary, advance, generate
from simulator.__main__ import main as cli_main
from simulator.export_files import MARKER

pytestmark = pytest.mark.integration

MANIFEST = yaml.safe_load((PROJECT_ROOT / "ingestion" / "app_db" / "tables.yml").read_text())[
    "tables"
]
SCALE = 0.01

# (table, column, referenced table, referenced column): the contract's foreign keys
FOREIGN_KEYS = [
    ("users", "brand_id", "brands", "brand_id"),
    ("users", "retailer_id", "retailers", "retailer_id"),
    ("brands", "created_by", "users", "id"),
    ("campaigns", "brand_id", "brands", "brand_id"),
    ("campaigns", "created_by", "users", "id"),
    ("campaign_retailers", "campaign_id", "campaigns", "campaign_id"),
    ("campaign_retailers", "retailer_id", "retailers", "retailer_id"),
    ("email_campaigns", "campaign_id", "campaigns", "campaign_id"),
    ("email_sends", "email_campaign_id", "email_campaigns", "email_campaign_id"),
    ("email_sends", "retailer_id", "retailers", "retailer_id"),
    ("sms_campaigns", "campaign_id", "campaigns", "campaign_id"),
    ("sms_sends", "sms_campaign_id", "sms_campaigns", "sms_campaign_id"),
    ("sms_sends", "retailer_id", "retailers", "retailer_id"),
    ("social_accounts", "retailer_id", "retailers", "retailer_id"),
    ("social_accounts", "brand_id", "brands", "brand_id"),
    ("social_posts", "account_id", "social_accounts", "account_id"),
    ("social_posts", "campaign_id", "campaigns", "campaign_id"),
    ("social_analytics", "post_id", "social_posts", "post_id"),
    ("customers", "retailer_id", "retailers", "retailer_id"),
    ("customer_interactions", "customer_id", "customers", "customer_id"),
    ("customer_interactions", "retailer_id", "retailers", "retailer_id"),
    ("retailer_performance_metrics", "retailer_id", "retailers", "retailer_id"),
    ("retailer_scores", "retailer_id", "retailers", "retailer_id"),
    ("watch_models", "brand_id", "brands", "brand_id"),
    ("wish_list_items", "model_id", "watch_models", "model_id"),
    ("wish_list_items", "retailer_id", "retailers", "retailer_id"),
    ("wish_list_items", "customer_id", "customers", "customer_id"),
    ("brand_assets", "brand_id", "brands", "brand_id"),
    ("asset_downloads", "asset_id", "brand_assets", "asset_id"),
    ("asset_downloads", "retailer_id", "retailers", "retailer_id"),
    ("asset_downloads", "user_id", "users", "id"),
]


@dataclass
class SimWorld:
    url: str
    landing: Path
    summary: Summary

    def one(self, query: str, params: tuple = ()) -> object:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(query, params).fetchone()
            return row[0] if row else None

    def all(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(query, params).fetchall()


def _make_world(make_database: Callable[[str], str], root: Path, seed: int) -> SimWorld:
    url = make_database("sim")
    landing = root / f"landing_{seed}_{url.rsplit('/', 1)[1]}"
    summary = generate(url, landing, SCALE, seed, quiet=True)
    return SimWorld(url, landing, summary)


@pytest.fixture(scope="module")
def world(make_database, tmp_path_factory) -> SimWorld:
    return _make_world(make_database, tmp_path_factory.mktemp("sim"), 7)


@pytest.fixture(scope="module")
def twin(make_database, tmp_path_factory) -> SimWorld:
    return _make_world(make_database, tmp_path_factory.mktemp("twin"), 7)


@pytest.fixture(scope="module")
def other(make_database, tmp_path_factory) -> SimWorld:
    return _make_world(make_database, tmp_path_factory.mktemp("other"), 8)


def table_md5(w: SimWorld) -> dict[str, str]:
    out = {}
    with psycopg.connect(w.url) as conn:
        for table, spec in MANIFEST.items():
            pk = sql.SQL(", ").join(map(sql.Identifier, spec["primary_key"]))
            query = sql.SQL(
                "select md5(coalesce(string_agg(t::text, '|' order by {}), '')) from {} t"
            ).format(pk, sql.Identifier("public", table))
            out[table] = conn.execute(query).fetchone()[0]
    return out


def file_digests(w: SimWorld) -> dict[str, tuple[str, float]]:
    return {
        str(p.relative_to(w.landing)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime,
        )
        for p in sorted(w.landing.rglob("*"))
        if p.is_file() and p.name != MARKER
    }


# ----------------------------------------------------------------- contract


def test_every_manifest_table_column_and_type(world: SimWorld) -> None:
    rows = world.all(
        "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
        " from pg_attribute a join pg_class c on c.oid = a.attrelid"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped"
        " order by c.relname, a.attnum"
    )
    actual: dict[str, dict[str, str]] = {}
    for table, column, type_ in rows:
        actual.setdefault(table, {})[column] = type_
    assert set(actual) == set(MANIFEST)
    for table, spec in MANIFEST.items():
        assert actual[table] == spec["columns"], table


def test_primary_keys_match_manifest(world: SimWorld) -> None:
    rows = world.all(
        "select tc.table_name, array_agg(kcu.column_name::text order by kcu.ordinal_position)"
        " from information_schema.table_constraints tc"
        " join information_schema.key_column_usage kcu using (constraint_schema, constraint_name)"
        " where tc.table_schema = 'public' and tc.constraint_type = 'PRIMARY KEY' group by 1"
    )
    assert {t: list(cols) for t, cols in rows} == {t: s["primary_key"] for t, s in MANIFEST.items()}


def test_foreign_keys_declared_and_resolving(world: SimWorld) -> None:
    declared = set(
        world.all(
            "select cl.relname::text, a.attname::text, rc.relname::text, ra.attname::text"
            " from pg_constraint c join pg_class cl on cl.oid = c.conrelid"
            " join pg_class rc on rc.oid = c.confrelid"
            " join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]"
            " join pg_attribute ra on ra.attrelid = c.confrelid and ra.attnum = c.confkey[1]"
            " where c.contype = 'f' and cl.relnamespace = 'public'::regnamespace"
        )
    )
    assert set(FOREIGN_KEYS) <= declared
    with psycopg.connect(world.url) as conn:
        for table, column, ref, ref_col in FOREIGN_KEYS:
            query = sql.SQL(
                "select count(*) from {t} x where x.{c} is not null"
                " and not exists (select 1 from {r} y where y.{rc} = x.{c})"
            ).format(
                t=sql.Identifier(table),
                c=sql.Identifier(column),
                r=sql.Identifier(ref),
                rc=sql.Identifier(ref_col),
            )
            assert conn.execute(query).fetchone()[0] == 0, (table, column)
            nonnull = sql.SQL("select count({c}) from {t}").format(
                t=sql.Identifier(table), c=sql.Identifier(column)
            )
            assert conn.execute(nonnull).fetchone()[0] > 0, (table, column)


def test_check_values_hold(world: SimWorld) -> None:
    assert {r[0] for r in world.all("select distinct role from users")} == {
        "admin",
        "brand",
        "retailer",
    }
    assert {r[0] for r in world.all("select distinct campaign_type from campaigns")} == {
        "social",
        "email",
        "sms",
        "mixed",
    }
    assert {r[0] for r in world.all("select distinct send_status from email_sends")} == {
        "sent",
        "delivered",
        "bounced",
        "failed",
    }
    assert {r[0] for r in world.all("select distinct status from sms_sends")} == {
        "pending",
        "sent",
        "delivered",
        "failed",
    }
    assert {
        r[0] for r in world.all("select distinct metric_period from retailer_performance_metrics")
    } == {"daily", "weekly", "monthly", "quarterly"}
    assert world.one("select count(*) from wish_list_items where wish_count < 1") == 0
    assert (
        world.one(
            "select count(*) from retailer_performance_metrics where customer_satisfaction not between 1 and 5"
        )
        == 0
    )
    assert (
        world.one("select count(*) from users where (role = 'brand') <> (brand_id is not null)")
        == 0
    )


def test_row_counts_follow_scale(world: SimWorld) -> None:
    rows = world.summary.rows
    assert rows["email_sends"] == 30_000
    assert rows["brands"] == 5 and rows["retailers"] == 30 and rows["campaigns"] == 40
    assert len(rows) == 20
    assert world.one("select count(*) from email_sends") == 30_000
    assert world.one("select count(*) from social_analytics") == rows["social_analytics"] > 3_000


# -------------------------------------------------------------- determinism


def test_same_seed_same_bytes_other_seed_differs(
    world: SimWorld, twin: SimWorld, other: SimWorld
) -> None:
    a, b, c = table_md5(world), table_md5(twin), table_md5(other)
    assert a == b
    assert all(
        a[t] != c[t] for t in ("users", "email_sends", "social_analytics", "wish_list_items")
    )
    fa, fb, fc = file_digests(world), file_digests(twin), file_digests(other)
    assert fa == fb and len(fa) == 18
    assert {k: v[0] for k, v in fa.items()} != {k: v[0] for k, v in fc.items()}
    assert (world.landing / MARKER).read_bytes() == (twin.landing / MARKER).read_bytes()


# ------------------------------------------------------------------ traps


def test_retailers_regions_tiers_and_dirty_text(world: SimWorld) -> None:
    regions = {
        r[0]
        for r in world.all(
            "select distinct lower(regexp_replace(trim(region), '\\s+', ' ', 'g')) from retailers"
        )
    }
    assert len(regions) >= 5
    tiers = {r[0] for r in world.all("select distinct lower(trim(tier)) from retailers")}
    assert tiers == {"premium", "standard", "basic"}
    raw = {r[0] for r in world.all("select region from retailers")} | {
        r[0] for r in world.all("select tier from retailers")
    }
    assert {" east coast", "West  Coast", "PREMIUM ", "Standard"} <= raw


def test_every_dirty_region_cleans_to_a_canonical_region(world: SimWorld) -> None:
    # the contract's cleaning (as staging applies it): whitespace runs collapsed, trimmed,
    # initcap; no variant may survive it as a region of its own ('North East' vs 'Northeast')
    from simulator.world import REGIONS

    raw = {r[0] for r in world.all("select distinct region from retailers")}
    assert len(raw) > len(REGIONS)  # the dirty variants are there
    cleaned = {
        r[0]
        for r in world.all(
            "select distinct initcap(btrim(regexp_replace(region, '\\s+', ' ', 'g')))"
            " from retailers"
        )
    }
    assert cleaned <= set(REGIONS), cleaned - set(REGIONS)


def test_brands_and_models_read_like_watch_houses(world: SimWorld) -> None:
    brands = [r[0] for r in world.all("select brand_name from brands")]
    assert len(set(brands)) == len(brands)
    # generated company names ("Lopez, Rivas and Martin", "Smith Group", "Acme LLC") are gone
    company = (",", " and ", " LLC", " Inc", " Group", " PLC", " Ltd")
    assert not [b for b in brands if any(word in b for word in company)]
    models = world.all("select model_name, collection_name from watch_models")
    assert models and not [m for m in models if any(word in " ".join(m) for word in company)]


def test_emails_with_capitals_and_pii(world: SimWorld) -> None:
    assert world.one("select count(*) from users where email <> lower(email)") > 0
    assert world.one("select count(*) from customers where email <> lower(email)") > 0
    assert (
        world.one(
            "select count(*) from email_sends where recipient_email <> lower(recipient_email)"
        )
        > 0
    )
    assert (
        world.one(
            "select count(*) from customers where phone is not null and date_of_birth is not null"
        )
        > 0
    )


def test_email_engagement_is_consistent(world: SimWorld) -> None:
    def n(where: str) -> int:
        return world.one(f"select count(*) from email_sends where {where}")  # noqa: S608

    assert n("opened_at is not null and opened_at > delivered_at + interval '1 minute'") > 0
    assert n("opened_at is not null and (delivered_at is null or opened_at <= delivered_at)") == 0
    assert n("clicked_at is not null and (opened_at is null or clicked_at <= opened_at)") == 0
    assert n("send_status = 'bounced' and delivered_at is not null") == 0
    assert n("send_status = 'failed' and (sent_at is not null or delivered_at is not null)") == 0
    assert n("(open_count >= 1) <> (opened_at is not null)") == 0
    assert n("(click_count >= 1) <> (clicked_at is not null)") == 0
    assert n("updated_at < created_at") == 0
    assert (
        n(
            "updated_at <> greatest(created_at, sent_at, delivered_at, opened_at, clicked_at, unsubscribed_at, spam_reported_at)"
        )
        == 0
    )
    assert n("clicked_at is not null") > 0


def test_campaign_shapes(world: SimWorld) -> None:
    mixed_full = world.one(
        "select count(*) from campaigns c where campaign_type = 'mixed'"
        " and exists (select 1 from email_campaigns e join email_sends s using (email_campaign_id) where e.campaign_id = c.campaign_id)"
        " and exists (select 1 from sms_campaigns m join sms_sends s using (sms_campaign_id) where m.campaign_id = c.campaign_id)"
        " and exists (select 1 from social_posts p where p.campaign_id = c.campaign_id)"
    )
    assert mixed_full > 0
    ad_campaigns = _export_values(world, "ad_metrics", "campaign_id")
    mixed = {
        r[0]
        for r in world.all("select campaign_id::text from campaigns where campaign_type = 'mixed'")
    }
    assert mixed & ad_campaigns
    silent = world.all(
        "select campaign_id::text from campaigns c where"
        " not exists (select 1 from email_campaigns e where e.campaign_id = c.campaign_id)"
        " and not exists (select 1 from sms_campaigns m where m.campaign_id = c.campaign_id)"
        " and not exists (select 1 from social_posts p where p.campaign_id = c.campaign_id)"
    )
    silent_ids = {r[0] for r in silent}
    assert silent_ids
    assert not silent_ids & ad_campaigns
    assert not silent_ids & _export_values(world, "orders", "utm_campaign")
    assert world.one("select count(*) from campaigns where budget_allocated is null") > 0
    assert world.one("select count(*) from campaigns where budget_allocated = 0") > 0


def test_inactive_retailers_keep_activity(world: SimWorld) -> None:
    for table in ("retailer_performance_metrics", "email_sends", "wish_list_items"):
        query = sql.SQL(
            "select count(*) from {} x join retailers r using (retailer_id) where not r.is_active"
        ).format(sql.Identifier(table))
        with psycopg.connect(world.url) as conn:
            assert conn.execute(query).fetchone()[0] > 0, table


def test_metrics_grid_and_score_ties(world: SimWorld) -> None:
    per = world.all(
        "select metric_period, min(n), count(*) from (select retailer_id, metric_period, count(*) n"
        " from retailer_performance_metrics group by 1, 2) x group by 1"
    )
    assert {p for p, _, _ in per} == {"daily", "weekly", "monthly", "quarterly"}
    assert all(min_n >= 2 for _, min_n, _ in per)
    assert (
        world.one(
            "select count(*) from (select 1 from retailer_performance_metrics"
            " group by retailer_id, metric_date, metric_period having count(*) > 1) x"
        )
        == 0
    )
    ties = world.one(
        "select count(*) from (select metric_period, metric_date, performance_score"
        " from retailer_performance_metrics group by 1, 2, 3 having count(*) > 1) x"
    )
    partitions = world.one(
        "select count(distinct (metric_period, metric_date)) from retailer_performance_metrics"
    )
    assert ties >= partitions  # at least one tie in every (period, date) partition


def test_wishes_spread_and_inactive_models(world: SimWorld) -> None:
    per_region = world.all(
        "select lower(trim(r.region)), count(distinct w.model_id) from wish_list_items w"
        " join retailers r using (retailer_id) group by 1"
    )
    assert len(per_region) >= 5 and min(n for _, n in per_region) >= 5
    assert (
        world.one(
            "select count(*) from wish_list_items w join watch_models m using (model_id) where not m.is_active"
        )
        > 0
    )


def test_social_accounts_posts_analytics(world: SimWorld) -> None:
    assert (
        world.one(
            "select count(*) from social_accounts where (retailer_id is null) = (brand_id is null)"
        )
        == 0
    )
    assert world.one("select count(*) from social_accounts where brand_id is not null") > 0
    assert world.one("select count(*) from social_accounts where retailer_id is not null") > 0
    assert world.one("select count(*) from social_posts where campaign_id is null") > 0
    assert world.one("select count(*) from social_posts where campaign_id is not null") > 0
    assert (
        world.one(
            "select count(*) from (select 1 from social_analytics group by post_id, analytics_date having count(*) > 1) x"
        )
        == 0
    )
    assert (
        world.one(
            "select count(*) from (select post_id from social_analytics group by 1 having count(*) > 5) x"
        )
        > 0
    )


def test_scores_over_time_and_interaction_campaigns(world: SimWorld) -> None:
    assert (
        world.one(
            "select min(n) from (select count(distinct calculated_at) n from retailer_scores group by retailer_id) x"
        )
        >= 5
    )
    linked = world.one(
        "select count(*) from customer_interactions i join campaigns c"
        " on c.campaign_id::text = i.metadata->>'campaign_id'"
    )
    assert linked > 0
    assert (
        world.one(
            "select count(*) from customer_interactions where metadata->>'campaign_id' is null"
        )
        > 0
    )


# ------------------------------------------------------------ export files


def _rows(path: Path) -> list[dict]:
    text = path.read_text()
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    if path.suffix == ".json":
        return [r for r in json.loads(text) if isinstance(r, dict)]
    out = []
    for line in text.splitlines():
        obj = json.loads(line)
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _export_rows(w: SimWorld, export: str) -> list[dict]:
    return [r for p in sorted((w.landing / export).iterdir()) for r in _rows(p)]


def _export_values(w: SimWorld, export: str, field: str) -> set[str]:
    return {str(r.get(field)) for r in _export_rows(w, export) if r.get(field)}


def test_export_layout_formats_and_mtimes(world: SimWorld) -> None:
    files = world.summary.files
    assert {f.export for f in files} == {"ad_metrics", "social_insights", "orders"}
    suffixes = {p.suffix for p in world.landing.rglob("*.*") if p.name != MARKER}
    assert {".csv", ".jsonl", ".json"} <= suffixes
    for f in files:
        assert f.path.stat().st_mtime == pytest.approx(1790812800 + f.landed_at)
    assert (world.landing / MARKER).exists()


def test_ad_metrics_shape_and_restatement(world: SimWorld) -> None:
    rows = _export_rows(world, "ad_metrics")
    assert {r["platform"] for r in rows} >= {"meta", "google_ads", "tiktok_ads"}
    assert {r["metric_type"] for r in rows} >= {
        "ad_spend",
        "impressions",
        "clicks",
        "conversions",
        "revenue",
        "new_customers",
    }
    assert any(not r["campaign_id"] for r in rows)  # brand-level rows
    currencies = {r["currency"] for r in rows}
    assert {"USD", "usd", ""} <= currencies
    assert any(
        isinstance(r["value"], str)
        for p in world.landing.glob("ad_metrics/*.jsonl")
        for r in _rows(p)
    )
    seen: dict[tuple, set] = {}
    for r in rows:
        key = (r["platform"], r["campaign_id"], r["date"], r["metric_type"])
        seen.setdefault(key, set()).add(
            str(float(r["value"])) if _is_number(r["value"]) else r["value"]
        )
    assert sum(1 for v in seen.values() if len(v) > 1) > 0


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def test_orders_shape_and_refund_restatement(world: SimWorld) -> None:
    rows = [
        r
        for r in _export_rows(world, "orders")
        if r["order_id"] and not r["order_id"].startswith("CS-BAD")
    ]
    assert len(rows) > 600
    campaigns = {r[0] for r in world.all("select campaign_id::text from campaigns")}
    utm = [r["utm_campaign"] or "" for r in rows]
    assert sum(u in campaigns for u in utm) > len(utm) / 2
    assert any(u == "" for u in utm) and any(
        u and u not in campaigns and "-" not in u[:9] for u in utm
    )
    assert any(len(u) == 36 and u not in campaigns for u in utm)  # unknown uuid
    assert {r["status"] for r in rows} == {"paid", "refunded", "cancelled"}
    retailers = {r[0] for r in world.all("select retailer_id::text from retailers")}
    customers = {r[0] for r in world.all("select customer_id::text from customers")}
    mpns = {r[0] for r in world.all("select mpn from watch_models")}
    assert all(r["retailer_id"] in retailers and r["model_mpn"] in mpns for r in rows)
    assert all(r["customer_id"] in customers for r in rows if r["customer_id"])
    restated = _rows(world.landing / "orders" / "orders_restatement_2026-09-30.csv")
    assert restated and all(r["status"] == "refunded" for r in restated)
    paid_before = {
        (r["order_id"], str(r["line_number"]))
        for p in sorted(world.landing.glob("orders/orders_2026-*"))
        for r in _rows(p)
        if r["status"] == "paid"
    }
    assert {(r["order_id"], r["line_number"]) for r in restated} <= paid_before


def test_duplicate_delivery_is_identical(world: SimWorld) -> None:
    dups = world.summary.duplicates
    assert len(dups) == 1
    dup, original = dups[0]
    folder = world.landing / "orders"
    assert (folder / dup).read_bytes() == (folder / original).read_bytes()
    assert (folder / dup).stat().st_mtime > (folder / original).stat().st_mtime


EXPECTED_BAD = {
    ("ad_metrics", "wrong type: value 'abc'"): "abc",
    ("ad_metrics", "unknown enum: platform 'myspace'"): "myspace",
    ("ad_metrics", "wrong number of fields"): ",extra",
    ("ad_metrics", "line is not a JSON object"): '["not"',
    ("ad_metrics", "impossible date 2026-02-30"): "2026-02-30",
    ("ad_metrics", "unsupported currency EUR"): "EUR",
    ("social_insights", "missing key: empty date"): ",",
    ("social_insights", "wrong type: integer reach '12.0'"): '"12.0"',
    ("orders", "missing key: empty order_id"): ",1,",
    ("orders", "wrong type: integer quantity '12.0'"): '"12.0"',
}


def test_bad_rows_are_few_listed_and_where_they_say(world: SimWorld) -> None:
    bad = world.summary.bad_rows
    assert world.summary.bad_row_count == len(EXPECTED_BAD) == 10
    assert {(b.export, b.reason) for b in bad} == set(EXPECTED_BAD)
    for b in bad:
        lines = (world.landing / b.export / b.file_name).read_text().splitlines()
        if b.file_name.endswith(".json"):
            pytest.fail("no bad rows are placed in .json array files")
        assert EXPECTED_BAD[(b.export, b.reason)] in lines[b.line - 1], b


# ------------------------------------------------------------------ advance


def test_advance_applies_one_day(other: SimWorld) -> None:
    w = other
    before_files = {p: p.stat().st_mtime for p in w.landing.rglob("*.*") if p.name != MARKER}
    before = {
        "sends": w.one("select count(*) from email_sends"),
        "max_updated": w.one("select max(updated_at) from email_sends"),
        "wishes": w.one("select count(*) from wish_list_items"),
        "metrics": w.one("select count(*) from retailer_performance_metrics"),
        "analytics": w.one("select count(*) from social_analytics"),
        "campaign_max": w.one("select max(updated_at) from campaigns"),
        "spent": dict(
            w.all(
                "select campaign_id, budget_spent from campaigns where campaign_status = 'active'"
            )
        ),
    }
    s = advance(w.url, w.landing, quiet=True)
    assert s.sim_day == 1 and w.one("select sim_day from simulator.state") == 1
    new_sends = w.one("select count(*) from email_sends") - before["sends"]
    assert new_sends == s.rows["email_sends"] == 300
    assert (
        w.one("select count(*) from email_sends where created_at > %s", (before["max_updated"],))
        == 300
    )
    opened = w.one(
        "select count(*) from email_sends where created_at < '2026-10-01' and opened_at >= '2026-10-01' and open_count >= 1"
    )
    assert opened == s.changes["email_sends_opened"] > 0
    assert (
        w.one(
            "select count(*) from email_sends where created_at < '2026-10-01' and clicked_at >= '2026-10-01'"
        )
        > 0
    )
    assert (
        w.one(
            "select count(*) from email_sends where updated_at >= '2026-10-01' and updated_at < '2026-10-02'"
        )
        == 300 + s.changes["email_sends_opened"] + s.changes["email_sends_clicked"]
    )
    # budgets grew, updated_at moved
    after_spent = dict(
        w.all("select campaign_id, budget_spent from campaigns where campaign_status = 'active'")
    )
    assert before["spent"] and all(after_spent[c] > v for c, v in before["spent"].items())
    assert (
        w.one("select min(updated_at) from campaigns where campaign_status = 'active'")
        > before["campaign_max"]
    )
    # one retailer moved tier and region
    moved = s.changes["retailer_moved"]
    region, tier, updated = w.all(
        "select region, tier, updated_at from retailers where retailer_id = %s",
        (moved["retailer_id"],),
    )[0]
    assert (region, tier) == (moved["new_region"], moved["new_tier"])
    assert region.strip().lower() != moved["old_region"].strip().lower()
    assert tier.strip().lower() != moved["old_tier"].strip().lower()
    assert str(updated.date()) == "2026-10-01"
    # a wish deleted, some counts changed
    assert w.one("select count(*) from wish_list_items") == before["wishes"] - 1
    assert (
        w.one(
            "select count(*) from wish_list_items where wish_id = %s",
            (s.changes["wish_list_items_deleted"][0],),
        )
        == 0
    )
    assert w.one("select count(*) from wish_list_items where updated_at >= '2026-10-01'") == 5
    # new analytics and metrics rows for the new day
    assert (
        w.one("select count(*) from social_analytics where analytics_date = '2026-10-01'")
        == (w.one("select count(*) from social_analytics") - before["analytics"])
        > 0
    )
    assert (
        w.one("select count(*) from retailer_performance_metrics where metric_date = '2026-10-01'")
        == 30
    )
    assert w.one("select count(*) from retailer_performance_metrics") == before["metrics"] + 30
    # the new day's scores drift on from each retailer's day before (no fresh draw), and the
    # generated world's tie survives
    moves = [
        float(r[0])
        for r in w.all(
            "select abs(today.performance_score - yesterday.performance_score)"
            " from retailer_performance_metrics today join retailer_performance_metrics yesterday"
            " using (retailer_id, metric_period)"
            " where metric_period = 'daily' and today.metric_date = '2026-10-01'"
            " and yesterday.metric_date = '2026-09-30'"
        )
    ]
    assert len(moves) == 30 and sorted(moves)[len(moves) // 2] <= 2 and max(moves) <= 10
    assert (
        w.one(
            "select count(*) - count(distinct performance_score) from retailer_performance_metrics"
            " where metric_period = 'daily' and metric_date = '2026-10-01'"
        )
        >= 1
    )
    # new files, landing after every earlier one
    new_files = [f.path for f in s.files]
    assert len(new_files) == 3 and all(p not in before_files for p in new_files)
    assert min(p.stat().st_mtime for p in new_files) > max(before_files.values())
    assert json.loads((w.landing / MARKER).read_text())["sim_day"] == 1
    restated = _rows(w.landing / "orders" / "orders_2026-10-01.csv")
    assert sum(r["status"] == "refunded" and r["order_id"] < "CS-5" for r in restated) == 3


# ------------------------------------------------------------ reuse, refusal


def test_existing_world_is_reused(world: SimWorld, capsys) -> None:
    again = generate(world.url, world.landing, SCALE, 7, quiet=True)
    assert again.reused and again.sim_day == 0


def test_foreign_database_is_refused(make_database, tmp_path: Path) -> None:
    url = make_database("foreign")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table public.orders (id int)")
    with pytest.raises(SimulatorRefused, match="did not create"):
        generate(url, tmp_path / "landing", SCALE, 7, quiet=True, regenerate=True)
    with psycopg.connect(url) as conn:
        assert [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'public'"
            )
        ] == ["orders"]
        assert conn.execute("select to_regnamespace('simulator')").fetchone()[0] is None
    assert not (tmp_path / "landing").exists()


def test_foreign_landing_dir_is_refused(make_database, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "someone_elses.csv").write_text("a,b\n")
    url = make_database("emptysrc")
    with pytest.raises(SimulatorRefused, match="marker"):
        generate(url, landing, SCALE, 7, quiet=True)
    assert [p.name for p in landing.iterdir()] == ["someone_elses.csv"]
    with psycopg.connect(url) as conn:
        assert (
            conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'public'"
            ).fetchone()[0]
            == 0
        )


@pytest.fixture
def real_sources(monkeypatch, make_database, tmp_path: Path):
    url = make_database("real")
    monkeypatch.setenv("SOURCE_DATABASE_URL", url)
    monkeypatch.setenv("LANDING_DIR", str(tmp_path / "real_landing"))
    get_settings.cache_clear()
    yield url, tmp_path / "real_landing"
    monkeypatch.undo()
    get_settings.cache_clear()


def test_cli_refuses_configured_real_sources(real_sources, capsys) -> None:
    url, landing = real_sources
    assert not get_settings().uses_demo_sources
    assert cli_main(["--scale", "0.01", "--quiet"]) != 0
    assert "real" in capsys.readouterr().err
    assert cli_main(["--advance", "--quiet"]) != 0
    with psycopg.connect(url) as conn:
        assert (
            conn.execute(
                "select count(*) from information_schema.tables where table_schema in ('public', 'simulator')"
            ).fetchone()[0]
            == 0
        )
    assert not landing.exists()
    assert os.environ["SOURCE_DATABASE_URL"] == url
