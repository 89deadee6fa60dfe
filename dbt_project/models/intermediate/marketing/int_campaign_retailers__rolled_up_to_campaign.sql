with campaign_retailers as (
    select * from {{ ref('stg_app_db__campaign_retailers') }}
),

-- participation counts whatever the retailer's own is_active
rolled_up as (
    select
        campaign_retailers.campaign_id,
        {{ count_distinct_where(
            'campaign_retailers.retailer_id', "campaign_retailers.participation_status = 'active'"
        ) }} as participating_retailers,
        count(distinct campaign_retailers.retailer_id) as invited_retailers
    from campaign_retailers
    where campaign_retailers.campaign_id is not null
    group by campaign_retailers.campaign_id
)

select * from rolled_up
