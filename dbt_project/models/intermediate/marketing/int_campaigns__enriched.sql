with campaigns as (
    select * from {{ ref('stg_app_db__campaigns') }}
),

brands as (
    select * from {{ ref('stg_app_db__brands') }}
),

participation as (
    select * from {{ ref('int_campaign_retailers__rolled_up_to_campaign') }}
),

-- one row per live campaign: its brand's name (NULL if the brand was deleted) and its
-- participation counts (1:1 joins, no fan-out)
final as (
    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.campaign_description,
        campaigns.campaign_type,
        campaigns.campaign_status,
        campaigns.brand_id,
        brands.brand_name,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.budget_allocated,
        campaigns.budget_spent,
        campaigns.target_audience,
        campaigns.performance_tier,
        campaigns.trend_direction,
        campaigns.created_at,
        campaigns.updated_at,
        coalesce(participation.participating_retailers, 0) as participating_retailers
    from campaigns
    left join brands
        on campaigns.brand_id = brands.brand_id
    left join participation
        on campaigns.campaign_id = participation.campaign_id
)

select * from final
