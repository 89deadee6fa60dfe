with source as (
    select * from {{ source('app_db', 'users') }}
),

renamed as (
    select
        id as user_id,
        {{ hash_pii('email') }} as user_email_key,
        role,
        {{ clean_region('region') }} as region,
        company_name,
        brand_id,
        retailer_id,
        is_active,
        last_login,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
