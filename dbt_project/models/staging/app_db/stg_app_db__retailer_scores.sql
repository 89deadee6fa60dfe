with source as (
    select * from {{ source('app_db', 'retailer_scores') }}
),

renamed as (
    select
        score_id,
        retailer_id,
        email_response_time_hours,
        social_response_time_hours,
        social_post_frequency_per_week,
        response_quality_grade,
        first_followup_time_hours,
        campaign_roi_percentage,
        calculated_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
