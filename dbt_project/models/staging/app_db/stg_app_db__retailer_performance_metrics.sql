with source as (
    select * from {{ source('app_db', 'retailer_performance_metrics') }}
),

renamed as (
    select
        metric_id,
        retailer_id,
        metric_date,
        metric_period,
        revenue,
        orders_count,
        average_order_value,
        customer_acquisition_cost,
        customer_lifetime_value,
        conversion_rate,
        email_open_rate,
        email_click_rate,
        social_engagement_rate,
        social_follower_growth,
        website_traffic,
        bounce_rate,
        page_views,
        session_duration,
        inventory_turnover,
        return_rate,
        customer_satisfaction,
        net_promoter_score,
        market_share,
        competitive_ranking,
        performance_score,
        created_at,
        updated_at,
        _loaded_at
    from source
    where _deleted_at is null
)

select * from renamed
