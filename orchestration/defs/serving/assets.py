"""Serving: publish the checked marts to the BI roles.

Downstream of every mart, so a failing blocking check on a mart keeps this step from
running: the rebuilt table stays unpublished (no grants) until a run passes its checks.
"""

from pathlib import Path

import dagster as dg

from orchestration.defs.dbt.assets import crownsync_dbt_assets
from orchestration.defs.resources import WarehouseResource

ACCESS_SQL = Path(__file__).with_name("access.sql")
MART_KEYS = sorted(
    (key for key in crownsync_dbt_assets.keys if key.path[0] == "marts"), key=lambda k: k.path
)


@dg.asset(
    key=dg.AssetKey(["serving", "bi_access"]),
    deps=MART_KEYS,
    group_name="serving",
    kinds={"postgres"},
    description="Grants the checked marts to the analyst and bi_reader roles (serving/access.sql).",
)
def bi_access(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        conn.execute(ACCESS_SQL.read_text())
        published = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
    context.log.info(f"published {published} mart relations to analyst and bi_reader")
    return dg.MaterializeResult(metadata={"published_relations": published})
