with source as (
    select * from {{ source('app_db', 'asset_downloads') }}
),

renamed as (
    select
        download_id,
        asset_id,
        retailer_id,
        user_id,
        action_type,
        occurred_at,
        created_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
