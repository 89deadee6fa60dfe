"""The simulator's building blocks, without a database."""

from __future__ import annotations

import ast
import csv
import io
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from crownsync.settings import PROJECT_ROOT
from ingestion.platform_exports import schemas
from simulator.app_db_writer import csv_text
from simulator.core import Sizes, dates, money, rng_for, ts, uuids
from simulator.export_files import Bad, render
from simulator.scenarios import BAD_ROWS_FILE, CONTRACT_VALUES, bad_rows_by_file
from simulator.world import build_world

IDS = {
    "brand0": "b-0",
    "campaign0": "c-0",
    "account0": "a-0",
    "retailer0": "r-0",
    "model0": "M-0",
}


def test_uuids_are_deterministic_version_4() -> None:
    a = uuids(rng_for(7, "t"), 1000)
    b = uuids(rng_for(7, "t"), 1000)
    assert list(a) == list(b)
    assert len(set(a)) == 1000
    parsed = [uuid.UUID(x) for x in a]
    assert all(u.version == 4 and str(u) == x for u, x in zip(parsed, a, strict=True))
    assert list(uuids(rng_for(8, "t"), 5)) != list(a[:5])
    assert list(uuids(rng_for(7, "other"), 5)) != list(a[:5])


def test_timestamps_and_dates_relative_to_day0() -> None:
    assert list(ts(np.array([0.0, -1.0, 86_400.0 + 3_661, np.nan]))) == [
        "2026-10-01T00:00:00",
        "2026-09-30T23:59:59",
        "2026-10-02T01:01:01",
        None,
    ]
    assert list(dates(np.array([0.0, -1.0, np.nan]))) == ["2026-10-01", "2026-09-30", None]
    assert list(money(np.array([1.005, 2.0, 1234.567]))) == ["1.0", "2.0", "1234.57"]


def test_sizes_scale_with_floors() -> None:
    one, tiny = Sizes(1), Sizes(0.01)
    assert (one.brands, one.retailers, one.campaigns, one.watch_models) == (40, 1_500, 4_000, 600)
    assert (one.email_sends, one.wish_list_items, one.order_lines) == (3_000_000, 150_000, 300_000)
    assert tiny.brands == 5 and tiny.retailers == 30 and tiny.email_sends == 30_000


def test_csv_text_nulls_booleans_and_quoting() -> None:
    frame = pd.DataFrame(
        {
            "a": np.array(["x", None, 'say "hi", ok'], dtype=object),
            "b": np.array([True, False, True]),
            "c": np.array([1, 2, 3]),
            "d": np.array(['{"k": 1}', None, "plain"], dtype=object),
        }
    )
    text = csv_text(frame)
    assert text.splitlines()[1] == ",f,2,"
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[2] == ['say "hi", ok', "t", "3", "plain"]
    assert parsed[0][3] == '{"k": 1}'


def test_render_reports_physical_lines_of_bad_records() -> None:
    fields = ["x", "y"]
    records = [{"x": "1", "y": "a"}, Bad("1,2,3", "wrong number of fields"), {"x": "2", "y": None}]
    data, bad = render("csv", fields, records)
    assert data.decode().splitlines() == ["x,y", "1,a", "1,2,3", "2,"]
    assert bad == [(3, "wrong number of fields")]
    data, bad = render("jsonl", fields, [Bad("[1]", "not an object"), {"x": 1, "y": "b"}])
    assert data.decode().splitlines()[1] == json.dumps({"x": 1, "y": "b"})
    assert bad == [(1, "not an object")]
    data, _ = render("json", fields, [{"x": 1}, {"x": 2}])
    assert json.loads(data) == [{"x": 1}, {"x": 2}]


def test_world_dimensions_are_deterministic_and_dirty() -> None:
    a, b = build_world(7, 0.01), build_world(7, 0.01)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    retailers = a.tables["retailers"]
    assert {" east coast", "West  Coast"} <= set(retailers["region"])
    assert {"PREMIUM ", "Standard"} <= set(retailers["tier"])
    assert (~retailers["is_active"]).sum() >= 2
    assert a.campaign_silent.sum() >= 2
    assert (
        build_world(8, 0.01).tables["brands"]["brand_id"].iloc[0]
        != a.tables["brands"]["brand_id"].iloc[0]
    )


def test_bad_row_scenarios_fill_ids_and_contract_values() -> None:
    bad = bad_rows_by_file(IDS)
    assert sum(len(b) for b in bad.values()) == 10
    assert [(name, len(b)) for name, b in bad.items()] == [
        ("ad_metrics_2026-04-04_2026-05-03.csv", 3),
        ("ad_metrics_2026-05-04_2026-06-02.jsonl", 2),
        ("ad_metrics_2026-06-03_2026-07-02.csv", 1),
        ("social_insights_2026-08-02_2026-08-21.csv", 1),
        ("social_insights_2026-08-22_2026-09-10.jsonl", 1),
        ("orders_2026-04-04_2026-05-03.csv", 1),
        ("orders_2026-05-04_2026-06-02.jsonl", 1),
    ]
    rows = [r.row for b in bad.values() for r in b]
    strings = [v for r in rows for v in (r.values() if isinstance(r, dict) else [r])]
    assert not [v for v in strings if isinstance(v, str) and "{" in v]  # all filled
    text = json.dumps(rows)
    assert "b-0" in text and "c-0" in text and "a-0" in text and "r-0" in text and "M-0" in text
    ad = [r for r in bad["ad_metrics_2026-04-04_2026-05-03.csv"] if isinstance(r.row, dict)]
    assert ad[0].row["platform"] in schemas.AD_PLATFORMS
    assert ad[0].row["metric_type"] in schemas.AD_METRIC_TYPES
    assert ad[1].row["platform"] == "myspace"
    line = bad["ad_metrics_2026-04-04_2026-05-03.csv"][2].row
    assert isinstance(line, str) and len(line.split(",")) == 8 and ",b-0,c-0," in line


def test_bad_row_scenarios_take_valid_enum_values_from_the_contract() -> None:
    """In the data file, a valid value is a placeholder; only invalid ones are literal."""
    spec = yaml.safe_load(BAD_ROWS_FILE.read_text())
    valid = {v for values in CONTRACT_VALUES.values() for v in values}
    for files in spec.values():
        for entries in files.values():
            for entry in entries:
                values = entry.get("row", {}).values()
                assert not valid & {v for v in values if isinstance(v, str)}, entry
                assert not valid & set(entry.get("line", "").split(",")), entry
    # the file ships inside the package (hatch includes non-.py files of package folders)
    assert BAD_ROWS_FILE.parent == PROJECT_ROOT / "simulator" / "scenarios"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"reason": "x", "line": "{nope}"}, "bad placeholder"),
        ({"reason": "x", "line": "{ad_platforms[9]}"}, "bad placeholder"),
        ({"reason": "x"}, "needs reason and one of row/line"),
        ({"reason": "x", "row": {"date": "2026-01-01"}}, "row keys must be"),
    ],
)
def test_bad_row_scenarios_are_checked(tmp_path: Path, entry: dict, message: str) -> None:
    path = tmp_path / "bad_rows.yml"
    path.write_text(yaml.safe_dump({"ad_metrics": {"ad_metrics_x.csv": [entry]}}))
    with pytest.raises(ValueError, match=message):
        bad_rows_by_file(IDS, path)


def test_only_tests_and_bench_import_the_simulator() -> None:
    for package in ("crownsync", "ingestion", "orchestration", "serving"):
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                assert not [n for n in names if n.split(".")[0] == "simulator"], path
