"""The staleness rules of a change-driven refresh, on a small asset graph and a real
(ephemeral) Dagster instance: no database, no dbt."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.defs.automation.refresh import plan_refresh

STATE = {"m1_passes": True}


@dg.asset
def raw_a():
    return dg.MaterializeResult()


@dg.asset
def raw_b():
    return dg.MaterializeResult()


@dg.asset(deps=[raw_a], code_version="v1")
def m1():
    return dg.MaterializeResult()


@dg.asset(deps=[m1, raw_b], code_version="v1")
def m2():
    return dg.MaterializeResult()


@dg.asset(deps=[raw_b])
def other():
    return dg.MaterializeResult()


@dg.asset_check(asset=m1, blocking=True)
def m1_ok():
    return dg.AssetCheckResult(passed=STATE["m1_passes"])


@dg.asset_check(asset=m1, blocking=False)
def m1_soft():
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


DEFS = dg.Definitions(assets=[raw_a, raw_b, m1, m2, other], asset_checks=[m1_ok, m1_soft])
M1, M2, OTHER = dg.AssetKey("m1"), dg.AssetKey("m2"), dg.AssetKey("other")
TARGETS = {M1, M2, OTHER}


def _materialize(instance, *keys, checks=()):
    job = DEFS.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(k) for k in keys},
        asset_check_selection=set(checks),
    )
    return job.execute_in_process(instance=instance, raise_on_error=False)


def _plan(instance, code_versions=None):
    graph = DEFS.resolve_asset_graph()
    return plan_refresh(
        instance,
        graph,
        TARGETS,
        code_versions or {M1: "v1", M2: "v1", OTHER: None},
        {key: graph.get(key).check_keys for key in TARGETS},
    )


@pytest.fixture
def instance():
    STATE["m1_passes"] = True
    with dg.instance_for_test() as instance:
        _materialize(instance, "raw_a", "raw_b", "m1", "m2", "other")
        yield instance


def test_nothing_is_stale_after_everything_was_built(instance):
    plan = _plan(instance)
    assert plan.empty and not plan.checks
    assert "nothing to build" in plan.describe()


def test_never_materialized_assets_are_stale():
    with dg.instance_for_test() as instance:
        plan = _plan(instance)
    assert plan.assets == TARGETS
    assert plan.reasons[M1] == "never materialized" and plan.code_changed


def test_a_changed_raw_table_makes_its_descendants_stale_and_only_them(instance):
    _materialize(instance, "raw_a")
    plan = _plan(instance)
    assert plan.assets == {M1, M2}
    assert plan.reasons[M1] == "newer raw_a"
    assert plan.reasons[M2] == "m1 is rebuilt"
    assert plan.changed_raw == (dg.AssetKey("raw_a"),)
    assert plan.checks == {dg.AssetCheckKey(M1, "m1_ok"), dg.AssetCheckKey(M1, "m1_soft")}
    assert not plan.code_changed
    _materialize(instance, "m1", "m2")
    assert _plan(instance).empty


def test_a_half_done_refresh_leaves_the_rest_stale(instance):
    _materialize(instance, "raw_a")
    _materialize(instance, "m1")  # the run died before m2
    plan = _plan(instance)
    assert plan.assets == {M2}
    assert plan.reasons[M2] == "newer m1"


def test_changed_code_is_stale(instance):
    plan = _plan(instance, {M1: "v1", M2: "v2", OTHER: None})
    assert plan.assets == {M2} and plan.reasons[M2] == "code changed" and plan.code_changed


def test_a_failed_blocking_check_keeps_its_asset_stale_a_warning_does_not(instance):
    STATE["m1_passes"] = False
    _materialize(instance, checks=[dg.AssetCheckKey(M1, "m1_ok"), dg.AssetCheckKey(M1, "m1_soft")])
    plan = _plan(instance)
    assert plan.assets == {M1, M2}  # retried, and what it blocked follows
    assert plan.reasons[M1] == "a blocking check failed last time"
    STATE["m1_passes"] = True
    _materialize(instance, "m1", "m2", checks=[dg.AssetCheckKey(M1, "m1_ok")])
    assert _plan(instance).empty  # the failed warning-severity check does not make it stale


def test_the_plan_digest_follows_the_records(instance):
    first = _plan(instance).state
    assert _plan(instance).state == first
    _materialize(instance, "raw_b")
    plan = _plan(instance)
    assert plan.state != first
    assert plan.assets == {M2, OTHER}
