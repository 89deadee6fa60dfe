{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['activity_date']},
            {'columns': ['brand_id']},
        ]),
    )
}}

with channel_daily as (
    select * from {{ ref('int_campaign_channels__unioned_daily') }}
),

final as (
    select
        channel_daily.campaign_id,
        channel_daily.brand_id,
        channel_daily.channel,
        channel_daily.activity_date,
        channel_daily.sends,
        channel_daily.deliveries,
        channel_daily.opens,
        channel_daily.clicks,
        channel_daily.impressions,
        channel_daily.engagement,
        channel_daily.conversions,
        channel_daily.spend,
        channel_daily.revenue
    from channel_daily
)

select * from final
