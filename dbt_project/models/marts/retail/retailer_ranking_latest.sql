{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['metric_period', 'overall_rank']},
            {'columns': ['region', 'regional_rank']},
        ]),
    )
}}

with retailer_ranking as (
    select * from {{ ref('retailer_ranking') }}
),

latest_dates as (
    select
        retailer_ranking.metric_period,
        max(retailer_ranking.metric_date) as latest_metric_date
    from retailer_ranking
    group by retailer_ranking.metric_period
),

final as (
    select
        retailer_ranking.retailer_id,
        retailer_ranking.retailer_name,
        retailer_ranking.region,
        retailer_ranking.tier,
        retailer_ranking.metric_period,
        retailer_ranking.metric_date,
        retailer_ranking.revenue,
        retailer_ranking.orders_count,
        retailer_ranking.average_order_value,
        retailer_ranking.conversion_rate,
        retailer_ranking.email_open_rate,
        retailer_ranking.social_engagement_rate,
        retailer_ranking.customer_satisfaction,
        retailer_ranking.net_promoter_score,
        retailer_ranking.performance_score,
        retailer_ranking.overall_rank,
        retailer_ranking.regional_rank,
        retailer_ranking.tier_rank,
        retailer_ranking.previous_performance_score,
        retailer_ranking.score_change,
        retailer_ranking.trend_direction,
        retailer_ranking.previous_overall_rank,
        retailer_ranking.rank_change,
        retailer_ranking.previous_regional_rank,
        retailer_ranking.regional_rank_change,
        retailer_ranking.previous_tier_rank,
        retailer_ranking.tier_rank_change
    from retailer_ranking
    inner join latest_dates
        on
            retailer_ranking.metric_period = latest_dates.metric_period
            and retailer_ranking.metric_date = latest_dates.latest_metric_date
)

select * from final
