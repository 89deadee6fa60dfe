{#
    Tombstones of hard-deleted email sends: keys only (no PII). Incremental models use them
    to find the email campaigns whose aggregates must lose a deleted send; nothing counts them.
#}
with source as (
    select * from {{ source('app_db', 'email_sends') }}
),

tombstones as (
    select
        send_id,
        email_campaign_id,
        _deleted_at as deleted_at,
        _loaded_at
    from source
    where _deleted_at is not null
)

select * from tombstones
