"""One owner per fact (docs/quality.md): no fact is asserted by two quality systems.

- Great Expectations guards the boundary only: its suites read raw tables.
- dbt tests own the facts of models (staging, intermediate, marts), and the key integrity of
  the raw tables they declare as sources (unique + not_null on primary keys).
- Dagster checks only do what neither can: source ↔ raw counts, raw ↔ mart reconciliations,
  freshness.

Each system's assertions are read as facts ``(relation, column, kind)``; a fact found in two
systems fails the test. No database: GE suites and Dagster checks are imported, dbt tests are
read from the project's yml and SQL.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import yaml

from crownsync.settings import PROJECT_ROOT

DBT = PROJECT_ROOT / "dbt_project"

GE_KINDS = {
    "ExpectColumnValuesToNotBeNull": "not_null",
    "ExpectColumnValuesToBeUnique": "unique",
    "ExpectColumnValuesToBeInSet": "value_set",
    "ExpectColumnValuesToBeBetween": "range",
    "ExpectTableRowCountToBeBetween": "row_count",
}
DBT_KINDS = {"accepted_values": "value_set", "accepted_range": "range"}

# The facts issue #11 found asserted twice, and the one system that owns each now.
NAMED_FACTS = {
    ("retailer_ranking", "overall_rank", "ranks_start_at_one"): "dbt",
    ("retailer_ranking", "regional_rank", "ranks_start_at_one"): "dbt",
    ("retailer_ranking", "tier_rank", "ranks_start_at_one"): "dbt",
    ("regional_wish_list", "rank_in_region", "ranks_start_at_one"): "dbt",
    ("regional_wish_list", "share_of_region_pct", "sums_to_100"): "dbt",
    ("campaign_performance", "open_rate_pct", "range"): "dbt",
    ("campaign_performance", "bounce_rate_pct", "range"): "dbt",
    ("campaign_performance", "emails_sent", "reconciles_with_raw"): "dagster",
    ("campaign_performance", "ad_spend", "reconciles_with_raw"): "dagster",
}


def _yml_tests(path):
    """(relation, column, kind) of every generic dbt test in one yml file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = [(m["name"], m) for m in doc.get("models", []) + doc.get("snapshots", [])]
    for source in doc.get("sources", []):
        entries += [(f"{source['schema']}.{t['name']}", t) for t in source.get("tables", [])]
    for relation, entry in entries:
        for column in entry.get("columns", []):
            for test in column.get("data_tests", []) or []:
                name = test if isinstance(test, str) else next(iter(test))
                yield relation, column["name"], DBT_KINDS.get(name, name)


def _singular_facts(sql_text: str):
    """Facts of a singular test: what it compares, read from its refs and predicates."""
    refs = set(re.findall(r"ref\('(\w+)'\)", sql_text))
    marts = {r for r in refs if not r.startswith(("stg_", "int_"))}
    upstream_of_mart = {r for r in refs if r.startswith(("stg_", "int_"))}
    text = re.sub(r"--[^\n]*", "", sql_text)
    for mart in marts:
        alias_columns = set(re.findall(rf"\b{mart}\.(\w+)", text))
        if upstream_of_mart or "source(" in text:
            # a mart figure compared with the rows it was built from: a reconciliation
            for column in alias_columns:
                yield mart, column, "reconciles_with_raw"
        if re.search(r"sum\(\w+\.(\w+)\)\s*-\s*100", text):
            (column,) = re.findall(r"sum\(\w+\.(\w+)\)\s*-\s*100", text)
            yield mart, column, "sums_to_100"
        for column in set(re.findall(rf"\b{mart}\.(\w+)\s+is null", text)):
            yield mart, column, "not_null"
        for column in set(re.findall(rf"\b{mart}\.(\w+)\s*[<>]", text)):
            yield mart, column, "range"


def dbt_facts() -> set[tuple[str, str, str]]:
    facts = set()
    for path in sorted((DBT / "models").rglob("*.yml")) + sorted(
        (DBT / "snapshots").rglob("*.yml")
    ):
        facts.update(_yml_tests(path))
    for path in sorted((DBT / "tests").rglob("*.sql")):
        facts.update(_singular_facts(path.read_text(encoding="utf-8")))
    return facts


