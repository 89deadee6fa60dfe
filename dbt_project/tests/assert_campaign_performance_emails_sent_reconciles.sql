-- Per campaign, the mart's emails_sent equals the live non-failed sends of the campaign's
-- live email campaigns counted straight from staging. Catches a send counted under a parent
-- it no longer has (re-parenting missed by an incremental refresh); the Dagster check
-- emails_sent_reconcile_with_raw compares only the grand total.
with expected as (
    select
        email_campaigns.campaign_id,
        count(*) filter (where sends.send_status <> 'failed') as emails_sent
    from {{ ref('stg_app_db__email_sends') }} as sends
    inner join {{ ref('stg_app_db__email_campaigns') }} as email_campaigns
        on sends.email_campaign_id = email_campaigns.email_campaign_id
    group by email_campaigns.campaign_id
),

mismatches as (
    select
        campaign_performance.campaign_id,
        campaign_performance.emails_sent as mart_emails_sent,
        coalesce(expected.emails_sent, 0) as staging_emails_sent
    from {{ ref('campaign_performance') }} as campaign_performance
    left join expected
        on campaign_performance.campaign_id = expected.campaign_id
    where campaign_performance.emails_sent <> coalesce(expected.emails_sent, 0)
)

select * from mismatches
