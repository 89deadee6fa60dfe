{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['retailer_history_key'], 'unique': true},
            {'columns': ['retailer_id', 'valid_from']},
        ]),
    )
}}

with retailers_snapshot as (
    select * from {{ ref('retailers_snapshot') }}
),

final as (
    select
        retailers_snapshot.dbt_scd_id as retailer_history_key,
        retailers_snapshot.retailer_id,
        retailers_snapshot.retailer_name,
        retailers_snapshot.region,
        retailers_snapshot.tier,
        retailers_snapshot.store_type,
        retailers_snapshot.is_active,
        retailers_snapshot.dbt_valid_from as valid_from,
        retailers_snapshot.dbt_valid_to as valid_to,
        retailers_snapshot.dbt_valid_to is null as is_current
    from retailers_snapshot
)

select * from final
