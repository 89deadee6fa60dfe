with source as (
    select * from {{ source('app_db', 'email_sends') }}
),

renamed as (
    select
        send_id,
        email_campaign_id,
        retailer_id,
        {{ hash_pii('recipient_email') }} as recipient_email_key,
        send_status,
        sent_at,
        delivered_at,
        opened_at,
        clicked_at,
        open_count,
        click_count,
        bounce_reason,
        unsubscribed_at,
        spam_reported_at,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
