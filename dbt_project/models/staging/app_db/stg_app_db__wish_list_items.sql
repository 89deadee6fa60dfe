with source as (
    select * from {{ source('app_db', 'wish_list_items') }}
),

renamed as (
    select
        wish_id,
        model_id,
        retailer_id,
        customer_id,
        wish_count,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
