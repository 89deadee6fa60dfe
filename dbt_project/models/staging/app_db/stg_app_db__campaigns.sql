with source as (
    select * from {{ source('app_db', 'campaigns') }}
),

renamed as (
    select
        campaign_id,
        campaign_name,
        campaign_description,
        campaign_type,
        campaign_status,
        brand_id,
        start_date,
        end_date,
        budget_allocated,
        budget_spent,
        target_audience,
        {{ array_to_json('campaign_objectives') }} as campaign_objectives,
        performance_tier,
        trend_direction,
        created_by,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
