with source as (
    select * from {{ source('platform', 'orders') }}
),

renamed as (
    select
        order_id,
        line_number,
        retailer_id,
        ordered_at,
        customer_id,
        model_mpn,
        quantity,
        unit_price,
        currency,
        utm_campaign,
        {{ safe_uuid('utm_campaign') }} as campaign_id,
        status as order_status,
        _file_id as file_id,
        _loaded_at
    from source
    where _is_current
)

select * from renamed
