with source as (
    select * from {{ source('app_db', 'sms_campaigns') }}
),

renamed as (
    select
        sms_campaign_id,
        campaign_id,
        sms_content,
        {{ hash_pii('sender_number') }} as sender_number_key,
        total_recipients,
        sent_at,
        created_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
