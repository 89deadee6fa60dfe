with source as (
    select * from {{ source('app_db', 'retailers') }}
),

renamed as (
    select
        retailer_id,
        retailer_name,
        {{ clean_region('region') }} as region,
        {{ hash_pii('contact_email') }} as contact_email_key,
        city,
        state,
        country,
        postal_code,
        website_url,
        store_type,
        {{ clean_tier('tier') }} as tier,
        is_active,
        onboarding_date,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
