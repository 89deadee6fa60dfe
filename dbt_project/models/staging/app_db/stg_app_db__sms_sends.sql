with source as (
    select * from {{ source('app_db', 'sms_sends') }}
),

renamed as (
    select
        sms_send_id,
        sms_campaign_id,
        retailer_id,
        {{ hash_pii('recipient_phone') }} as recipient_phone_key,
        status,
        sent_at,
        delivered_at,
        clicked_at,
        failure_reason,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
