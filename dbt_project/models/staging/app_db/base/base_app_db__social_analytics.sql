{#
    Every row of raw.social_analytics, live AND hard-deleted (_deleted_at set), renamed once.
    The only model reading the source: stg_app_db__social_analytics keeps the live rows,
    stg_app_db__social_analytics_deleted the tombstones.
#}
with source as (
    select * from {{ source('app_db', 'social_analytics') }}
),

renamed as (
    select
        analytics_id,
        post_id,
        analytics_date,
        impressions,
        reach,
        engagement,
        likes,
        comments,
        shares,
        saves,
        clicks,
        video_views,
        created_at,
        _loaded_at,
        _deleted_at
    from source
)

select * from renamed
