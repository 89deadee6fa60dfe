{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        refresh_key='email_campaign_id',
        marker_column='send_rows',
        on_schema_change='fail',
        indexes=[{'columns': ['email_campaign_id']}],
    )
}}

{#
    Email sends aggregated to (email campaign, retailer, activity day). Incremental:
    an email campaign is rebuilt completely when any of its sends (live or hard-deleted) was
    loaded after the watermark; see the model description.
#}

with sends as (
    select * from {{ ref('stg_app_db__email_sends') }}
),

deleted_sends as (
    select * from {{ ref('stg_app_db__email_sends_deleted') }}
),

source_high_water as (
    select max(all_rows._loaded_at) as source_loaded_through
    from (
        select sends._loaded_at from sends
        union all
        select deleted_sends._loaded_at from deleted_sends
    ) as all_rows
),

{% if is_incremental() %}
    watermark as (
        select
            coalesce(max(previous_build.source_loaded_through), '-infinity'::timestamptz)
            - interval '{{ var("incremental_lookback") }}' as loaded_after
        from {{ this }} as previous_build
    ),

    changed_email_campaigns as (
        select sends.email_campaign_id
        from sends
        cross join watermark
        where sends._loaded_at > watermark.loaded_after
        union
        select deleted_sends.email_campaign_id
        from deleted_sends
        cross join watermark
        where deleted_sends._loaded_at > watermark.loaded_after
    ),
{% endif %}

scoped_sends as (
    select
        sends.email_campaign_id,
        sends.retailer_id,
        (coalesce(sends.sent_at, sends.created_at, sends._loaded_at) at time zone 'UTC')::date as activity_date,
        sends.send_status,
        sends.delivered_at,
        sends.opened_at,
        sends.clicked_at,
        sends.open_count,
        sends.click_count,
        sends.unsubscribed_at,
        sends.spam_reported_at
    from sends
    {% if is_incremental() %}
        where sends.email_campaign_id in (
            select changed_email_campaigns.email_campaign_id from changed_email_campaigns
        )
    {% endif %}
),

aggregated as (
    select
        scoped_sends.email_campaign_id,
        scoped_sends.retailer_id,
        scoped_sends.activity_date,
        count(*) as send_rows,
        count(*) filter (where scoped_sends.send_status <> 'failed') as emails_sent,
        count(*) filter (where scoped_sends.delivered_at is not null) as emails_delivered,
        count(*) filter (where scoped_sends.send_status = 'bounced') as emails_bounced,
        count(*) filter (where scoped_sends.send_status = 'failed') as emails_failed,
        count(*) filter (where scoped_sends.opened_at is not null) as unique_opens,
        count(*) filter (where scoped_sends.clicked_at is not null) as unique_clicks,
        coalesce(sum(scoped_sends.open_count), 0) as total_opens,
        coalesce(sum(scoped_sends.click_count), 0) as total_clicks,
        count(*) filter (where scoped_sends.unsubscribed_at is not null) as unsubscribes,
        count(*) filter (where scoped_sends.spam_reported_at is not null) as spam_reports
    from scoped_sends
    group by
        scoped_sends.email_campaign_id,
        scoped_sends.retailer_id,
        scoped_sends.activity_date
),

final as (
    select
        aggregated.email_campaign_id,
        aggregated.retailer_id,
        aggregated.activity_date,
        aggregated.send_rows,
        aggregated.emails_sent,
        aggregated.emails_delivered,
        aggregated.emails_bounced,
        aggregated.emails_failed,
        aggregated.unique_opens,
        aggregated.unique_clicks,
        aggregated.total_opens::bigint as total_opens,
        aggregated.total_clicks::bigint as total_clicks,
        aggregated.unsubscribes,
        aggregated.spam_reports,
        source_high_water.source_loaded_through
    from aggregated
    cross join source_high_water
    {% if is_incremental() %}
        -- one marker row per changed email campaign (send_rows null): the strategy deletes
        -- the campaign's old rows even when none of its sends is left
        union all
        select
            changed_email_campaigns.email_campaign_id,
            null::uuid as retailer_id,
            null::date as activity_date,
            null::bigint as send_rows,
            null::bigint as emails_sent,
            null::bigint as emails_delivered,
            null::bigint as emails_bounced,
            null::bigint as emails_failed,
            null::bigint as unique_opens,
            null::bigint as unique_clicks,
            null::bigint as total_opens,
            null::bigint as total_clicks,
            null::bigint as unsubscribes,
            null::bigint as spam_reports,
            source_high_water.source_loaded_through
        from changed_email_campaigns
        cross join source_high_water
    {% endif %}
)

select * from final
