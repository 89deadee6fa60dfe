"""The three export feeds: their row model, key and raw table.

A feed's fields, their order and their raw column types are declared once, by its row model
in schemas.py; ``Feed.columns`` is derived from it (ensure_feed_table and the loader read it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion.platform_exports.schemas import (
    AdMetric,
    ExportRow,
    OrderLine,
    SocialInsight,
    raw_columns,
)


@dataclass(frozen=True)
class Feed:
    name: str
    model: type[ExportRow]
    key: tuple[str, ...]
    # raw column -> PostgreSQL type, contract order (derived from the model's fields)
    columns: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", raw_columns(self.model))
        unknown = [name for name in self.key if name not in self.columns]
        if unknown:
            raise ValueError(f"feed {self.name}: key names unknown field(s) {unknown}")

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
    ),
    "social_insights": Feed(
        name="social_insights",
        model=SocialInsight,
        key=("account_id", "date"),
    ),
    "orders": Feed(
        name="orders",
        model=OrderLine,
        key=("order_id", "line_number"),
    ),
}
