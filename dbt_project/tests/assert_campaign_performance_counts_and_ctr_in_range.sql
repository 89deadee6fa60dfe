-- Facts of campaign_performance that only the former Great Expectations mart suite asserted
-- (one owner per fact: docs/quality.md). The other counts and rates are tested in the
-- model's yml; the emails_sent / ad_spend reconciliations with raw are Dagster checks.
select
    campaign_performance.campaign_id,
    campaign_performance.social_impressions,
    campaign_performance.unique_opens,
    campaign_performance.ad_ctr_pct
from {{ ref('campaign_performance') }} as campaign_performance
where
    campaign_performance.social_impressions is null
    or campaign_performance.unique_opens < 0
    or campaign_performance.ad_ctr_pct < 0
    or campaign_performance.ad_ctr_pct > 100
