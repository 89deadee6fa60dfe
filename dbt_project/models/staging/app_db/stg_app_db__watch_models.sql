with source as (
    select * from {{ source('app_db', 'watch_models') }}
),

renamed as (
    select
        model_id,
        brand_id,
        model_name,
        collection_name,
        size,
        gender,
        material,
        mpn,
        retail_price,
        is_active,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
