with source as (
    select * from {{ source('app_db', 'email_campaigns') }}
),

renamed as (
    select
        email_campaign_id,
        campaign_id,
        email_subject,
        {{ hash_pii('sender_email') }} as sender_email_key,
        template_id,
        total_recipients,
        sent_at,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
