{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['retailer_id'], 'unique': true},
            {'columns': ['region', 'tier']},
        ]),
    )
}}

with retailers as (
    select * from {{ ref('int_retailers__enriched') }}
),

final as (
    select
        retailers.retailer_id,
        retailers.retailer_name,
        retailers.region,
        retailers.tier,
        retailers.store_type,
        retailers.city,
        retailers.state,
        retailers.country,
        retailers.is_active,
        retailers.onboarding_date,
        retailers.campaigns_invited,
        retailers.campaigns_participating,
        retailers.latest_score_id,
        retailers.score_calculated_at,
        retailers.email_response_time_hours,
        retailers.social_response_time_hours,
        retailers.social_post_frequency_per_week,
        retailers.response_quality_grade,
        retailers.first_followup_time_hours,
        retailers.campaign_roi_percentage,
        retailers.emails_sent,
        retailers.emails_delivered,
        retailers.email_unique_opens,
        retailers.email_unique_clicks,
        retailers.email_open_rate_pct,
        retailers.email_click_rate_pct,
        retailers.created_at,
        retailers.updated_at
    from retailers
)

select * from final
