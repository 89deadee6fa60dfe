with source as (
    select * from {{ source('app_db', 'customers') }}
),

renamed as (
    select
        customer_id,
        retailer_id,
        {{ hash_pii('email') }} as customer_email_key,
        gender,
        city,
        state,
        country,
        customer_tier,
        lifetime_value,
        total_orders,
        last_order_date,
        acquisition_source,
        acquisition_date,
        communication_preferences,
        {{ array_to_json('tags') }} as tags,
        is_active,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
