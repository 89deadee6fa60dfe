"""What a refresh must build: the assets downstream of raw tables that changed.

The ingestion assets materialize only when their table's data changed (see
``orchestration.defs.ingestion.assets``). This module turns Dagster's own records into the
selection of the ``transform`` job: an asset of the transform layer (dbt models and
snapshots, serving) is **stale**, and selected, when

- it was never materialized, or its code changed (dbt's checksum, the asset's code version,
  differs from the one its last materialization recorded);
- a parent materialized after it did (a newer raw table, a rebuilt model), compared by the
  event log's storage ids, which are ordered;
- a parent is stale itself (it will be rebuilt, so everything below it follows);
- one of its blocking checks failed in its latest execution (the failure blocked what is
  below it; the asset and its checks run again, so a fix upstream is seen).

The run then builds those assets and runs the checks of those assets only (dbt tests,
Great Expectations suites, reconciliations): a check of an unchanged asset is not run.
Everything is read from the instance in three queries; no warehouse access.

Alternatives considered (docs/refresh.md compares them): declarative automation
(``AutomationCondition``) needs the daemon for every refresh and cannot serve ``make run``
in one process; a single job with optional raw outputs skips the whole dbt step as soon as
one raw table is unchanged (Dagster skips a step when any upstream output is missing).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

# Checks with their own schedule (the freshness sensor): never part of a transform run.
SCHEDULED_CHECKS = frozenset({"freshness_check"})


@dataclass(frozen=True)
class RefreshPlan:
    """The assets (and their checks) one refresh must build, and why each one."""

    assets: frozenset[dg.AssetKey]
    checks: frozenset[dg.AssetCheckKey]
    reasons: Mapping[dg.AssetKey, str] = field(default_factory=dict)
    changed_raw: tuple[dg.AssetKey, ...] = ()
    state: str = ""
    """A digest of the records the plan was made from (a sensor's run key)."""

    @property
    def empty(self) -> bool:
        return not self.assets

    @property
    def code_changed(self) -> bool:
        """A model is new or its SQL changed: the run also runs dbt's unit tests."""
        return any(r in ("never materialized", "code changed") for r in self.reasons.values())

    def run_config(self) -> dict:
        """The transform run's config: dbt's unit tests only when a model's code changed."""
        from orchestration.defs.automation.jobs import DBT_OP
        from orchestration.defs.dbt.assets import crownsync_dbt_assets

        if not self.assets & set(crownsync_dbt_assets.keys):
            return {}  # serving only: the dbt step is not in the run
        return {"ops": {DBT_OP: {"config": {"unit_tests": self.code_changed}}}}

    def describe(self, limit: int = 6) -> str:
        if self.empty:
            return "nothing to build: every model is newer than the raw tables it reads"
        names = sorted(k.to_user_string() for k in self.assets)
        shown = ", ".join(names[:limit]) + (
            f", … ({len(names) - limit} more)" if len(names) > limit else ""
        )
        return f"{len(self.assets)} assets, {len(self.checks)} checks to run: {shown}"


def plan_refresh(
    instance: dg.DagsterInstance,
    asset_graph,
    transform_keys: Iterable[dg.AssetKey],
    code_versions: Mapping[dg.AssetKey, str | None],
    checks_by_asset: Mapping[dg.AssetKey, Iterable[dg.AssetCheckKey]],
    source_checks: Mapping[dg.AssetKey, Iterable[dg.AssetCheckKey]] | None = None,
    check_inputs: Mapping[dg.AssetCheckKey, Iterable[dg.AssetKey]] | None = None,
) -> RefreshPlan:
    """The stale part of the transform layer (see the module docstring).

    ``source_checks``: per raw asset, the checks the dbt step runs on it (dbt's source
    tests); they run when a model reading that raw table is rebuilt. ``check_inputs``: per
    check, every asset it reads (a dbt relationships test reads two models); a check runs
    when any asset it reads is rebuilt.
    """
    targets = set(transform_keys)
    parents = {key: set(asset_graph.get(key).parent_keys) for key in targets}
    every_key = sorted(targets | set().union(*parents.values()), key=lambda k: k.path)
    records = {r.asset_entry.asset_key: r for r in instance.get_asset_records(every_key)}

    def last_id(key: dg.AssetKey) -> int:
        record = records.get(key)
        mat = record.asset_entry.last_materialization_record if record else None
        return mat.storage_id if mat else 0

    def last_code_version(key: dg.AssetKey) -> str | None:
        record = records.get(key)
        entry = record.asset_entry.last_materialization if record else None
        mat = entry.asset_materialization if entry else None
        return mat.tags.get("dagster/code_version") if mat and mat.tags else None

    all_checks = [c for key in targets for c in checks_by_asset.get(key, ())]
    latest_checks = (
        instance.event_log_storage.get_latest_asset_check_execution_by_key(all_checks)
        if all_checks
        else {}
    )
    failed_check_assets = {
        check_key.asset_key
        for check_key, execution in latest_checks.items()
        if execution.status == AssetCheckExecutionRecordStatus.FAILED
        and _blocking_failure(execution)
    }

    reasons: dict[dg.AssetKey, str] = {}
    order = TopologicalSorter({k: parents[k] & targets for k in targets}).static_order()
    for key in order:
        mine = last_id(key)
        if mine == 0:
            reasons[key] = "never materialized"
        elif code_versions.get(key) and code_versions[key] != last_code_version(key):
            reasons[key] = "code changed"
        elif stale_parent := next(
            (p for p in sorted(parents[key], key=lambda k: k.path) if p in reasons), None
        ):
            reasons[key] = f"{stale_parent.to_user_string()} is rebuilt"
        elif newer := sorted(p.to_user_string() for p in parents[key] if last_id(p) > mine):
            reasons[key] = f"newer {', '.join(newer[:3])}" + (" …" if len(newer) > 3 else "")
        elif key in failed_check_assets:
            reasons[key] = "a blocking check failed last time"

    assets = frozenset(reasons)
    checks = frozenset(
        [c for key in assets for c in checks_by_asset.get(key, ())]
        + [
            c
            for key in assets
            for parent in parents[key] - targets
            for c in (source_checks or {}).get(parent, ())
        ]
        + [c for c, inputs in (check_inputs or {}).items() if assets & set(inputs)]
    )
    changed_raw = tuple(
        sorted(
            (
                p
                for key in assets
                for p in parents[key]
                if p not in targets and last_id(p) > last_id(key)
            ),
            key=lambda k: k.path,
        )
    )
    digest = hashlib.sha256(
        "\n".join(f"{k.to_user_string()}={last_id(k)}" for k in every_key).encode()
    ).hexdigest()[:32]
    return RefreshPlan(assets, checks, reasons, tuple(dict.fromkeys(changed_raw)), digest)


def _blocking_failure(execution) -> bool:
    event = execution.event
    data = getattr(getattr(event, "dagster_event", None), "event_specific_data", None)
    severity = getattr(data, "severity", None)
    return severity is None or severity == dg.AssetCheckSeverity.ERROR


def plan_for_graph(instance: dg.DagsterInstance, asset_graph) -> RefreshPlan:
    """:func:`plan_refresh` over the transform layer of a code location's asset graph."""
    from orchestration.defs.automation.jobs import TRANSFORM_SELECTION
    from orchestration.defs.dbt.assets import crownsync_dbt_assets

    keys = TRANSFORM_SELECTION.resolve(asset_graph)
    source_checks: dict[dg.AssetKey, set[dg.AssetCheckKey]] = {}
    for check_key in crownsync_dbt_assets.check_keys:
        if check_key.asset_key not in keys:
            source_checks.setdefault(check_key.asset_key, set()).add(check_key)
    check_inputs = {
        check: inputs
        for check, inputs in dbt_check_inputs().items()
        if check in crownsync_dbt_assets.check_keys
    }
    return plan_refresh(
        instance,
        asset_graph,
        keys,
        {key: asset_graph.get(key).code_version for key in keys},
        {
            key: {c for c in asset_graph.get(key).check_keys if c.name not in SCHEDULED_CHECKS}
            for key in keys
        },
        source_checks,
        check_inputs,
    )


def plan_for_repository(instance: dg.DagsterInstance, repository_def) -> RefreshPlan:
    return plan_for_graph(instance, repository_def.asset_graph)


def report_current(
    instance: dg.DagsterInstance, plan: RefreshPlan, keys: Iterable[dg.AssetKey], as_of: float
) -> list[dg.AssetKey]:
    """Record that the assets of ``keys`` the plan does not rebuild are current as of ``as_of``.

    An unchanged mart does not materialize, yet it is as fresh as the raw tables it was
    built from, and those were compared with the sources at ``as_of`` (the ingest run).
    An observation with ``dagster/last_updated_timestamp`` says so, and Dagster's freshness
    checks read it: a quiet source does not look like a stale pipeline.
    """
    current = sorted((k for k in keys if k not in plan.assets), key=lambda k: k.path)
    for key in current:
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=key,
                metadata={
                    "dagster/last_updated_timestamp": dg.MetadataValue.timestamp(as_of),
                    "in_sync_with_raw": True,
                },
            )
        )
    return current


@functools.cache
def dbt_check_inputs() -> dict[dg.AssetCheckKey, frozenset[dg.AssetKey]]:
    """Per dbt test (as the asset check dagster-dbt makes of it): the assets it reads.

    A relationships test is a check of the model it is attached to, but it also reads the
    model it refers to; when only that one is rebuilt, the test must run too (dbt's eager
    indirect selection runs it, and its result must be a selected check).
    """
    import json

    from dagster_dbt.asset_utils import get_asset_check_key_for_test

    from orchestration.defs.dbt.assets import translator
    from orchestration.defs.dbt.project import crownsync_dbt_project

    manifest = json.loads(crownsync_dbt_project.manifest_path.read_text(encoding="utf-8"))
    sections = {**manifest["nodes"], **manifest["sources"]}
    inputs: dict[dg.AssetCheckKey, frozenset[dg.AssetKey]] = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "test":
            continue
        check = get_asset_check_key_for_test(manifest, translator, unique_id, crownsync_dbt_project)
        if check is None:
            continue
        parents = [p for p in node["depends_on"]["nodes"] if p in sections]
        inputs[check] = frozenset(
            translator.get_asset_spec(manifest, p, crownsync_dbt_project).key for p in parents
        )
    return inputs
