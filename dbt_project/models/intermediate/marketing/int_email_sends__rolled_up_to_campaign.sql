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
        sum(email_sends_daily.emails_sent)::bigint as emails_sent,
        sum(email_sends_daily.emails_delivered)::bigint as emails_delivered,
        sum(email_sends_daily.emails_bounced)::bigint as emails_bounced,
        sum(email_sends_daily.emails_failed)::bigint as emails_failed,
        sum(email_sends_daily.unique_opens)::bigint as unique_opens,
        sum(email_sends_daily.unique_clicks)::bigint as unique_clicks,
        sum(email_sends_daily.total_opens)::bigint as total_opens,
        sum(email_sends_daily.total_clicks)::bigint as total_clicks,
        sum(email_sends_daily.unsubscribes)::bigint as unsubscribes,
        sum(email_sends_daily.spam_reports)::bigint as spam_reports
    from email_sends_daily
    inner join email_campaigns
        on email_sends_daily.email_campaign_id = email_campaigns.email_campaign_id
    where email_campaigns.campaign_id is not null
    group by email_campaigns.campaign_id
)

select * from rolled_up
