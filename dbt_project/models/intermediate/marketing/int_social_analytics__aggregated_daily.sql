{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        refresh_key='post_id',
        marker_column='analytics_rows',
        on_schema_change='fail',
        indexes=[{'columns': ['post_id']}],
    )
}}

{#
    Social analytics aggregated to (post, analytics day). Incremental: a post is rebuilt
    completely when any of its analytics rows (live or hard-deleted) was loaded after the
    watermark; see the model description.
#}

with analytics as (
    select * from {{ ref('stg_app_db__social_analytics') }}
),

deleted_analytics as (
    select * from {{ ref('stg_app_db__social_analytics_deleted') }}
),

source_high_water as (
    select max(all_rows._loaded_at) as source_loaded_through
    from (
        select analytics._loaded_at from analytics
        union all
        select deleted_analytics._loaded_at from deleted_analytics
    ) as all_rows
),

{% if is_incremental() %}
    watermark as (
        select
            coalesce(max(previous_build.source_loaded_through), '-infinity'::timestamptz)
            - interval '{{ var("incremental_lookback") }}' as loaded_after
        from {{ this }} as previous_build
    ),

    changed_posts as (
        select analytics.post_id
        from analytics
        cross join watermark
        where analytics._loaded_at > watermark.loaded_after
        union
        select deleted_analytics.post_id
        from deleted_analytics
        cross join watermark
        where deleted_analytics._loaded_at > watermark.loaded_after
    ),
{% endif %}

scoped_analytics as (
    select
        analytics.post_id,
        analytics.analytics_date,
        analytics.impressions,
        analytics.reach,
        analytics.engagement,
        analytics.clicks
    from analytics
    {% if is_incremental() %}
        where analytics.post_id in (select changed_posts.post_id from changed_posts)
    {% endif %}
),

aggregated as (
    select
        scoped_analytics.post_id,
        scoped_analytics.analytics_date,
        count(*) as analytics_rows,
        coalesce(sum(scoped_analytics.impressions), 0) as impressions,
        coalesce(sum(scoped_analytics.reach), 0) as reach,
        coalesce(sum(scoped_analytics.engagement), 0) as engagement,
        coalesce(sum(scoped_analytics.clicks), 0) as clicks
    from scoped_analytics
    group by
        scoped_analytics.post_id,
        scoped_analytics.analytics_date
),

final as (
    select
        aggregated.post_id,
        aggregated.analytics_date,
        aggregated.analytics_rows,
        aggregated.impressions,
        aggregated.reach,
        aggregated.engagement,
        aggregated.clicks,
        source_high_water.source_loaded_through
    from aggregated
    cross join source_high_water
    {% if is_incremental() %}
        -- one marker row per changed post (analytics_rows null): the strategy deletes the
        -- post's old rows even when none of its analytics rows is left
        union all
        select
            changed_posts.post_id,
            null::date as analytics_date,
            null::bigint as analytics_rows,
            null::bigint as impressions,
            null::bigint as reach,
            null::bigint as engagement,
            null::bigint as clicks,
            source_high_water.source_loaded_through
        from changed_posts
        cross join source_high_water
    {% endif %}
)

select * from final
