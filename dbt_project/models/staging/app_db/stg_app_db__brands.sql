with source as (
    select * from {{ source('app_db', 'brands') }}
),

renamed as (
    select
        brand_id,
        brand_name,
        brand_description,
        industry,
        headquarters_region,
        website_url,
        logo_url,
        primary_color,
        secondary_color,
        created_by,
        is_active,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
