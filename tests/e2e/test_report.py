"""`make report`: one self-contained HTML file from the live marts, rendered by a real browser.

Builds a scale-0.01 world (ingest + dbt build), runs ``python -m serving.report`` into a
temporary folder, checks the page holds the four charts and the marts' real figures, then
loads it in headless Chromium (offline, from file://) and checks plotly drew every chart.
Without Chromium the browser test installs Debian's ``chromium`` (root only, once per
session) or skips with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT
from serving.report import CHART_IDS
from tests import processes
from tests.dbt_runner import run_dbt
from tests.system_packages import INSTALL_SECONDS, require_tool

# The module's fixtures (ingest + dbt build + the report: 187–190 s at load 8–9 on 2 cores)
# are timed with whichever test runs first: every test here gets ≈ 4.5× that.
MODULE_SECONDS = 900
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(MODULE_SECONDS)]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",
]


def _report_cli(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "serving.report", "--out", str(out)],
        cwd=PROJECT_ROOT,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def chromium() -> str:
    """Path of a Chromium binary (Debian's package, installed once if possible); else skip."""
    found = shutil.which("chromium-browser")
    return found or require_tool("chromium", "chromium")


def _chart_dom(dom: str, chart_id: str) -> str:
    """The rendered content of one chart div: from its opening tag to the script after it."""
    start = dom.find(f'id="{chart_id}"')
    assert start >= 0, f"{chart_id} missing from the rendered page"
    end = dom.find("<script", start)
    return dom[start : end if end > 0 else len(dom)]


@pytest.fixture(scope="module")
def built_world(world, tmp_path_factory):
    """The world with its marts built (ingest + dbt build), as `make run` would leave it."""
    from ingestion.api import ingest_all

    report = ingest_all(
        warehouse_url=world.warehouse_url,
        source_url=world.source_url,
        landing_dir=world.landing_dir,
    )
    assert report.ok, report.errors
    run_dbt(["build"], world.warehouse_url, tmp_path_factory.mktemp("report-dbt") / "target")
    return world


@pytest.fixture(scope="module")
def report_file(built_world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "nested" / "crownsync_report.html"
    result = _report_cli(out, dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(out) in result.stdout  # says where it wrote the file
    return out


def test_report_holds_the_charts_and_the_marts_figures(built_world, report_file):
    page = report_file.read_text(encoding="utf-8")
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' in page, chart_id
    # self-contained: plotly.js inlined, nothing fetched from a network or a server
    assert "Plotly.newPlot" in page and len(page) > 1_000_000
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+stylesheet", page)

    with psycopg.connect(built_world.warehouse_url) as conn:
        campaigns, sent, spend, ad_revenue = conn.execute(
            "select count(*), sum(emails_sent), sum(ad_spend), sum(ad_revenue) "
            "from marts.campaign_performance"
        ).fetchone()
        regions = [
            r[0] for r in conn.execute("select distinct region from marts.regional_wish_list")
        ]
        period_date = conn.execute(
            "select max(metric_date) from marts.retailer_ranking where metric_period = 'weekly'"
        ).fetchone()[0]
        kpi = conn.execute(
            "select open_rate_pct, click_rate_pct, ad_roas from marts.fct_campaign_kpis"
        ).fetchone()
    assert sent > 0 and campaigns > 0
    assert f">{sent:,}<" in page  # the KPI tile: Σ emails_sent of the mart
    assert f">{campaigns:,}<" in page
    # the tiles show the KPI mart's columns, and that mart agrees with the campaign mart
    open_rate, click_rate, roas = (float(v) for v in kpi)
    assert roas == round(float(ad_revenue) / float(spend), 2)
    assert f">{roas:,.2f}×<" in page  # ROAS overall
    assert f">{open_rate:.2f} %<" in page and f">{click_rate:.2f} %<" in page
    # the header names the database, never a connection URL or a credential
    from crownsync.settings import database_name, url_parts

    assert f"<b>{database_name(built_world.warehouse_url)}</b>" in page
    assert "postgresql://" not in page
    password = url_parts(built_world.warehouse_url)["password"]
    assert not password or password not in page
    assert all(region in page for region in regions)
    assert f"{period_date:%d %b %Y}" in page  # the leaderboard's date


def _figures(page: str) -> dict:
    """The page's machine-readable figures block (what the tiles and charts show)."""
    block = re.search(
        r'<script type="application/json" id="report-figures">(.*?)</script>', page, re.DOTALL
    )
    assert block, "the report embeds no figures block"
    return json.loads(block.group(1))


def _number(value: object) -> float | None:
    return None if value is None else float(value)


def test_report_figures_equal_the_marts(built_world, report_file):
    figures = _figures(report_file.read_text(encoding="utf-8"))
    with psycopg.connect(built_world.warehouse_url) as conn:
        cur = conn.execute("select * from marts.fct_campaign_kpis")
        kpis = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
        top = len(figures["roas"])
        roas = conn.execute(
            "select campaign_id::text, ad_spend, ad_revenue, ad_roas from marts.campaign_performance"
            " where ad_spend > 0 order by ad_spend desc limit %s",
            (top,),
        ).fetchall()
        board = figures["leaderboard"]
        ranking = conn.execute(
            "select retailer_id::text, retailer_name, overall_rank, previous_overall_rank,"
            " rank_change, performance_score from marts.retailer_ranking"
            " where metric_period = %s and metric_date = %s order by overall_rank, retailer_name"
            " limit %s",
            (board["metric_period"], board["metric_date"], len(board["rows"])),
        ).fetchall()
    # every KPI the page names is the mart's column, unchanged
    for name, value in kpis.items():
        shown = figures["kpis"][name]
        assert (shown if isinstance(value, str) else _number(shown)) == (
            value if isinstance(value, str) else _number(value)
        ), name
    # the funnel: counts of the KPI mart, rates as the marts define them (and say the base)
    funnel = {step["stage"]: step for step in figures["funnel"]}
    assert funnel["Sent"]["count"] == kpis["emails_sent"]
    assert (funnel["Delivered"]["base"], _number(funnel["Delivered"]["rate_pct"])) == (
        "sent",
        _number(kpis["delivery_rate_pct"]),
    )
    assert (funnel["Opened"]["base"], _number(funnel["Opened"]["rate_pct"])) == (
        "delivered",
        _number(kpis["open_rate_pct"]),
    )
    assert (funnel["Clicked"]["base"], _number(funnel["Clicked"]["rate_pct"])) == (
        "delivered",
        _number(kpis["click_rate_pct"]),
    )
    assert funnel["Clicked"]["count"] == kpis["unique_clicks"]
    # the ROAS chart: the campaigns with the largest ad spend, with the mart's ROAS
    assert top > 0
    assert [
        (r["campaign_id"], _number(r["ad_spend"]), _number(r["ad_revenue"]), _number(r["ad_roas"]))
        for r in figures["roas"]
    ] == [(c, _number(s), _number(r), _number(x)) for c, s, r, x in roas]
    # the leaderboard: ranks and rank movement are the mart's columns
    assert board["metric_period"] == "weekly" and ranking
    assert [
        (
            r["retailer_id"],
            r["retailer_name"],
            r["overall_rank"],
            r["previous_overall_rank"],
            r["rank_change"],
            _number(r["performance_score"]),
        )
        for r in board["rows"]
    ] == [(a, b, c, d, e, _number(f)) for a, b, c, d, e, f in ranking]


def test_report_shows_no_credentials(built_world, report_file):
    from crownsync.settings import url_parts

    page = report_file.read_text(encoding="utf-8")
    parts = url_parts(built_world.warehouse_url)
    assert not re.search(r"postgres(ql)?://", page)
    assert not parts["password"] or parts["password"] not in page
    # the superuser's name appears nowhere the page writes (plotly.js, inlined, is not ours)
    import plotly.offline

    ours = page.replace(plotly.offline.get_plotlyjs(), "")
    assert len(ours) < len(page)
    assert parts["user"] and not re.search(rf"\b{re.escape(parts['user'])}\b", ours)
    assert _figures(page)["database"] == parts["database"]


def test_demo_world_figures_are_plausible(built_world):
    """The simulated world reads like real marketing (issue 13): ROAS mostly 1–8 with a long
    tail, open rates 20–45 %, scores that drift so ranks move a few places a day, every raw
    region cleaning to a canonical one."""
    from simulator.world import REGIONS

    with psycopg.connect(built_world.warehouse_url) as conn:
        roas = [
            float(r[0])
            for r in conn.execute(
                "select ad_roas from marts.campaign_performance where ad_roas is not null"
            )
        ]
        overall = float(conn.execute("select ad_roas from marts.fct_campaign_kpis").fetchone()[0])
        open_rates = [
            float(r[0])
            for r in conn.execute(
                "select open_rate_pct from marts.campaign_performance where emails_delivered >= 200"
            )
        ]
        daily = conn.execute(
            "select abs(rank_change), abs(score_change) from marts.retailer_ranking"
            " where metric_period = 'daily' and rank_change is not null"
        ).fetchall()
        regions = {r[0] for r in conn.execute("select distinct region from marts.retailer_ranking")}
        staged = {
            r[0] for r in conn.execute("select distinct region from staging.stg_app_db__retailers")
        }
    assert len(roas) >= 5
    assert 1 <= overall <= 8
    assert 1 <= statistics.median(roas) <= 8
    assert sum(1 <= r <= 8 for r in roas) >= 0.7 * len(roas), sorted(roas)
    assert max(roas) < 30, sorted(roas)  # a long tail, not 79x
    assert len(open_rates) >= 5 and all(20 <= r <= 45 for r in open_rates), sorted(open_rates)
    rank_moves = [int(r[0]) for r in daily]
    score_moves = [float(r[1]) for r in daily]
    assert len(rank_moves) > 100
    assert statistics.median(rank_moves) <= 3  # a few places a day
    assert statistics.median(score_moves) <= 2  # drift, not a fresh score every day
    assert staged <= set(REGIONS) and regions <= set(REGIONS), staged - set(REGIONS)


def test_mart_indexes_have_readable_names(built_world):
    with psycopg.connect(built_world.warehouse_url) as conn:
        indexes = conn.execute(
            "select tablename, indexname, indexdef from pg_indexes where schemaname = 'marts'"
        ).fetchall()
    assert indexes
    for table, name, definition in indexes:
        assert len(name) <= 63
        assert not re.fullmatch(r"[0-9a-f]{32}", name), (table, name)
        assert name == f"{table}_pkey" or name.startswith(f"{table}__"), (table, name, definition)
    names = {name for _, name, _ in indexes}
    assert "campaign_performance__brand_id_idx" in names


@pytest.mark.timeout(MODULE_SECONDS + INSTALL_SECONDS)  # may apt-get install chromium first
def test_report_renders_in_headless_chromium(report_file, tmp_path):
    browser = chromium()
    url = report_file.resolve().as_uri()
    dump = processes.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
        timeout=180,
    )
    assert dump.returncode == 0, dump.stderr[-3000:]
    dom = dump.stdout
    for chart_id in CHART_IDS:
        chart = _chart_dom(dom, chart_id)
        assert "main-svg" in chart, f"{chart_id}: plotly drew no svg"
        trace_groups = chart.count('class="trace') + chart.count('class="hm"')
        marks = chart.count('class="point') + chart.count("<image")  # bars / heatmap bitmap
        assert trace_groups > 0 and marks > 0, (chart_id, trace_groups, marks)

    shot = tmp_path / "report.png"
    result = processes.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            "--window-size=1400,2400",
            f"--screenshot={shot}",
            url,
        ],
        timeout=180,
    )
    assert result.returncode == 0 and shot.exists(), result.stderr[-3000:]
    assert shot.stat().st_size > 50_000  # a page with charts, not a blank one


def test_report_says_run_make_run_when_the_marts_are_missing(make_database, tmp_path):
    empty = make_database("nomarts")
    out = tmp_path / "report.html"
    result = _report_cli(out, {**os.environ, "DATABASE_URL": empty})
    assert result.returncode == 1
    assert "make run" in result.stderr and "marts.campaign_performance" in result.stderr
    assert not out.exists()
