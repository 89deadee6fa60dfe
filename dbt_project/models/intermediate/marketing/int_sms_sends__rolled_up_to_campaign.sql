with sms_sends as (
    select * from {{ ref('stg_app_db__sms_sends') }}
),

sms_campaigns as (
    select * from {{ ref('stg_app_db__sms_campaigns') }}
),

-- only sends of live SMS campaigns count: a deleted SMS campaign hides its sends
rolled_up as (
    select
        sms_campaigns.campaign_id,
        {{ count_where("sms_sends.status in ('sent', 'delivered', 'failed')") }} as sms_sent,
        {{ count_where("sms_sends.status = 'delivered'") }} as sms_delivered,
        {{ count_where("sms_sends.status = 'failed'") }} as sms_failed,
        {{ count_where("sms_sends.clicked_at is not null") }} as sms_clicks
    from sms_sends
    inner join sms_campaigns
        on sms_sends.sms_campaign_id = sms_campaigns.sms_campaign_id
    where sms_campaigns.campaign_id is not null
    group by sms_campaigns.campaign_id
)

select * from rolled_up