def ge_facts() -> set[tuple[str, str, str]]:
    from orchestration.defs.quality import suites

    facts = set()
    for suite in [getattr(suites, n) for n in dir(suites) if n.endswith("_SUITES")]:
        for s in suite:
            relation = ".".join(s.asset)
            for e in s.expectations:
                facts.add((relation, e.kwargs.get("column", "*"), GE_KINDS[e.kind]))
    return facts


@pytest.fixture(scope="module")
def dagster_checks():
    from orchestration.defs.quality import checks

    specs = []
    for definition in [*checks.all_checks, *checks.freshness_checks]:
        specs.extend(definition.check_specs)
    return specs


def dagster_facts(specs) -> set[tuple[str, str, str]]:
    facts = set()
    for spec in specs:
        if spec.name.startswith("ge_"):
            continue  # Great Expectations suites run as Dagster checks: GE's facts (ge_facts)
        path = spec.asset_key.path
        relation = path[-1] if path[0] == "marts" else ".".join(path)
        match = re.fullmatch(r"(\w+?)_reconciles?_with_raw", spec.name)
        if match:
            facts.add((relation, match.group(1), "reconciles_with_raw"))
        elif spec.name == "rows_match_source":
            facts.add((relation, "*", "rows_match_source"))
        elif spec.name.startswith("freshness"):
            facts.add((relation, "*", "freshness"))
        else:
            facts.add((relation, "?", spec.name))
    return facts


@pytest.fixture(scope="module")
def facts_by_system(dagster_checks):
    return {"ge": ge_facts(), "dbt": dbt_facts(), "dagster": dagster_facts(dagster_checks)}


def test_no_fact_is_asserted_by_two_systems(facts_by_system):
    owners = defaultdict(set)
    for system, facts in facts_by_system.items():
        for fact in facts:
            owners[fact].add(system)
    twice = {fact: sorted(systems) for fact, systems in owners.items() if len(systems) > 1}
    assert twice == {}, f"asserted by more than one system (docs/quality.md): {twice}"


def test_the_named_facts_have_their_one_owner(facts_by_system):
    for fact, owner in NAMED_FACTS.items():
        holders = sorted(s for s, facts in facts_by_system.items() if fact in facts)
        assert holders == [owner], (fact, holders)


def test_great_expectations_reads_raw_only():
    from orchestration.defs.quality import suites

    for name in [n for n in dir(suites) if n.endswith("_SUITES")]:
        for suite in getattr(suites, name):
            assert suite.asset[0] == "raw", f"GE suite {suite.name} reads {suite.asset}"
            assert re.search(r"\bfrom raw\.\w+", suite.query), suite.name
            assert not re.search(r"\b(marts|staging|intermediate)\.", suite.query), suite.name


def test_dagster_checks_only_do_what_neither_other_system_can(dagster_checks):
    facts = dagster_facts(dagster_checks)
    unknown = sorted(kind for _, column, kind in facts if column == "?")
    assert unknown == [], f"Dagster checks outside reconciliation/freshness: {unknown}"
    kinds = {kind for _, _, kind in facts}
    assert kinds == {"rows_match_source", "reconciles_with_raw", "freshness"}
    blocking_on_marts = [
        s.name for s in dagster_checks if s.asset_key.path[0] == "marts" and s.blocking
    ]
    assert blocking_on_marts, "a broken mart must still block serving"
    ge_checks = [s.name for s in dagster_checks if s.name.startswith("ge_")]
    assert ge_checks and all(s.startswith("ge_raw_") for s in ge_checks)


def test_the_detector_sees_a_duplicate():
    duplicated = """
        select 1 from {{ ref('campaign_performance') }} as campaign_performance
        cross join {{ ref('stg_app_db__email_sends') }} as s
        where campaign_performance.emails_sent <> 0
    """
    assert ("campaign_performance", "emails_sent", "reconciles_with_raw") in set(
        _singular_facts(duplicated)
    )
