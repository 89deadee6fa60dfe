with base_social_analytics as (
    select * from {{ ref('base_app_db__social_analytics') }}
),

live as (
    select
        base_social_analytics.analytics_id,
        base_social_analytics.post_id,
        base_social_analytics.analytics_date,
        base_social_analytics.impressions,
        base_social_analytics.reach,
        base_social_analytics.engagement,
        base_social_analytics.likes,
        base_social_analytics.comments,
        base_social_analytics.shares,
        base_social_analytics.saves,
        base_social_analytics.clicks,
        base_social_analytics.video_views,
        base_social_analytics.created_at,
        base_social_analytics._loaded_at
    from base_social_analytics
    where base_social_analytics._deleted_at is null
)

select * from live
