{{ config(meta={'dagster': {'ref': {'name': 'fct_campaign_channel_daily'}}}) }}
-- Attached (as a Dagster asset check) to fct_campaign_channel_daily, the model it verifies.
-- The daily fact summed over days gives the campaign mart's totals, channel by channel
-- (ad spend is rounded per day in the fact, so it may differ by 0.005 per day).
with daily as (
    select
        fct.campaign_id,
        {{ count_where("fct.channel = 'ads'") }} as ad_day_rows,
        {{ sum_where('fct.sends', "fct.channel = 'email'") }} as emails_sent,
        {{ sum_where('fct.sends', "fct.channel = 'sms'") }} as sms_sent,
        {{ sum_where('fct.impressions', "fct.channel = 'social'") }} as social_impressions,
        {{ sum_where('fct.spend', "fct.channel = 'ads'") }} as ad_spend,
        {{ sum_where('fct.revenue', "fct.channel = 'orders'") }} as attributed_revenue
    from {{ ref('fct_campaign_channel_daily') }} as fct
    group by fct.campaign_id
),

mismatches as (
    select campaign_performance.campaign_id
    from {{ ref('campaign_performance') }} as campaign_performance
    left join daily
        on campaign_performance.campaign_id = daily.campaign_id
    where
        campaign_performance.emails_sent <> coalesce(daily.emails_sent, 0)
        or campaign_performance.sms_sent <> coalesce(daily.sms_sent, 0)
        or campaign_performance.social_impressions <> coalesce(daily.social_impressions, 0)
        or abs(campaign_performance.ad_spend - coalesce(daily.ad_spend, 0))
        > 0.005 * coalesce(daily.ad_day_rows, 0) + 0.005
        or campaign_performance.attributed_revenue <> coalesce(daily.attributed_revenue, 0)
)

select * from mismatches
