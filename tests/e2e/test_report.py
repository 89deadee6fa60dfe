"""`make report`: one self-contained HTML file from the live marts, rendered by a real browser.

Builds a scale-0.01 world (ingest + dbt build), runs ``python -m serving.report`` into a
temporary folder, checks the page holds the four charts and the marts' real figures, then
loads it in headless Chromium (offline, from file://) and checks plotly drew every chart.
Without Chromium the browser test installs Debian's ``chromium`` (root only, once per
session) or skips with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from crownsync.settings import PROJECT_ROOT
from serving.report import CHART_IDS
from tests.dbt_runner import run_dbt
from tests.system_packages import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

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


def test_report_renders_in_headless_chromium(report_file, tmp_path):
    browser = chromium()
    url = report_file.resolve().as_uri()
    dump = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
        capture_output=True,
        text=True,
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
    result = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            "--window-size=1400,2400",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        text=True,
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
