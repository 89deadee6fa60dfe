"""The simulator's building blocks, without a database."""

from __future__ import annotations

import csv
import io
import json
import uuid

import numpy as np
import pandas as pd

from simulator.app_db_writer import csv_text
from simulator.core import Sizes, dates, money, rng_for, ts, uuids
from simulator.export_writer import Bad, render
from simulator.world import build_world


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
