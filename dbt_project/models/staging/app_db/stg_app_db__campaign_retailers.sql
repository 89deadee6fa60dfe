with source as (
    select * from {{ source('app_db', 'campaign_retailers') }}
),

renamed as (
    select
        id,
        campaign_id,
        retailer_id,
        participation_status,
        joined_date,
        performance_score,
        notes,
        created_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
