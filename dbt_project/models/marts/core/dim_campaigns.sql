{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['campaign_id'], 'unique': true},
            {'columns': ['brand_id']},
        ]),
    )
}}

with campaigns as (
    select * from {{ ref('int_campaigns__enriched') }}
),

final as (
    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.campaign_description,
        campaigns.campaign_type,
        campaigns.campaign_status,
        campaigns.brand_id,
        campaigns.brand_name,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.budget_allocated,
        campaigns.budget_spent,
        campaigns.target_audience,
        campaigns.performance_tier,
        campaigns.trend_direction,
        campaigns.created_at,
        campaigns.updated_at
    from campaigns
)

select * from final
