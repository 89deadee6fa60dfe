"""The export file contract (source contract, section B) as pydantic models.

Each export has a row model that validates and normalises one record (from a CSV line, a
JSONL line or a JSON array element) and a key. pydantic does the type work; the few rules
pydantic is lax about (integer text only, strict ISO dates, supported currency, cents) are
explicit validators on the field types below, so every rule lives next to its field.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator

SUPPORTED_CURRENCIES = {"USD"}

_INT_TEXT = re.compile(r"^[+-]?\d+$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_TEXT.match(value.strip()):
        return int(value.strip())
    raise ValueError(f"expected integer text (like 12), got {value!r}")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float | str):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
        if number.is_finite():
            return number
    raise ValueError(f"expected a finite number, got {value!r}")


def _money(value: Any) -> Decimal:
    number = _decimal(value)
    if number != number.quantize(Decimal("0.01")):
        raise ValueError(f"expected an amount in cents (2 decimals at most), got {value!r}")
    if abs(number) >= Decimal("1e10"):
        raise ValueError(f"amount {value!r} does not fit numeric(12,2)")
    return number.quantize(Decimal("0.01"))


def _iso_date(value: Any) -> date:
    if isinstance(value, str) and _DATE_TEXT.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as err:
            raise ValueError(f"impossible date {value!r}: {err}") from None
    raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected an ISO 8601 timestamp, got {value!r}") from None
        # A timestamp without offset is taken as UTC (documented in docs/raw-layer.md).
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"expected an ISO 8601 timestamp, got {value!r}")


def _currency(value: Any) -> str:
    if value is None:
        return "USD"
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 4217 currency code, got {value!r}")
    code = value.strip().upper() or "USD"
    if code not in SUPPORTED_CURRENCIES:
        raise ValueError(f"unsupported currency {value!r} (only USD until conversion is added)")
    return code


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected text, got {value!r}")


def _lower_text(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Integer = Annotated[int, PlainValidator(_integer)]
Number = Annotated[Decimal, PlainValidator(_decimal)]
Money = Annotated[Decimal, PlainValidator(_money)]
IsoDate = Annotated[date, PlainValidator(_iso_date)]
Timestamp = Annotated[datetime, PlainValidator(_timestamp)]
Currency = Annotated[str, BeforeValidator(_blank_to_none), PlainValidator(_currency)]
Text = Annotated[str, PlainValidator(_text)]
OptionalUUID = Annotated[UUID | None, BeforeValidator(_blank_to_none)]
OptionalInteger = Annotated[
    int | None,
    BeforeValidator(_blank_to_none),
    PlainValidator(lambda v: None if v is None else _integer(v)),
]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


class ExportRow(BaseModel):
    """Common config: unknown fields are allowed (kept in ``_extra``), values are required."""

    model_config = ConfigDict(extra="allow", frozen=True)

    KEY: tuple[str, ...] = ()


class AdMetric(ExportRow):
    date: IsoDate
    brand_id: UUID
    campaign_id: OptionalUUID = None
    platform: Annotated[Literal["meta", "google_ads", "tiktok_ads"], BeforeValidator(_lower_text)]
    metric_type: Annotated[
        Literal["ad_spend", "impressions", "clicks", "conversions", "revenue", "new_customers"],
        BeforeValidator(_lower_text),
    ]
    value: Number
    currency: Currency = "USD"


class SocialInsight(ExportRow):
    date: IsoDate
    account_id: UUID
    platform: Text
    followers: Integer
    reach: Integer
    impressions: Integer
    engagement: Integer
    profile_views: OptionalInteger = None


class OrderLine(ExportRow):
    order_id: Text
    line_number: Integer
    retailer_id: UUID
    ordered_at: Timestamp
    customer_id: OptionalUUID = None
    model_mpn: Text
    quantity: Integer
    unit_price: Money
    currency: Currency = "USD"
    utm_campaign: OptionalText = None
    status: Annotated[Literal["paid", "refunded", "cancelled"], BeforeValidator(_lower_text)]
