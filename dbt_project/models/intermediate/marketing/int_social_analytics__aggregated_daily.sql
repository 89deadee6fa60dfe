{{
    config(
        materialized=change_log_materialization(),
        incremental_strategy='replace_keys',
        refresh_key=['post_id', 'analytics_date'],
        marker_column='analytics_rows',
        on_schema_change='sync_all_columns',
        indexes=table_indexes([{'columns': ['post_id', 'analytics_date']}]),
    )
}}

{#
    Social analytics aggregated to (post, analytics day). Incremental at (post x day) grain,
    driven by the ingestion change log (raw._changed_keys), same design as
    int_email_sends__aggregated_daily; see the model description.
#}

{%- set window = change_log_window('social_analytics', 'changes_through_load_id') -%}
{%- set only_changed = is_incremental() and not window.rebuild_all %}

with analytics as (
    select * from {{ ref('stg_app_db__social_analytics') }}
),

{% if only_changed %}
    changed_groups as (
        select distinct
            cast(changes.parent_key as {{ type_uuid() }}) as post_id,
            changes.activity_date as analytics_date
        from {{ ledger_relation('_changed_keys') }} as changes
        where
            changes.table_name = 'social_analytics'
            and changes.load_id > {{ window.w_old }}
            and changes.load_id <= {{ window.w_new }}
            and not (changes.parent_key is null and changes.activity_date is null)
    ),
{% elif is_incremental() %}
    -- the change log cannot say what changed: every group is rebuilt, every existing one replaced
    changed_groups as (
        select distinct
            previous_build.post_id,
            previous_build.analytics_date
        from {{ this }} as previous_build
    ),
{% endif %}

scoped_analytics as (
    select
        analytics.post_id,
        analytics.analytics_date,
        analytics.impressions,
        analytics.reach,
        analytics.engagement,
        analytics.clicks
    from analytics
    {% if only_changed %}
        where
            (analytics.post_id, analytics.analytics_date) in (
                select changed_groups.post_id, changed_groups.analytics_date from changed_groups
            )
            or (
                (analytics.post_id is null or analytics.analytics_date is null)
                and exists (
                    select 1 from changed_groups
                    where
                        changed_groups.post_id is not distinct from analytics.post_id
                        and changed_groups.analytics_date is not distinct from analytics.analytics_date
                )
            )
    {% endif %}
),

aggregated as (
    select
        scoped_analytics.post_id,
        scoped_analytics.analytics_date,
        count(*) as analytics_rows,
        coalesce(sum(scoped_analytics.impressions), 0) as impressions,
        coalesce(sum(scoped_analytics.reach), 0) as reach,
        coalesce(sum(scoped_analytics.engagement), 0) as engagement,
        coalesce(sum(scoped_analytics.clicks), 0) as clicks
    from scoped_analytics
    group by
        scoped_analytics.post_id,
        scoped_analytics.analytics_date
),

final as (
    select
        aggregated.post_id,
        aggregated.analytics_date,
        aggregated.analytics_rows,
        aggregated.impressions,
        aggregated.reach,
        aggregated.engagement,
        aggregated.clicks,
        cast({{ window.w_new }} as {{ dbt.type_bigint() }}) as changes_through_load_id
    from aggregated
    {% if is_incremental() %}
        -- one marker row per changed (post, day) (analytics_rows null): the strategy deletes
        -- the group's old rows even when none of its analytics rows is left
        union all
        select
            changed_groups.post_id,
            changed_groups.analytics_date,
            cast(null as {{ dbt.type_bigint() }}) as analytics_rows,
            cast(null as {{ dbt.type_bigint() }}) as impressions,
            cast(null as {{ dbt.type_bigint() }}) as reach,
            cast(null as {{ dbt.type_bigint() }}) as engagement,
            cast(null as {{ dbt.type_bigint() }}) as clicks,
            cast({{ window.w_new }} as {{ dbt.type_bigint() }}) as changes_through_load_id
        from changed_groups
    {% endif %}
)

select * from final
