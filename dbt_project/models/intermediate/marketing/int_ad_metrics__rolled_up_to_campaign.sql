with ad_metrics as (
    select * from {{ ref('stg_platform__ad_metrics') }}
),

-- current version of each metric row only (staging); brand-level rows (no campaign) excluded
rolled_up as (
    select
        ad_metrics.campaign_id,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'ad_spend'") }}, 0) as ad_spend,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'impressions'") }}, 0)
            as ad_impressions,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'clicks'") }}, 0) as ad_clicks,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'conversions'") }}, 0)
            as ad_conversions,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'revenue'") }}, 0) as ad_revenue,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'new_customers'") }}, 0)
            as ad_new_customers
    from ad_metrics
    where ad_metrics.campaign_id is not null
    group by ad_metrics.campaign_id
)

select * from rolled_up
