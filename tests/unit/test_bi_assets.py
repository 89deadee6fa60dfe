"""bi/assets → Superset bundle: every reference resolves, UUIDs are stable (so a re-import
overwrites instead of duplicating), KPI rates are ratios of sums."""

from __future__ import annotations

import importlib.util
import json
import sys

import yaml

from crownsync.settings import PROJECT_ROOT


def _assets():
    spec = importlib.util.spec_from_file_location(
        "superset_assets", PROJECT_ROOT / "bi" / "superset_assets.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("superset_assets", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _bundle(assets):
    spec = assets.load_spec()
    columns = {key: [assets.Column("brand_id", "UUID")] for key in spec.datasets}
    return spec, assets.bundle(spec, "postgresql+psycopg2://u:p@h:5432/d", columns)


def test_every_chart_metric_and_filter_resolves():
    assets = _assets()
    spec = assets.load_spec()
    assert set(spec.dashboards) == {
        "campaign_performance",
        "retailer_ranking",
        "regional_wish_list",
    }
    for chart in spec.charts():
        dataset = spec.datasets[chart["dataset"]]
        params = chart["params"]
        names = list(params.get("metrics") or []) + (
            [params["metric"]] if "metric" in params else []
        )
        for name in names:
            assert name in (dataset.get("metrics") or {}), f"{chart['key']}: metric {name}"
    for dashboard in spec.dashboards.values():
        for row in dashboard["rows"]:
            assert sum(chart["width"] for chart in row) <= 12, dashboard["title"]
        for item in dashboard.get("filters", []):
            assert item["type"] == "filter_time" or item["dataset"] in spec.datasets


def test_bundle_uuids_are_stable_and_unique():
    assets = _assets()
    _, first = _bundle(assets)
    _, second = _bundle(assets)
    assert first == second
    uuids = [
        yaml.safe_load(text).get("uuid") for name, text in first.items() if name != "metadata.yaml"
    ]
    assert len(uuids) == len(set(uuids))
    dashboard = yaml.safe_load(first["dashboards/campaign_performance.yaml"])
    charts = {yaml.safe_load(t)["uuid"] for n, t in first.items() if n.startswith("charts/")}
    in_layout = {
        v["meta"]["uuid"]
        for v in dashboard["position"].values()
        if isinstance(v, dict) and v.get("type") == "CHART"
    }
    assert in_layout <= charts and len(in_layout) == 9


def test_rates_are_ratios_of_sums_and_the_connection_cannot_write():
    assets = _assets()
    spec, files = _bundle(assets)
    metrics = spec.datasets["campaign_performance"]["metrics"]
    for name in ("open_rate_pct", "click_rate_pct", "ad_roas"):
        sql = metrics[name]["sql"]
        assert "avg(" not in sql and sql.count("sum(") == 2 and "nullif(" in sql
    database = yaml.safe_load(files["databases/warehouse.yaml"])
    assert database["allow_dml"] is False and database["allow_ctas"] is False
    assert "default_transaction_read_only=on" in json.dumps(database["extra"])
    chart = yaml.safe_load(files["charts/kpi_open_rate.yaml"])
    query = json.loads(chart["query_context"])["queries"][0]
    assert query["metrics"] == ["open_rate_pct"]
