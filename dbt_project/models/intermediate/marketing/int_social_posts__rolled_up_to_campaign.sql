with social_posts as (
    select * from {{ ref('stg_app_db__social_posts') }}
),

social_analytics_daily as (
    select * from {{ ref('int_social_analytics__aggregated_daily') }}
),

-- posts and their analytics are aggregated separately, then joined: no fan-out
posts_per_campaign as (
    select
        social_posts.campaign_id,
        count(*) as posts_total,
        {{ count_where("social_posts.published_at is not null") }} as social_posts
    from social_posts
    where social_posts.campaign_id is not null
    group by social_posts.campaign_id
),

-- analytics of every live post of the campaign (published or not); a deleted post hides them
analytics_per_campaign as (
    select
        social_posts.campaign_id,
        cast(sum(social_analytics_daily.impressions) as {{ dbt.type_bigint() }}) as social_impressions,
        cast(sum(social_analytics_daily.reach) as {{ dbt.type_bigint() }}) as social_reach,
        cast(sum(social_analytics_daily.engagement) as {{ dbt.type_bigint() }}) as social_engagement,
        cast(sum(social_analytics_daily.clicks) as {{ dbt.type_bigint() }}) as social_clicks
    from social_analytics_daily
    inner join social_posts
        on social_analytics_daily.post_id = social_posts.post_id
    where social_posts.campaign_id is not null
    group by social_posts.campaign_id
),

final as (
    select
        posts_per_campaign.campaign_id,
        posts_per_campaign.posts_total,
        posts_per_campaign.social_posts,
        coalesce(analytics_per_campaign.social_impressions, 0) as social_impressions,
        coalesce(analytics_per_campaign.social_reach, 0) as social_reach,
        coalesce(analytics_per_campaign.social_engagement, 0) as social_engagement,
        coalesce(analytics_per_campaign.social_clicks, 0) as social_clicks
    from posts_per_campaign
    left join analytics_per_campaign
        on posts_per_campaign.campaign_id = analytics_per_campaign.campaign_id
)

select * from final
