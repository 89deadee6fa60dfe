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
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
