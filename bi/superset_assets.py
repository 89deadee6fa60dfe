"""Dashboards as code: bi/assets/*.yaml → a Superset import bundle (its native v1 format).

The repo keeps a compact description of the datasets (bi/assets/datasets.yaml) and of each
dashboard (bi/assets/dashboards/*.yaml: rows of charts whose ``params`` are Superset form
data). This module turns them into the YAML files of a Superset export (databases/,
datasets/, charts/, dashboards/), with UUIDs derived from the keys, so that every import
overwrites the same objects: a second import changes nothing and duplicates nothing.

Dataset columns and their descriptions are not in the repo: they are read from the marts
(column COMMENTs written by dbt from the models' YAML) at every provisioning.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ASSETS = Path(__file__).resolve().parent / "assets"
NAMESPACE = uuid.UUID("5b0d7a52-7c3e-4c55-9a51-3f0c1b6e2a10")
DATABASE_NAME = "CrownSync warehouse"
SCHEMA = "marts"
VERSION = "1.0.0"


def stable_uuid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


DATABASE_UUID = stable_uuid("database", "warehouse")


@dataclass
class Column:
    name: str
    type: str
    description: str | None = None

    @property
    def is_dttm(self) -> bool:
        return self.type.upper() in {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"}


@dataclass
class Spec:
    datasets: dict[str, dict[str, Any]]
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def charts(self) -> list[dict[str, Any]]:
        return [
            chart
            for dashboard in self.dashboards.values()
            for row in dashboard["rows"]
            for chart in row
        ]


def load_spec(assets: Path = ASSETS) -> Spec:
    datasets = yaml.safe_load((assets / "datasets.yaml").read_text())["datasets"]
    dashboards = {
        path.stem: yaml.safe_load(path.read_text())
        for path in sorted((assets / "dashboards").glob("*.yaml"))
    }
    spec = Spec(datasets=datasets, dashboards=dashboards)
    for chart in spec.charts():
        if chart["dataset"] not in datasets:
            raise ValueError(f"chart {chart['key']}: unknown dataset {chart['dataset']!r}")
    return spec


def database_config(sqlalchemy_uri: str) -> dict[str, Any]:
    """The warehouse connection: read-only role, SQL Lab without DML/DDL, CTAS, CVAS, upload."""
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": sqlalchemy_uri,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_csv_upload": False,
        "extra": {
            "allows_virtual_table_explore": True,
            "schemas_allowed_for_csv_upload": [],
            # a second lock besides allow_dml: every session is read only, bounded in time
            "engine_params": {
                "connect_args": {
                    "options": "-c default_transaction_read_only=on -c statement_timeout=120000",
                    "connect_timeout": 10,
                    "application_name": "crownsync-superset",
                }
            },
        },
        "uuid": DATABASE_UUID,
        "version": VERSION,
    }


def dataset_config(key: str, spec: dict[str, Any], columns: list[Column]) -> dict[str, Any]:
    metrics = [
        {
            "metric_name": name,
            "verbose_name": None,
            "metric_type": None,
            "expression": metric["sql"],
            "description": metric.get("description"),
            "d3format": metric.get("format"),
            "extra": {},
            "warning_text": None,
        }
        for name, metric in (spec.get("metrics") or {}).items()
    ]
    return {
        "table_name": spec.get("table", key),
        "main_dttm_col": spec.get("main_dttm_col"),
        "description": spec.get("description"),
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "schema": SCHEMA,
        "sql": spec.get("sql"),
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "uuid": stable_uuid("dataset", key),
        "metrics": metrics,
        "columns": [
            {
                "column_name": column.name,
                "verbose_name": None,
                "is_dttm": column.is_dttm,
                "is_active": True,
                "type": column.type,
                "groupby": True,
                "filterable": True,
                "expression": None,
                "description": column.description,
                "python_date_format": None,
                "extra": {},
            }
            for column in columns
        ],
        "version": VERSION,
        "database_uuid": DATABASE_UUID,
    }


def _temporal_filter(dataset: dict[str, Any]) -> list[dict[str, Any]]:
    column = dataset.get("main_dttm_col")
    if not column:
        return []
    return [
        {
            "clause": "WHERE",
            "subject": column,
            "operator": "TEMPORAL_RANGE",
            "comparator": "No filter",
            "expressionType": "SIMPLE",
        }
    ]


def chart_params(chart: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    params = dict(chart["params"])
    params.setdefault("adhoc_filters", [])
    params["adhoc_filters"] = _temporal_filter(dataset) + list(params["adhoc_filters"])
    if dataset.get("main_dttm_col"):
        params.setdefault("granularity_sqla", dataset["main_dttm_col"])
    params.setdefault("time_range", "No filter")
    params.setdefault("color_scheme", "supersetColors")
    params.setdefault("extra_form_data", {})
    return params


def _query(params: dict[str, Any]) -> dict[str, Any]:
    """The chart's data query, as the frontend's buildQuery would send it (for the saved
    query context that ``GET /api/v1/chart/{id}/data`` runs)."""
    viz = params["viz_type"]
    filters = [
        {"col": f["subject"], "op": "TEMPORAL_RANGE", "val": f["comparator"]}
        for f in params["adhoc_filters"]
        if f.get("operator") == "TEMPORAL_RANGE"
    ]
    where = " and ".join(
        f"({f['sqlExpression']})"
        for f in params["adhoc_filters"]
        if f.get("expressionType") == "SQL" and f.get("clause") == "WHERE"
    )
    metrics = list(params.get("metrics") or ([params["metric"]] if params.get("metric") else []))
    columns: list[Any] = []
    orderby: list[Any] = []
    if params.get("query_mode") == "raw":
        columns = list(params["all_columns"])
        metrics = []
        orderby = [json.loads(item) for item in params.get("order_by_cols", [])]
    else:
        x_axis = params.get("x_axis")
        if x_axis and params.get("time_grain_sqla"):
            columns.append(
                {
                    "timeGrain": params["time_grain_sqla"],
                    "columnType": "BASE_AXIS",
                    "sqlExpression": x_axis,
                    "label": x_axis,
                    "expressionType": "SQL",
                }
            )
        elif x_axis:
            columns.append(x_axis)
        groupby = params.get("groupby") or []
        columns += [groupby] if isinstance(groupby, str) else list(groupby)
        order_metric = params.get("timeseries_limit_metric") or (metrics[0] if metrics else None)
        if order_metric and viz != "big_number_total":
            orderby = [[order_metric, not params.get("order_desc", True)]]
    return {
        "filters": filters,
        "extras": {"having": "", "where": where},
        "applied_time_extras": {},
        "columns": columns,
        "metrics": metrics,
        "orderby": orderby,
        "annotation_layers": [],
        "row_limit": params.get("row_limit", 10000),
        "series_limit": params.get("series_limit", 0),
        "series_limit_metric": params.get("series_limit_metric"),
        "order_desc": params.get("order_desc", True),
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }


def chart_config(chart: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    params = chart_params(chart, dataset)
    query_context = {
        "datasource": {"id": 0, "type": "table"},  # replaced by the importer
        "force": False,
        "queries": [_query(params)],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }
    return {
        "slice_name": chart["title"],
        "description": chart.get("description"),
        "certified_by": None,
        "certification_details": None,
        "viz_type": params["viz_type"],
        "params": params,
        "query_context": json.dumps(query_context),
        "cache_timeout": None,
        "uuid": stable_uuid("chart", chart["key"]),
        "version": VERSION,
        "dataset_uuid": stable_uuid("dataset", chart["dataset"]),
    }


def _native_filter(
    key: str, number: int, spec: dict[str, Any], chart_ids: list[int]
) -> dict[str, Any]:
    kind = spec["type"]
    targets: list[dict[str, Any]] = [{}]
    control: dict[str, Any] = {}
    if kind == "filter_select":
        targets = [
            {
                "column": {"name": spec["column"]},
                "datasetUuid": stable_uuid("dataset", spec["dataset"]),
            }
        ]
        control = {
            "enableEmptyFilter": False,
            "defaultToFirstItem": bool(spec.get("default_first")),
            "multiSelect": not spec.get("single"),
            "searchAllOptions": False,
            "inverseSelection": False,
        }
    default_mask: dict[str, Any] = {"extraFormData": {}, "filterState": {}, "ownState": {}}
    if spec.get("default"):
        values = list(spec["default"])
        default_mask = {
            "extraFormData": {"filters": [{"col": spec["column"], "op": "IN", "val": values}]},
            "filterState": {"value": values, "label": ", ".join(values)},
            "ownState": {},
        }
    return {
        "id": f"NATIVE_FILTER-{key}-{number}",
        "controlValues": control,
        "name": spec["name"],
        "filterType": kind,
        "targets": targets,
        "defaultDataMask": default_mask,
        "cascadeParentIds": [],
        "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
        "type": "NATIVE_FILTER",
        "description": "",
        "chartsInScope": chart_ids,
        "tabsInScope": [],
    }


def dashboard_config(key: str, spec: dict[str, Any], first_chart_id: int) -> dict[str, Any]:
    """Layout (``position``) and native filters; chart ids are placeholders that the
    importer maps to the real ones through each chart's UUID."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": spec["title"]}},
    }
    chart_ids = []
    next_id = first_chart_id
    for number, row in enumerate(spec["rows"], start=1):
        row_id = f"ROW-{key}-{number}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart in row:
            chart_id = f"CHART-{chart['key']}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {
                "type": "CHART",
                "id": chart_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "width": chart["width"],
                    "height": chart["height"],
                    "chartId": next_id,
                    "sliceName": chart["title"],
                    "uuid": stable_uuid("chart", chart["key"]),
                },
            }
            chart_ids.append(next_id)
            next_id += 1
    metadata = {
        "native_filter_configuration": [
            _native_filter(key, number, item, chart_ids)
            for number, item in enumerate(spec.get("filters", []), start=1)
        ],
        "chart_configuration": {},
        "global_chart_configuration": {
            "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
            "chartsInScope": chart_ids,
        },
        "color_scheme": "supersetColors",
        "refresh_frequency": 0,
        "expanded_slices": {},
        "label_colors": {},
        "shared_label_colors": [],
        "color_scheme_domain": [],
        "cross_filters_enabled": True,
        "timed_refresh_immune_slices": [],
        "default_filters": "{}",
    }
    return {
        "dashboard_title": spec["title"],
        "description": spec.get("description"),
        "css": "",
        "slug": spec["slug"],
        "uuid": stable_uuid("dashboard", key),
        "position": position,
        "metadata": metadata,
        "version": VERSION,
        "published": True,
    }


def bundle(spec: Spec, sqlalchemy_uri: str, columns: dict[str, list[Column]]) -> dict[str, str]:
    """File name → YAML text of a Superset v1 import bundle."""
    files = {
        "metadata.yaml": {
            "version": VERSION,
            "type": "assets",
            "timestamp": "2026-01-01T00:00:00+00:00",
        },
        "databases/warehouse.yaml": database_config(sqlalchemy_uri),
    }
    for key, dataset in spec.datasets.items():
        files[f"datasets/warehouse/{key}.yaml"] = dataset_config(key, dataset, columns[key])
    first_id = 1
    for key, dashboard in spec.dashboards.items():
        for row in dashboard["rows"]:
            for chart in row:
                files[f"charts/{chart['key']}.yaml"] = chart_config(
                    chart, spec.datasets[chart["dataset"]]
                )
        files[f"dashboards/{key}.yaml"] = dashboard_config(key, dashboard, first_id)
        first_id += sum(len(row) for row in dashboard["rows"])
    return {name: yaml.safe_dump(config, sort_keys=False) for name, config in files.items()}
