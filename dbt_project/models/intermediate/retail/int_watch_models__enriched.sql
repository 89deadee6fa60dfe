with watch_models as (
    select * from {{ ref('stg_app_db__watch_models') }}
),

brands as (
    select * from {{ ref('stg_app_db__brands') }}
),

-- one row per live watch model (active or not) with its brand's name (NULL if the brand was
-- deleted)
final as (
    select
        watch_models.model_id,
        watch_models.brand_id,
        brands.brand_name,
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
    left join brands
        on watch_models.brand_id = brands.brand_id
)

select * from final
