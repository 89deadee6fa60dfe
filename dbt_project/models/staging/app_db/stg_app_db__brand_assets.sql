with source as (
    select * from {{ source('app_db', 'brand_assets') }}
),

renamed as (
    select
        asset_id,
        brand_id,
        asset_name,
        asset_type,
        asset_category,
        file_format,
        file_size,
        usage_count,
        approval_status,
        is_active,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
