"""The export file contract (source contract, section B) as pydantic models.

This module is the ONE declaration of an export feed's shape. Each export has a row model
that validates and normalises one record (from a CSV line, a JSONL line or a JSON array
element). pydantic does the type work; the few rules pydantic is lax about (integer text
only, strict ISO dates, supported currency, cents) are explicit validators on the field
types below, so every rule lives next to its field.

Derived from here, never restated:

- the file's columns (CSV header order) and the raw table's columns and PostgreSQL types:
  every field type carries its raw type (:class:`RawType`), read by :func:`raw_columns`
  (``Feed.columns`` in feeds.py);
- the value sets (``AD_PLATFORMS``, ``AD_METRIC_TYPES``, ``ORDER_STATUSES``,
  ``SUPPORTED_CURRENCIES``), from the ``Literal`` types: the simulator and the Great
  Expectations raw suites import them; dbt's accepted_values cannot import Python, so
  tests/unit/test_contracts.py proves the dbt yml lists the same values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator

# -- value sets (the Literal types are the declaration; the tuples are derived) -------------
AdPlatform = Literal["meta", "google_ads", "tiktok_ads"]
AdMetricType = Literal[
    "ad_spend", "impressions", "clicks", "conversions", "revenue", "new_customers"
]
OrderStatus = Literal["paid", "refunded", "cancelled"]
CurrencyCode = Literal["USD"]  # only USD until conversion is added

AD_PLATFORMS: tuple[str, ...] = get_args(AdPlatform)
AD_METRIC_TYPES: tuple[str, ...] = get_args(AdMetricType)
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
SUPPORTED_CURRENCIES: frozenset[str] = frozenset(get_args(CurrencyCode))


@dataclass(frozen=True)
class RawType:
    """The PostgreSQL type of a field's column in its raw table (``raw.<feed>``)."""

    sql: str


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


Integer = Annotated[int, PlainValidator(_integer), RawType("integer")]
Number = Annotated[Decimal, PlainValidator(_decimal), RawType("numeric")]
Money = Annotated[Decimal, PlainValidator(_money), RawType("numeric(12,2)")]
IsoDate = Annotated[date, PlainValidator(_iso_date), RawType("date")]
Timestamp = Annotated[datetime, PlainValidator(_timestamp), RawType("timestamp with time zone")]
Currency = Annotated[
    str, BeforeValidator(_blank_to_none), PlainValidator(_currency), RawType("text")
]
Text = Annotated[str, PlainValidator(_text), RawType("text")]
Uuid = Annotated[UUID, RawType("uuid")]
OptionalUUID = Annotated[UUID | None, BeforeValidator(_blank_to_none), RawType("uuid")]
OptionalInteger = Annotated[
    int | None,
    BeforeValidator(_blank_to_none),
    PlainValidator(lambda v: None if v is None else _integer(v)),
    RawType("integer"),
]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none), RawType("text")]
AdPlatformField = Annotated[AdPlatform, BeforeValidator(_lower_text), RawType("text")]
AdMetricTypeField = Annotated[AdMetricType, BeforeValidator(_lower_text), RawType("text")]
OrderStatusField = Annotated[OrderStatus, BeforeValidator(_lower_text), RawType("text")]


class ExportRow(BaseModel):
    """Common config: unknown fields are allowed (kept in ``_extra``), values are required."""

    model_config = ConfigDict(extra="allow", frozen=True)


def raw_columns(model: type[ExportRow]) -> dict[str, str]:
    """The model's fields as raw table columns: name -> PostgreSQL type, in field order."""
    columns = {}
    for name, info in model.model_fields.items():
        types = [m.sql for m in info.metadata if isinstance(m, RawType)]
        if len(types) != 1:
            raise TypeError(f"{model.__name__}.{name}: its type must carry exactly one RawType")
        columns[name] = types[0]
    return columns


class AdMetric(ExportRow):
    date: IsoDate
    brand_id: Uuid
    campaign_id: OptionalUUID = None
    platform: AdPlatformField
    metric_type: AdMetricTypeField
    value: Number
    currency: Currency = "USD"


class SocialInsight(ExportRow):
    date: IsoDate
    account_id: Uuid
    platform: Text
    followers: Integer
    reach: Integer
    impressions: Integer
    engagement: Integer
    profile_views: OptionalInteger = None


class OrderLine(ExportRow):
    order_id: Text
    line_number: Integer
    retailer_id: Uuid
    ordered_at: Timestamp
    customer_id: OptionalUUID = None
    model_mpn: Text
    quantity: Integer
    unit_price: Money
    currency: Currency = "USD"
    utm_campaign: OptionalText = None
    status: OrderStatusField
