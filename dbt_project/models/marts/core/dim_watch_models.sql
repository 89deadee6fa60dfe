{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['model_id'], 'unique': true},
            {'columns': ['brand_id']},
        ]),
    )
}}

with watch_models as (
    select * from {{ ref('int_watch_models__enriched') }}
),

final as (
    select
        watch_models.model_id,
        watch_models.brand_id,
        watch_models.brand_name,
        watch_models.model_name,
        watch_models.collection_name,
        watch_models.size,
        watch_models.gender,
        watch_models.material,
        watch_models.mpn,
        watch_models.retail_price,
        watch_models.is_active,
        watch_models.created_at,
        watch_models.updated_at
    from watch_models
)

select * from final
