with retailers as (
    select * from {{ ref('stg_app_db__retailers') }}
),

campaign_retailers as (
    select * from {{ ref('stg_app_db__campaign_retailers') }}
),

retailer_scores as (
    select * from {{ ref('stg_app_db__retailer_scores') }}
),

email_sends_daily as (
    select * from {{ ref('int_email_sends__aggregated_daily') }}
),

email_campaigns as (
    select * from {{ ref('stg_app_db__email_campaigns') }}
),

campaigns as (
    select * from {{ ref('stg_app_db__campaigns') }}
),

participation as (
    select
        campaign_retailers.retailer_id,
        count(distinct campaign_retailers.campaign_id) as campaigns_invited,
        {{ count_distinct_where(
            'campaign_retailers.campaign_id', "campaign_retailers.participation_status = 'active'"
        ) }} as campaigns_participating
    from campaign_retailers
    group by campaign_retailers.retailer_id
),

-- the current score row of each retailer: latest calculated_at (score_id breaks ties)
latest_scores as (
    {{ first_row_per_key(
        'retailer_scores',
        'retailer_id',
        'calculated_at desc nulls last, score_id desc',
        [
            'retailer_id',
            'score_id',
            'email_response_time_hours',
            'social_response_time_hours',
            'social_post_frequency_per_week',
            'response_quality_grade',
            'first_followup_time_hours',
            'campaign_roi_percentage',
            'calculated_at',
        ],
    ) }}
),

-- the retailer's own sends, of live email campaigns of live campaigns
email_engagement as (
    select
        email_sends_daily.retailer_id,
        cast(sum(email_sends_daily.emails_sent) as {{ dbt.type_bigint() }}) as emails_sent,
        cast(sum(email_sends_daily.emails_delivered) as {{ dbt.type_bigint() }}) as emails_delivered,
        cast(sum(email_sends_daily.unique_opens) as {{ dbt.type_bigint() }}) as unique_opens,
        cast(sum(email_sends_daily.unique_clicks) as {{ dbt.type_bigint() }}) as unique_clicks
    from email_sends_daily
    inner join email_campaigns
        on email_sends_daily.email_campaign_id = email_campaigns.email_campaign_id
    inner join campaigns
        on email_campaigns.campaign_id = campaigns.campaign_id
    group by email_sends_daily.retailer_id
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
        retailers.created_at,
        retailers.updated_at,
        coalesce(participation.campaigns_invited, 0) as campaigns_invited,
        coalesce(participation.campaigns_participating, 0) as campaigns_participating,
        latest_scores.score_id as latest_score_id,
        latest_scores.calculated_at as score_calculated_at,
        latest_scores.email_response_time_hours,
        latest_scores.social_response_time_hours,
        latest_scores.social_post_frequency_per_week,
        latest_scores.response_quality_grade,
        latest_scores.first_followup_time_hours,
        latest_scores.campaign_roi_percentage,
        coalesce(email_engagement.emails_sent, 0) as emails_sent,
        coalesce(email_engagement.emails_delivered, 0) as emails_delivered,
        coalesce(email_engagement.unique_opens, 0) as email_unique_opens,
        coalesce(email_engagement.unique_clicks, 0) as email_unique_clicks,
        {{ safe_pct('email_engagement.unique_opens', 'email_engagement.emails_delivered') }} as email_open_rate_pct,
        {{ safe_pct('email_engagement.unique_clicks', 'email_engagement.emails_delivered') }} as email_click_rate_pct
    from retailers
    left join participation
        on retailers.retailer_id = participation.retailer_id
    left join latest_scores
        on retailers.retailer_id = latest_scores.retailer_id
    left join email_engagement
        on retailers.retailer_id = email_engagement.retailer_id
)

select * from final
