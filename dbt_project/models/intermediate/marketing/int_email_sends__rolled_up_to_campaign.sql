with email_sends_daily as (
    select * from {{ ref('int_email_sends__aggregated_daily') }}
),

email_campaigns as (
    select * from {{ ref('stg_app_db__email_campaigns') }}
),

-- only sends of live email campaigns count: a deleted email campaign hides its sends
rolled_up as (
    select
        email_campaigns.campaign_id,
        count(distinct email_campaigns.email_campaign_id) as email_campaigns_with_sends,
        cast(sum(email_sends_daily.emails_sent) as {{ dbt.type_bigint() }}) as emails_sent,
        cast(sum(email_sends_daily.emails_delivered) as {{ dbt.type_bigint() }}) as emails_delivered,
        cast(sum(email_sends_daily.emails_bounced) as {{ dbt.type_bigint() }}) as emails_bounced,
        cast(sum(email_sends_daily.emails_failed) as {{ dbt.type_bigint() }}) as emails_failed,
        cast(sum(email_sends_daily.unique_opens) as {{ dbt.type_bigint() }}) as unique_opens,
        cast(sum(email_sends_daily.unique_clicks) as {{ dbt.type_bigint() }}) as unique_clicks,
        cast(sum(email_sends_daily.total_opens) as {{ dbt.type_bigint() }}) as total_opens,
        cast(sum(email_sends_daily.total_clicks) as {{ dbt.type_bigint() }}) as total_clicks,
        cast(sum(email_sends_daily.unsubscribes) as {{ dbt.type_bigint() }}) as unsubscribes,
        cast(sum(email_sends_daily.spam_reports) as {{ dbt.type_bigint() }}) as spam_reports
    from email_sends_daily
    inner join email_campaigns
        on email_sends_daily.email_campaign_id = email_campaigns.email_campaign_id
    where email_campaigns.campaign_id is not null
    group by email_campaigns.campaign_id
)

select * from rolled_up
