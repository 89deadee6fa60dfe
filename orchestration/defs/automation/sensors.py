"""A sensor on LANDING_DIR: new export files trigger the export ingestion and what follows.

The cursor (persisted by Dagster in its storage) is the set of files already seen, each as
``<export>/<name>`` with its size and modification time, so a restart neither reloads nor
skips files. The ingestion itself is exactly-once anyway (the ledger raw._files).
"""

import hashlib
import json

import dagster as dg

from ingestion.api import EXPORTS
from ingestion.platform_exports.load import SUPPORTED_SUFFIXES, discover
from orchestration.defs.automation.jobs import exports_job
from orchestration.defs.resources import WarehouseResource


def _file_ids(warehouse: WarehouseResource) -> dict[str, str]:
    ids = {}
    for export in EXPORTS:
        for landed in discover(warehouse.landing_path, export):
            if landed.path.suffix.lower() in SUPPORTED_SUFFIXES:
                ids[f"{export}/{landed.name}"] = f"{landed.size}:{landed.modified_at.isoformat()}"
    return ids


@dg.sensor(
    name="landing_dir_sensor",
    job=exports_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts the exports job when new files land in LANDING_DIR/<export>/.",
)
def landing_dir_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = _file_ids(warehouse)
    new = sorted(name for name, ident in current.items() if seen.get(name) != ident)
    if not new:
        return dg.SkipReason(f"no new files in {warehouse.landing_path} ({len(current)} seen)")
    context.update_cursor(json.dumps({**seen, **current}, sort_keys=True))
    run_key = hashlib.sha256("\n".join(f"{n}={current[n]}" for n in new).encode()).hexdigest()[:32]
    return dg.RunRequest(
        run_key=run_key,
        tags={"crownsync/new_files": str(len(new))},
    )
