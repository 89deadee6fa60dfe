-- Within each region, shares (rounded to 2 decimals per row) sum to 100 within
-- 0.005 x the region's row count.
select
    regional_wish_list.region,
    sum(regional_wish_list.share_of_region_pct) as total_share,
    count(*) as model_rows
from {{ ref('regional_wish_list') }} as regional_wish_list
group by regional_wish_list.region
having abs(sum(regional_wish_list.share_of_region_pct) - 100) > 0.005 * count(*)
