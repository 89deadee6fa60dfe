"""BI query latency on the marts: p50/p95 of server-side prepared statements, with plans."""

from __future__ import annotations

import random
import re
import statistics
import time
from datetime import timedelta

import psycopg
from psycopg import sql

from bench.world import Scale, say

BI_QUERIES: dict[str, str] = {
    "top10_wished_models_in_region": (
        "select model_name, brand_name, total_wishes, rank_in_region "
        "from marts.regional_wish_list where region = %s order by rank_in_region limit 10"
    ),
    "campaign_performance_row": "select * from marts.campaign_performance where campaign_id = %s",
    "retailer_ranking_history": (
        "select metric_date, performance_score, overall_rank, regional_rank, tier_rank "
        "from marts.retailer_ranking where retailer_id = %s and metric_period = %s "
        "order by metric_date"
    ),
    "latest_leaderboard_region_tier": (
        "select retailer_name, performance_score, regional_rank, overall_rank, trend_direction "
        "from marts.retailer_ranking_latest where region = %s and tier = %s "
        "and metric_period = %s order by regional_rank, overall_rank limit 20"
    ),
    "campaign_channel_trend_90d": (
        "select activity_date, channel, sends, opens, clicks, impressions, conversions, revenue "
        "from marts.fct_campaign_channel_daily where campaign_id = %s "
        "and activity_date between %s and %s order by activity_date, channel"
    ),
}


def _bi_params(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    def rows(query: str) -> list[tuple]:
        return [tuple(r) for r in conn.execute(query).fetchall()]

    trend = []
    for campaign_id, first, last in rows(
        "select campaign_id, min(activity_date), max(activity_date) "
        "from marts.fct_campaign_channel_daily group by campaign_id"
    ):
        span = max(0, (last - first).days - 89)
        for offset in sorted({0, span // 2, span}):
            start = first + timedelta(days=offset)
            trend.append((campaign_id, start, start + timedelta(days=89)))
    return {
        "top10_wished_models_in_region": rows(
            "select distinct region from marts.regional_wish_list"
        ),
        "campaign_performance_row": rows("select campaign_id from marts.campaign_performance"),
        "retailer_ranking_history": rows(
            "select distinct retailer_id, metric_period from marts.retailer_ranking"
        ),
        "latest_leaderboard_region_tier": rows(
            "select distinct region, tier, metric_period from marts.retailer_ranking_latest"
        ),
        "campaign_channel_trend_90d": trend,
    }


def plan_kind(plan: list[str]) -> str:
    """The scan nodes of a plan, in order: e.g. ``Bitmap Index Scan + Bitmap Heap Scan``."""
    found: list[str] = []
    for line in plan:
        match = re.search(
            r"(Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan|Index Scan|Seq Scan)", line
        )
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return " + ".join(found) or "other"


def bench_bi(ctx: Scale, runs: int, seed: int) -> dict:
    rng = random.Random(seed)
    out = {}
    with psycopg.connect(ctx.url("wh"), autocommit=True, prepare_threshold=0) as conn:
        params = _bi_params(conn)
        sizes = {
            table: conn.execute(
                sql.SQL("select count(*) from marts.{}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in (
                "regional_wish_list",
                "campaign_performance",
                "retailer_ranking",
                "retailer_ranking_latest",
                "fct_campaign_channel_daily",
            )
        }
        for name, query in BI_QUERIES.items():
            choices = params[name]
            if not choices:
                out[name] = {"error": "no parameter values in the mart (empty table)"}
                continue
            for _ in range(10):  # warm up, and let psycopg prepare the statement
                conn.execute(query, rng.choice(choices)).fetchall()
            samples, returned = [], 0
            for _ in range(runs):
                args = rng.choice(choices)
                began = time.perf_counter()
                result = conn.execute(query, args).fetchall()
                samples.append((time.perf_counter() - began) * 1000)
                returned += len(result)
            samples.sort()
            p95 = samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]
            plan_args = rng.choice(choices)
            plan = [
                r[0]
                for r in conn.execute(
                    "explain (analyze, buffers, costs off) " + query, plan_args
                ).fetchall()
            ]
            out[name] = {
                "query": query,
                "runs": runs,
                "distinct_parameter_sets": len(choices),
                "p50_ms": statistics.median(samples),
                "p95_ms": p95,
                "max_ms": samples[-1],
                "mean_ms": statistics.fmean(samples),
                "avg_rows": returned / runs,
                "plan_kind": plan_kind(plan),
                "explain_analyze": plan,
            }
            say(
                f"  BI {name:<32} p50 {out[name]['p50_ms']:6.2f} ms  p95 {p95:6.2f} ms  "
                f"({out[name]['plan_kind']})"
            )
    return {"queries": out, "mart_rows": sizes}
