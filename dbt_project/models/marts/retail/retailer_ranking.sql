{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['metric_period', 'metric_date']},
            {'columns': ['region', 'regional_rank']},
        ]),
    )
}}

with metrics as (
    select * from {{ ref('stg_app_db__retailer_performance_metrics') }}
),

retailers as (
    select * from {{ ref('stg_app_db__retailers') }}
),

-- history first: the previous score is looked up over every live metric row of the retailer
-- and period, BEFORE any filter
metrics_with_previous as (
    select
        metrics.retailer_id,
        metrics.metric_period,
        metrics.metric_date,
        metrics.revenue,
        metrics.orders_count,
        metrics.average_order_value,
        metrics.conversion_rate,
        metrics.email_open_rate,
        metrics.social_engagement_rate,
        metrics.customer_satisfaction,
        metrics.net_promoter_score,
        metrics.performance_score,
        lag(metrics.performance_score) over (
            partition by metrics.retailer_id, metrics.metric_period
            order by metrics.metric_date
        ) as previous_performance_score
    from metrics
),

-- then keep active retailers only, with their current (cleaned) region and tier
active_retailer_metrics as (
    select
        metrics_with_previous.retailer_id,
        retailers.retailer_name,
        retailers.region,
        retailers.tier,
        metrics_with_previous.metric_period,
        metrics_with_previous.metric_date,
        metrics_with_previous.revenue,
        metrics_with_previous.orders_count,
        metrics_with_previous.average_order_value,
        metrics_with_previous.conversion_rate,
        metrics_with_previous.email_open_rate,
        metrics_with_previous.social_engagement_rate,
        metrics_with_previous.customer_satisfaction,
        metrics_with_previous.net_promoter_score,
        metrics_with_previous.performance_score,
        metrics_with_previous.previous_performance_score
    from metrics_with_previous
    inner join retailers
        on metrics_with_previous.retailer_id = retailers.retailer_id
    where retailers.is_active
),

-- ranks among active retailers only
ranked as (
    select
        active_retailer_metrics.retailer_id,
        active_retailer_metrics.retailer_name,
        active_retailer_metrics.region,
        active_retailer_metrics.tier,
        active_retailer_metrics.metric_period,
        active_retailer_metrics.metric_date,
        active_retailer_metrics.revenue,
        active_retailer_metrics.orders_count,
        active_retailer_metrics.average_order_value,
        active_retailer_metrics.conversion_rate,
        active_retailer_metrics.email_open_rate,
        active_retailer_metrics.social_engagement_rate,
        active_retailer_metrics.customer_satisfaction,
        active_retailer_metrics.net_promoter_score,
        active_retailer_metrics.performance_score,
        rank() over (
            partition by active_retailer_metrics.metric_period, active_retailer_metrics.metric_date
            order by active_retailer_metrics.performance_score desc nulls last
        ) as overall_rank,
        rank() over (
            partition by
                active_retailer_metrics.metric_period,
                active_retailer_metrics.metric_date,
                active_retailer_metrics.region
            order by active_retailer_metrics.performance_score desc nulls last
        ) as regional_rank,
        rank() over (
            partition by
                active_retailer_metrics.metric_period,
                active_retailer_metrics.metric_date,
                active_retailer_metrics.tier
            order by active_retailer_metrics.performance_score desc nulls last
        ) as tier_rank,
        active_retailer_metrics.previous_performance_score,
        active_retailer_metrics.performance_score
        - active_retailer_metrics.previous_performance_score as score_change,
        case
            when active_retailer_metrics.performance_score > active_retailer_metrics.previous_performance_score
                then 'up'
            when active_retailer_metrics.performance_score < active_retailer_metrics.previous_performance_score
                then 'down'
            when active_retailer_metrics.performance_score = active_retailer_metrics.previous_performance_score
                then 'stable'
        end as trend_direction
    from active_retailer_metrics
),

-- rank movement: the ranks at the retailer's own previous metric_date of the same period (the
-- same partition as previous_performance_score), not at the period's previous global date
final as (
    select
        ranked.retailer_id,
        ranked.retailer_name,
        ranked.region,
        ranked.tier,
        ranked.metric_period,
        ranked.metric_date,
        ranked.revenue,
        ranked.orders_count,
        ranked.average_order_value,
        ranked.conversion_rate,
        ranked.email_open_rate,
        ranked.social_engagement_rate,
        ranked.customer_satisfaction,
        ranked.net_promoter_score,
        ranked.performance_score,
        ranked.overall_rank,
        ranked.regional_rank,
        ranked.tier_rank,
        ranked.previous_performance_score,
        ranked.score_change,
        ranked.trend_direction,
        lag(ranked.overall_rank) over retailer_history as previous_overall_rank,
        (lag(ranked.overall_rank) over retailer_history) - ranked.overall_rank as rank_change,
        lag(ranked.regional_rank) over retailer_history as previous_regional_rank,
        (lag(ranked.regional_rank) over retailer_history) - ranked.regional_rank as regional_rank_change,
        lag(ranked.tier_rank) over retailer_history as previous_tier_rank,
        (lag(ranked.tier_rank) over retailer_history) - ranked.tier_rank as tier_rank_change
    from ranked
    window retailer_history as (
        partition by ranked.retailer_id, ranked.metric_period
        order by ranked.metric_date
    )
)

select * from final
