"""Serving: publish the checked marts to the BI roles.

Downstream of every mart, so a failing blocking check on a mart keeps this step from
running: the rebuilt table stays unpublished (no grants) until a run passes its checks.
"""

import dagster as dg

from orchestration.defs.dbt.assets import crownsync_dbt_assets
from orchestration.defs.resources import WarehouseResource
from serving.grants import apply_access

MART_KEYS = sorted(
    (key for key in crownsync_dbt_assets.keys if key.path[0] == "marts"), key=lambda k: k.path
)


@dg.asset(
    key=dg.AssetKey(["serving", "bi_access"]),
    deps=MART_KEYS,
    group_name="serving",
    kinds={"postgres"},
    description="Publishes the checked marts: row-level security per tenant, then grants to "
    "analyst, bi_reader and tenant logins (serving/access.sql).",
)
def bi_access(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        published = apply_access(conn)
    context.log.info(f"published {published} marts (row-level security on, grants applied)")
    return dg.MaterializeResult(metadata={"published_relations": published})
