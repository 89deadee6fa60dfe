{{ config(contract=mart_contract()) }}

with campaigns as (
    select * from {{ ref('campaign_performance') }}
),

totals as (
    select
        count(*) as campaigns,
        sum(case when campaigns.campaign_status = 'active' then 1 else 0 end) as active_campaigns,
        coalesce(sum(campaigns.emails_sent), 0) as emails_sent,
        coalesce(sum(campaigns.emails_delivered), 0) as emails_delivered,
        coalesce(sum(campaigns.unique_opens), 0) as unique_opens,
        coalesce(sum(campaigns.unique_clicks), 0) as unique_clicks,
        coalesce(sum(campaigns.attributed_orders), 0) as attributed_orders,
        coalesce(sum(campaigns.attributed_revenue), 0) as attributed_revenue,
        coalesce(sum(campaigns.ad_spend), 0) as ad_spend,
        coalesce(sum(campaigns.ad_revenue), 0) as ad_revenue
    from campaigns
),

final as (
    select
        'all campaigns' as kpi_scope,
        totals.campaigns,
        coalesce(totals.active_campaigns, 0) as active_campaigns,
        totals.emails_sent,
        totals.emails_delivered,
        totals.unique_opens,
        totals.unique_clicks,
        {{ safe_pct('totals.emails_delivered', 'totals.emails_sent') }} as delivery_rate_pct,
        {{ safe_pct('totals.unique_opens', 'totals.emails_delivered') }} as open_rate_pct,
        {{ safe_pct('totals.unique_clicks', 'totals.emails_delivered') }} as click_rate_pct,
        totals.attributed_orders,
        totals.attributed_revenue,
        totals.ad_spend,
        totals.ad_revenue,
        {{ safe_ratio('totals.ad_revenue', 'totals.ad_spend') }} as ad_roas
    from totals
)

select * from final
