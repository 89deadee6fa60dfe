"""The Great Expectations runner: results are real, failures are caught, memory stays flat."""

from __future__ import annotations

import pytest

from crownsync.warehouse.bootstrap import bootstrap_warehouse
from crownsync.warehouse.connections import connect_warehouse
from orchestration.defs.quality.great_expectations import Expectation as E
from orchestration.defs.quality.great_expectations import validate

pytestmark = pytest.mark.integration


def test_suite_passes_and_fails_on_the_data(make_database):
    warehouse = make_database("ge")
    bootstrap_warehouse(warehouse)
    with connect_warehouse(warehouse, autocommit=True) as conn:  # as the owner, like ingestion
        conn.execute("create table raw.probe (id int, status text, n int)")
        conn.execute(
            "insert into raw.probe select g, case when g = 7 then 'weird' else 'ok' end, g "
            "from generate_series(1, 200000) g"
        )
    expectations = [
        E("ExpectTableRowCountToBeBetween", {"min_value": 1}),
        E("ExpectColumnValuesToNotBeNull", {"column": "id"}),
        E("ExpectColumnValuesToBeInSet", {"column": "status", "value_set": ["ok"]}),
        E("ExpectColumnValuesToBeBetween", {"column": "n", "min_value": 0}),
    ]
    failing = validate(warehouse, "probe_all", "select id, status, n from raw.probe", expectations)
    assert not failing.success
    assert failing.evaluated == 4
    assert failing.failed == ["expect_column_values_to_be_in_set(status)"]
    detail = next(d for d in failing.details if d["expectation"].endswith("(status)"))
    assert detail["unexpected_count"] == 1 and detail["unexpected_sample"] == ["weird"]

    passing = validate(
        warehouse, "probe_ok", "select id, status, n from raw.probe where id <> 7", expectations
    )
    assert passing.success and passing.failed == []
    metadata = passing.metadata()
    assert metadata["expectations_evaluated"] == 4 and metadata["expectations_failed"] == 0
