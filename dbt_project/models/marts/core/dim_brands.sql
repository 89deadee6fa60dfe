{{
    config(
        contract=mart_contract(),
        indexes=table_indexes([{'columns': ['brand_id'], 'unique': true}]),
    )
}}

with brands as (
    select * from {{ ref('stg_app_db__brands') }}
),

final as (
    select
        brands.brand_id,
        brands.brand_name,
        brands.brand_description,
        brands.industry,
        brands.headquarters_region,
        brands.website_url,
        brands.is_active,
        brands.created_at,
        brands.updated_at
    from brands
)

select * from final
