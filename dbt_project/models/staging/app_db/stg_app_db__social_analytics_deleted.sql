{#
    Tombstones of hard-deleted social analytics rows: keys only, for audits; nothing counts
    them. The incremental models learn about deletes from raw._changed_keys.
#}
with base_social_analytics as (
    select * from {{ ref('base_app_db__social_analytics') }}
),

tombstones as (
    select
        base_social_analytics.analytics_id,
        base_social_analytics.post_id,
        base_social_analytics.analytics_date,
        base_social_analytics._deleted_at as deleted_at,
        base_social_analytics._loaded_at
    from base_social_analytics
    where base_social_analytics._deleted_at is not null
)

select * from tombstones
