with source as (
    select * from {{ source('platform', 'social_insights') }}
),

renamed as (
    select
        date as insight_date,
        account_id,
        platform,
        followers,
        reach,
        impressions,
        engagement,
        profile_views,
        _file_id as file_id,
        _loaded_at
    from source
    where _is_current
)

select * from renamed
