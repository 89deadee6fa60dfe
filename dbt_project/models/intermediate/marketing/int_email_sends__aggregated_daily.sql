{{
    config(
        materialized=change_log_materialization(),
        incremental_strategy='replace_keys',
        refresh_key=['email_campaign_id', 'activity_date'],
        marker_column='send_rows',
        on_schema_change='sync_all_columns',
        indexes=table_indexes([{'columns': ['email_campaign_id', 'activity_date']}]),
    )
}}

{#
    Email sends aggregated to (email campaign, retailer, activity day). Incremental at
    (email campaign x activity day) grain, driven by the ingestion change log
    (raw._changed_keys): a group is rebuilt when a load inserted, updated, moved or deleted
    one of its sends; see the model description.
#}

{%- set window = change_log_window('email_sends', 'changes_through_load_id') -%}
{%- set only_changed = is_incremental() and not window.rebuild_all %}

with sends as (
    select * from {{ ref('stg_app_db__email_sends') }}
),

sends_by_day as (
    select
        sends.*,
        -- exactly the day ingestion records (ingestion/app_db/tables.yml, change_keys)
        {{ utc_date('coalesce(sends.sent_at, sends.created_at, sends._loaded_at)') }} as activity_date
    from sends
),

{% if only_changed %}
    changed_groups as (
        select distinct
            cast(changes.parent_key as {{ type_uuid() }}) as email_campaign_id,
            changes.activity_date
        from {{ ledger_relation('_changed_keys') }} as changes
        where
            changes.table_name = 'email_sends'
            and changes.load_id > {{ window.w_old }}
            and changes.load_id <= {{ window.w_new }}
            and not (changes.parent_key is null and changes.activity_date is null)
    ),
{% elif is_incremental() %}
    -- the change log cannot say what changed: every group is rebuilt, every existing one replaced
    changed_groups as (
        select distinct
            previous_build.email_campaign_id,
            previous_build.activity_date
        from {{ this }} as previous_build
    ),
{% endif %}

scoped_sends as (
    select
        sends_by_day.email_campaign_id,
        sends_by_day.retailer_id,
        sends_by_day.activity_date,
        sends_by_day.send_status,
        sends_by_day.delivered_at,
        sends_by_day.opened_at,
        sends_by_day.clicked_at,
        sends_by_day.open_count,
        sends_by_day.click_count,
        sends_by_day.unsubscribed_at,
        sends_by_day.spam_reported_at
    from sends_by_day
    {% if only_changed %}
        where
            (sends_by_day.email_campaign_id, sends_by_day.activity_date) in (
                select changed_groups.email_campaign_id, changed_groups.activity_date from changed_groups
            )
            or (
                sends_by_day.email_campaign_id is null
                and sends_by_day.activity_date in (
                    select changed_groups.activity_date from changed_groups
                    where changed_groups.email_campaign_id is null
                )
            )
    {% endif %}
),

aggregated as (
    select
        scoped_sends.email_campaign_id,
        scoped_sends.retailer_id,
        scoped_sends.activity_date,
        count(*) as send_rows,
        {{ count_where("scoped_sends.send_status <> 'failed'") }} as emails_sent,
        {{ count_where("scoped_sends.delivered_at is not null") }} as emails_delivered,
        {{ count_where("scoped_sends.send_status = 'bounced'") }} as emails_bounced,
        {{ count_where("scoped_sends.send_status = 'failed'") }} as emails_failed,
        {{ count_where("scoped_sends.opened_at is not null") }} as unique_opens,
        {{ count_where("scoped_sends.clicked_at is not null") }} as unique_clicks,
        coalesce(sum(scoped_sends.open_count), 0) as total_opens,
        coalesce(sum(scoped_sends.click_count), 0) as total_clicks,
        {{ count_where("scoped_sends.unsubscribed_at is not null") }} as unsubscribes,
        {{ count_where("scoped_sends.spam_reported_at is not null") }} as spam_reports
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
        cast(aggregated.total_opens as {{ dbt.type_bigint() }}) as total_opens,
        cast(aggregated.total_clicks as {{ dbt.type_bigint() }}) as total_clicks,
        aggregated.unsubscribes,
        aggregated.spam_reports,
        cast({{ window.w_new }} as {{ dbt.type_bigint() }}) as changes_through_load_id
    from aggregated
    {% if is_incremental() %}
        -- one marker row per changed (email campaign, day) (send_rows null): the strategy
        -- deletes the group's old rows even when none of its sends is left
        union all
        select
            changed_groups.email_campaign_id,
            cast(null as {{ type_uuid() }}) as retailer_id,
            changed_groups.activity_date,
            cast(null as {{ dbt.type_bigint() }}) as send_rows,
            cast(null as {{ dbt.type_bigint() }}) as emails_sent,
            cast(null as {{ dbt.type_bigint() }}) as emails_delivered,
            cast(null as {{ dbt.type_bigint() }}) as emails_bounced,
            cast(null as {{ dbt.type_bigint() }}) as emails_failed,
            cast(null as {{ dbt.type_bigint() }}) as unique_opens,
            cast(null as {{ dbt.type_bigint() }}) as unique_clicks,
            cast(null as {{ dbt.type_bigint() }}) as total_opens,
            cast(null as {{ dbt.type_bigint() }}) as total_clicks,
            cast(null as {{ dbt.type_bigint() }}) as unsubscribes,
            cast(null as {{ dbt.type_bigint() }}) as spam_reports,
            cast({{ window.w_new }} as {{ dbt.type_bigint() }}) as changes_through_load_id
        from changed_groups
    {% endif %}
)

select * from final
