with base_email_sends as (
    select * from {{ ref('base_app_db__email_sends') }}
),

live as (
    select
        base_email_sends.send_id,
        base_email_sends.email_campaign_id,
        base_email_sends.retailer_id,
        base_email_sends.recipient_email_key,
        base_email_sends.send_status,
        base_email_sends.sent_at,
        base_email_sends.delivered_at,
        base_email_sends.opened_at,
        base_email_sends.clicked_at,
        base_email_sends.open_count,
        base_email_sends.click_count,
        base_email_sends.bounce_reason,
        base_email_sends.unsubscribed_at,
        base_email_sends.spam_reported_at,
        base_email_sends.created_at,
        base_email_sends.updated_at,
        base_email_sends._loaded_at
    from base_email_sends
    where base_email_sends._deleted_at is null
)

select * from live
