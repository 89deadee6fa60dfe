{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([
            {'columns': ['region', 'rank_in_region']},
            {'columns': ['brand_id']},
        ]),
    )
}}

with wish_list_items as (
    select * from {{ ref('stg_app_db__wish_list_items') }}
),

retailers as (
    select * from {{ ref('stg_app_db__retailers') }}
),

watch_models as (
    select * from {{ ref('int_watch_models__enriched') }}
),

-- live wishes of active retailers for live watch models (inactive models included),
-- by the retailer's current region
wishes_by_region_and_model as (
    select
        retailers.region,
        wish_list_items.model_id,
        cast(sum(wish_list_items.wish_count) as {{ dbt.type_bigint() }}) as total_wishes,
        count(distinct wish_list_items.retailer_id) as wishing_retailers
    from wish_list_items
    inner join retailers
        on wish_list_items.retailer_id = retailers.retailer_id
    inner join watch_models
        on wish_list_items.model_id = watch_models.model_id
    where retailers.is_active
    group by
        retailers.region,
        wish_list_items.model_id
),

ranked as (
    select
        wishes_by_region_and_model.region,
        wishes_by_region_and_model.model_id,
        wishes_by_region_and_model.total_wishes,
        wishes_by_region_and_model.wishing_retailers,
        rank() over (
            partition by wishes_by_region_and_model.region
            order by wishes_by_region_and_model.total_wishes desc
        ) as rank_in_region,
        {{ safe_pct(
            'wishes_by_region_and_model.total_wishes',
            'sum(wishes_by_region_and_model.total_wishes) over (partition by wishes_by_region_and_model.region)'
        ) }} as share_of_region_pct
    from wishes_by_region_and_model
),

final as (
    select
        ranked.region,
        ranked.model_id,
        watch_models.model_name,
        watch_models.collection_name,
        watch_models.brand_id,
        watch_models.brand_name,
        watch_models.mpn,
        watch_models.size,
        watch_models.gender,
        watch_models.material,
        watch_models.is_active as model_is_active,
        ranked.total_wishes,
        ranked.wishing_retailers,
        ranked.rank_in_region,
        ranked.share_of_region_pct
    from ranked
    inner join watch_models
        on ranked.model_id = watch_models.model_id
)

select * from final
