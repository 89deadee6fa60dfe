with source as (
    select * from {{ source('app_db', 'social_posts') }}
),

renamed as (
    select
        post_id,
        account_id,
        campaign_id,
        post_content,
        post_type,
        external_post_id,
        scheduled_at,
        published_at,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
