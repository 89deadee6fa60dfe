with campaigns as (
    select * from {{ ref('stg_app_db__campaigns') }}
),

email_sends_daily as (
    select * from {{ ref('int_email_sends__aggregated_daily') }}
),

email_campaigns as (
    select * from {{ ref('stg_app_db__email_campaigns') }}
),

sms_sends as (
    select
        stg_sms_sends.sms_campaign_id,
        stg_sms_sends.status,
        stg_sms_sends.clicked_at,
        {{ utc_date('coalesce(stg_sms_sends.sent_at, stg_sms_sends.created_at, stg_sms_sends._loaded_at)') }}
            as activity_date
    from {{ ref('stg_app_db__sms_sends') }} as stg_sms_sends
),

sms_campaigns as (
    select * from {{ ref('stg_app_db__sms_campaigns') }}
),

social_analytics_daily as (
    select * from {{ ref('int_social_analytics__aggregated_daily') }}
),

social_posts as (
    select * from {{ ref('stg_app_db__social_posts') }}
),

ad_metrics as (
    select * from {{ ref('stg_platform__ad_metrics') }}
),

orders as (
    select
        stg_orders.campaign_id,
        stg_orders.order_id,
        stg_orders.order_status,
        stg_orders.quantity,
        stg_orders.unit_price,
        {{ utc_date('stg_orders.ordered_at') }} as activity_date
    from {{ ref('stg_platform__orders') }} as stg_orders
),

-- each channel is aggregated to campaign x day on its own, then the channels are stacked
email_daily as (
    select
        email_campaigns.campaign_id,
        'email' as channel,
        email_sends_daily.activity_date,
        sum(email_sends_daily.emails_sent) as sends,
        sum(email_sends_daily.emails_delivered) as deliveries,
        sum(email_sends_daily.unique_opens) as opens,
        sum(email_sends_daily.unique_clicks) as clicks,
        0 as impressions,
        0 as engagement,
        0 as conversions,
        0 as spend,
        0 as revenue
    from email_sends_daily
    inner join email_campaigns
        on email_sends_daily.email_campaign_id = email_campaigns.email_campaign_id
    group by
        email_campaigns.campaign_id,
        email_sends_daily.activity_date
),

sms_daily as (
    select
        sms_campaigns.campaign_id,
        'sms' as channel,
        sms_sends.activity_date,
        {{ count_where("sms_sends.status in ('sent', 'delivered', 'failed')") }} as sends,
        {{ count_where("sms_sends.status = 'delivered'") }} as deliveries,
        0 as opens,
        {{ count_where("sms_sends.clicked_at is not null") }} as clicks,
        0 as impressions,
        0 as engagement,
        0 as conversions,
        0 as spend,
        0 as revenue
    from sms_sends
    inner join sms_campaigns
        on sms_sends.sms_campaign_id = sms_campaigns.sms_campaign_id
    group by
        sms_campaigns.campaign_id,
        sms_sends.activity_date
),

social_daily as (
    select
        social_posts.campaign_id,
        'social' as channel,
        social_analytics_daily.analytics_date as activity_date,
        0 as sends,
        0 as deliveries,
        0 as opens,
        sum(social_analytics_daily.clicks) as clicks,
        sum(social_analytics_daily.impressions) as impressions,
        sum(social_analytics_daily.engagement) as engagement,
        0 as conversions,
        0 as spend,
        0 as revenue
    from social_analytics_daily
    inner join social_posts
        on social_analytics_daily.post_id = social_posts.post_id
    where social_posts.campaign_id is not null
    group by
        social_posts.campaign_id,
        social_analytics_daily.analytics_date
),

ads_daily as (
    select
        ad_metrics.campaign_id,
        'ads' as channel,
        ad_metrics.metric_date as activity_date,
        0 as sends,
        0 as deliveries,
        0 as opens,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'clicks'") }}, 0) as clicks,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'impressions'") }}, 0)
            as impressions,
        0 as engagement,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'conversions'") }}, 0)
            as conversions,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'ad_spend'") }}, 0) as spend,
        coalesce({{ sum_where('ad_metrics.metric_value', "ad_metrics.metric_type = 'revenue'") }}, 0) as revenue
    from ad_metrics
    where ad_metrics.campaign_id is not null
    group by
        ad_metrics.campaign_id,
        ad_metrics.metric_date
),

orders_daily as (
    select
        orders.campaign_id,
        'orders' as channel,
        orders.activity_date,
        0 as sends,
        0 as deliveries,
        0 as opens,
        0 as clicks,
        0 as impressions,
        0 as engagement,
        count(distinct orders.order_id) as conversions,
        0 as spend,
        coalesce(sum(orders.quantity * orders.unit_price), 0) as revenue
    from orders
    where
        orders.campaign_id is not null
        and orders.order_status = 'paid'
    group by
        orders.campaign_id,
        orders.activity_date
),

unioned as (
    select * from email_daily
    union all
    select * from sms_daily
    union all
    select * from social_daily
    union all
    select * from ads_daily
    union all
    select * from orders_daily
),

final as (
    select
        unioned.campaign_id,
        campaigns.brand_id,
        unioned.channel,
        unioned.activity_date,
        cast(unioned.sends as {{ dbt.type_bigint() }}) as sends,
        cast(unioned.deliveries as {{ dbt.type_bigint() }}) as deliveries,
        cast(unioned.opens as {{ dbt.type_bigint() }}) as opens,
        cast(unioned.clicks as {{ type_exact_numeric() }}) as clicks,
        cast(unioned.impressions as {{ type_exact_numeric() }}) as impressions,
        cast(unioned.engagement as {{ dbt.type_bigint() }}) as engagement,
        cast(unioned.conversions as {{ type_exact_numeric() }}) as conversions,
        round(cast(unioned.spend as {{ type_exact_numeric() }}), 2) as spend,
        round(cast(unioned.revenue as {{ type_exact_numeric() }}), 2) as revenue
    from unioned
    inner join campaigns
        on unioned.campaign_id = campaigns.campaign_id
)

select * from final
