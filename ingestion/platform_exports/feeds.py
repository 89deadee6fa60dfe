"""The three export feeds: their row model, key and raw table."""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.platform_exports.schemas import AdMetric, ExportRow, OrderLine, SocialInsight


@dataclass(frozen=True)
class Feed:
    name: str
    model: type[ExportRow]
    key: tuple[str, ...]
    columns: dict[str, str]  # raw column -> PostgreSQL type, contract order

    @property
    def required_header(self) -> list[str]:
        """CSV columns a file must have: every field without a contract default."""
        return [
            name
            for name, info in self.model.model_fields.items()
            if info.is_required() or name in self.key
        ]


FEEDS: dict[str, Feed] = {
    "ad_metrics": Feed(
        name="ad_metrics",
        model=AdMetric,
        key=("platform", "campaign_id", "date", "metric_type"),
        columns={
            "date": "date",
            "brand_id": "uuid",
            "campaign_id": "uuid",
            "platform": "text",
            "metric_type": "text",
            "value": "numeric",
            "currency": "text",
        },
    ),
    "social_insights": Feed(
        name="social_insights",
        model=SocialInsight,
        key=("account_id", "date"),
        columns={
            "date": "date",
            "account_id": "uuid",
            "platform": "text",
            "followers": "integer",
            "reach": "integer",
            "impressions": "integer",
            "engagement": "integer",
            "profile_views": "integer",
        },
    ),
    "orders": Feed(
        name="orders",
        model=OrderLine,
        key=("order_id", "line_number"),
        columns={
            "order_id": "text",
            "line_number": "integer",
            "retailer_id": "uuid",
            "ordered_at": "timestamp with time zone",
            "customer_id": "uuid",
            "model_mpn": "text",
            "quantity": "integer",
            "unit_price": "numeric(12,2)",
            "currency": "text",
            "utm_campaign": "text",
            "status": "text",
        },
    ),
}
