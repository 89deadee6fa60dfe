{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['campaign_id'], 'unique': true},
            {'columns': ['brand_id']},
        ]),
    )
}}

with campaigns as (
    select * from {{ ref('int_campaigns__enriched') }}
),

email as (
    select * from {{ ref('int_email_sends__rolled_up_to_campaign') }}
),

sms as (
    select * from {{ ref('int_sms_sends__rolled_up_to_campaign') }}
),

social as (
    select * from {{ ref('int_social_posts__rolled_up_to_campaign') }}
),

ads as (
    select * from {{ ref('int_ad_metrics__rolled_up_to_campaign') }}
),

orders as (
    select * from {{ ref('int_orders__rolled_up_to_campaign') }}
),

-- every channel arrives already at campaign grain: these joins are 1:1, no fan-out
joined as (
    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.brand_id,
        campaigns.brand_name,
        campaigns.campaign_type,
        campaigns.campaign_status,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.budget_allocated,
        campaigns.budget_spent,
        campaigns.participating_retailers,
        coalesce(email.emails_sent, 0) as emails_sent,
        coalesce(email.emails_delivered, 0) as emails_delivered,
        coalesce(email.emails_bounced, 0) as emails_bounced,
        coalesce(email.unique_opens, 0) as unique_opens,
        coalesce(email.unique_clicks, 0) as unique_clicks,
        coalesce(email.total_opens, 0) as total_opens,
        coalesce(email.total_clicks, 0) as total_clicks,
        coalesce(email.unsubscribes, 0) as unsubscribes,
        coalesce(email.spam_reports, 0) as spam_reports,
        coalesce(sms.sms_sent, 0) as sms_sent,
        coalesce(sms.sms_delivered, 0) as sms_delivered,
        coalesce(sms.sms_failed, 0) as sms_failed,
        coalesce(sms.sms_clicks, 0) as sms_clicks,
        coalesce(social.social_posts, 0) as social_posts,
        coalesce(social.social_impressions, 0) as social_impressions,
        coalesce(social.social_reach, 0) as social_reach,
        coalesce(social.social_engagement, 0) as social_engagement,
        coalesce(social.social_clicks, 0) as social_clicks,
        coalesce(ads.ad_spend, 0) as ad_spend,
        coalesce(ads.ad_impressions, 0) as ad_impressions,
        coalesce(ads.ad_clicks, 0) as ad_clicks,
        coalesce(ads.ad_conversions, 0) as ad_conversions,
        coalesce(ads.ad_revenue, 0) as ad_revenue,
        coalesce(orders.attributed_orders, 0) as attributed_orders,
        coalesce(orders.attributed_revenue, 0) as attributed_revenue
    from campaigns
    left join email
        on campaigns.campaign_id = email.campaign_id
    left join sms
        on campaigns.campaign_id = sms.campaign_id
    left join social
        on campaigns.campaign_id = social.campaign_id
    left join ads
        on campaigns.campaign_id = ads.campaign_id
    left join orders
        on campaigns.campaign_id = orders.campaign_id
),

final as (
    select
        joined.campaign_id,
        joined.campaign_name,
        joined.brand_id,
        joined.brand_name,
        joined.campaign_type,
        joined.campaign_status,
        joined.start_date,
        joined.end_date,
        joined.budget_allocated,
        joined.budget_spent,
        {{ safe_pct('joined.budget_spent', 'joined.budget_allocated') }} as budget_utilization_pct,
        joined.participating_retailers,
        joined.emails_sent,
        joined.emails_delivered,
        joined.emails_bounced,
        joined.unique_opens,
        joined.unique_clicks,
        joined.total_opens,
        joined.total_clicks,
        joined.unsubscribes,
        joined.spam_reports,
        {{ safe_pct('joined.unique_opens', 'joined.emails_delivered') }} as open_rate_pct,
        {{ safe_pct('joined.unique_clicks', 'joined.emails_delivered') }} as click_rate_pct,
        {{ safe_pct('joined.unique_clicks', 'joined.unique_opens') }} as click_to_open_rate_pct,
        {{ safe_pct('joined.emails_bounced', 'joined.emails_sent') }} as bounce_rate_pct,
        joined.sms_sent,
        joined.sms_delivered,
        joined.sms_failed,
        joined.sms_clicks,
        {{ safe_pct('joined.sms_delivered', 'joined.sms_sent') }} as sms_delivery_rate_pct,
        joined.social_posts,
        joined.social_impressions,
        joined.social_reach,
        joined.social_engagement,
        joined.social_clicks,
        {{ safe_pct('joined.social_engagement', 'joined.social_impressions') }} as social_engagement_rate_pct,
        round(joined.ad_spend, 2) as ad_spend,
        cast(joined.ad_impressions as bigint) as ad_impressions,
        cast(joined.ad_clicks as bigint) as ad_clicks,
        cast(joined.ad_conversions as bigint) as ad_conversions,
        round(joined.ad_revenue, 2) as ad_revenue,
        {{ safe_pct('joined.ad_clicks', 'joined.ad_impressions') }} as ad_ctr_pct,
        {{ safe_ratio('joined.ad_spend', 'joined.ad_clicks') }} as ad_cpc,
        {{ safe_ratio('joined.ad_spend', 'joined.ad_conversions') }} as ad_cpa,
        {{ safe_ratio('joined.ad_revenue', 'joined.ad_spend') }} as ad_roas,
        joined.attributed_orders,
        round(joined.attributed_revenue, 2) as attributed_revenue
    from joined
)

select * from final
