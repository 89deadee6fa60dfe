{#
    Tombstones of hard-deleted email sends: keys only (no PII), for audits; nothing counts
    them. The incremental models learn about deletes from raw._changed_keys.
#}
with base_email_sends as (
    select * from {{ ref('base_app_db__email_sends') }}
),

tombstones as (
    select
        base_email_sends.send_id,
        base_email_sends.email_campaign_id,
        base_email_sends._deleted_at as deleted_at,
        base_email_sends._loaded_at
    from base_email_sends
    where base_email_sends._deleted_at is not null
)

select * from tombstones
