{#
    Tombstones of hard-deleted social analytics rows: keys only. Incremental models use them
    to find the posts whose daily figures must lose a deleted row; nothing counts them.
#}
with source as (
    select * from {{ source('app_db', 'social_analytics') }}
),

tombstones as (
    select
        analytics_id,
        post_id,
        analytics_date,
        _deleted_at as deleted_at,
        _loaded_at
    from source
    where _deleted_at is not null
)

select * from tombstones
