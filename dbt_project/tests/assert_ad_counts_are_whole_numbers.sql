-- campaign_performance publishes ad_impressions, ad_clicks and ad_conversions as bigint: the
-- cast is exact only while every campaign's sums of those metrics are whole numbers. A source
-- sending fractional counts fails here instead of being rounded in silence. (floor, not
-- trunc: the same test on every adapter, since a whole number equals its floor and nothing
-- else does.)
select
    ad_metrics.campaign_id,
    ad_metrics.ad_impressions,
    ad_metrics.ad_clicks,
    ad_metrics.ad_conversions
from {{ ref('int_ad_metrics__rolled_up_to_campaign') }} as ad_metrics
where
    ad_metrics.ad_impressions <> floor(ad_metrics.ad_impressions)
    or ad_metrics.ad_clicks <> floor(ad_metrics.ad_clicks)
    or ad_metrics.ad_conversions <> floor(ad_metrics.ad_conversions)
