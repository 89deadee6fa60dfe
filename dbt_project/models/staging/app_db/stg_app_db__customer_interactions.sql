with source as (
    select * from {{ source('app_db', 'customer_interactions') }}
),

renamed as (
    select
        interaction_id,
        customer_id,
        retailer_id,
        interaction_type,
        interaction_channel,
        interaction_subject,
        interaction_outcome,
        interaction_duration,
        interaction_rating,
        follow_up_required,
        follow_up_date,
        metadata,
        interaction_date,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
