{#
    Every row of raw.email_sends, live AND hard-deleted (_deleted_at set), renamed and PII-hashed once.
    The only model reading the source: stg_app_db__email_sends keeps the live rows,
    stg_app_db__email_sends_deleted the tombstones.
#}
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
        _loaded_at,
        _deleted_at
    from source
)

select * from renamed
