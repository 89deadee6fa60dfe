with source as (
    select * from {{ source('app_db', 'social_accounts') }}
),

renamed as (
    select
        account_id,
        retailer_id,
        brand_id,
        platform,
        account_handle,
        account_name,
        follower_count,
        is_verified,
        is_active,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
