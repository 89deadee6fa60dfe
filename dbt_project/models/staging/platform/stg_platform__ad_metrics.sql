with source as (
    select * from {{ source('platform', 'ad_metrics') }}
),

renamed as (
    select
        date as metric_date,
        brand_id,
        campaign_id,
        platform,
        metric_type,
        value as metric_value,
        currency,
        _file_id as file_id,
        _loaded_at
    from source
    where _is_current
)

select * from renamed
