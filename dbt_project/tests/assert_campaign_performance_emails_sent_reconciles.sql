-- Sum of emails_sent in the mart = live, non-failed sends in staging whose email campaign and
-- campaign are live. Catches fan-out, lost or double-counted sends, and incremental drift.
with mart as (
    select coalesce(sum(campaign_performance.emails_sent), 0) as emails_sent
    from {{ ref('campaign_performance') }} as campaign_performance
),

staged as (
    select count(*) as emails_sent
    from {{ ref('stg_app_db__email_sends') }} as email_sends
    inner join {{ ref('stg_app_db__email_campaigns') }} as email_campaigns
        on email_sends.email_campaign_id = email_campaigns.email_campaign_id
    inner join {{ ref('stg_app_db__campaigns') }} as campaigns
        on email_campaigns.campaign_id = campaigns.campaign_id
    where email_sends.send_status <> 'failed'
)

select
    mart.emails_sent as mart_emails_sent,
    staged.emails_sent as staged_emails_sent
from mart
cross join staged
where mart.emails_sent <> staged.emails_sent
