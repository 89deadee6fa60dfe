"""Deterministic building blocks: the simulated clock, seeded RNGs, vectorised UUIDs, sizes.

Nothing here reads the wall clock. Day 0 of the simulated world is ``DAY0`` (UTC); the
generated history lies before it, ``--advance`` day *k* happens in ``[DAY0 + (k-1) d, DAY0 + k d)``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
DAY0_NP = np.datetime64("2026-10-01T00:00:00", "s")
DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 180
"""The generated world covers the 180 days before DAY0."""


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    """An independent PCG64 stream for one purpose (table, sim day ...), stable across runs."""
    words = [seed & 0xFFFFFFFF] + [zlib.crc32(str(p).encode()) for p in parts]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


def uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random version-4 UUID strings (canonical, with dashes) from ``rng``."""
    if n == 0:
        return np.array([], dtype=object)
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexchars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    hi = hexchars[raw >> 4]
    lo = hexchars[raw & 0x0F]
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = hi
    digits[:, 1::2] = lo
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = digits[:, 0:8]
    out[:, 9:13] = digits[:, 8:12]
    out[:, 14:18] = digits[:, 12:16]
    out[:, 19:23] = digits[:, 16:20]
    out[:, 24:36] = digits[:, 20:32]
    return out.view("S36").ravel().astype("U36").astype(object)


def ts(seconds: np.ndarray) -> np.ndarray:
    """Seconds relative to DAY0 (float, NaN = null) as ISO UTC timestamp text (None = null)."""
    secs = np.asarray(seconds, dtype=np.float64)
    present = ~np.isnan(secs)
    out = np.full(len(secs), None, dtype=object)
    values = DAY0_NP + np.floor(secs[present]).astype(np.int64).astype("timedelta64[s]")
    # no offset: the loading session runs with timezone = 'UTC'
    out[present] = np.datetime_as_string(values, unit="s")
    return out


def dates(days: np.ndarray) -> np.ndarray:
    """Day offsets relative to DAY0 (float, NaN = null) as ISO date text (None = null)."""
    d = np.asarray(days, dtype=np.float64)
    mask = np.isnan(d)
    values = np.datetime64("2026-10-01", "D") + np.where(mask, 0, np.floor(d)).astype(np.int64)
    out = np.datetime_as_string(values, unit="D").astype(object)
    out[mask] = None
    return out


def iso_date(day: int) -> str:
    return (DAY0 + timedelta(days=day)).date().isoformat()


def money(values: np.ndarray) -> np.ndarray:
    """Round to cents, as text (shortest repr of the rounded value: stable, no float noise)."""
    return np.round(np.asarray(values, dtype=np.float64), 2).astype(str).astype(object)


def with_nulls(values: np.ndarray, null_mask: np.ndarray) -> np.ndarray:
    out = np.asarray(values).astype(object)
    out[null_mask] = None
    return out


def pick(rng: np.random.Generator, choices: list[str], n: int, p: list[float] | None = None):
    return np.asarray(choices, dtype=object)[rng.choice(len(choices), size=n, p=p)]


@dataclass(frozen=True)
class Sizes:
    """Row counts for one scale. Scale 1 is about 5 million rows in all."""

    scale: float

    def _n(self, base: int, floor: int) -> int:
        return max(floor, round(base * self.scale))

    @property
    def brands(self) -> int:
        return self._n(40, 5)

    @property
    def retailers(self) -> int:
        return self._n(1_500, 30)

    @property
    def admins(self) -> int:
        return self._n(12, 3)

    @property
    def campaigns(self) -> int:
        return self._n(4_000, 40)

    @property
    def watch_models(self) -> int:
        return self._n(600, 24)

    @property
    def email_sends(self) -> int:
        return self._n(3_000_000, 1_000)

    @property
    def sms_sends(self) -> int:
        return self._n(300_000, 300)

    @property
    def social_posts(self) -> int:
        return self._n(32_000, 200)

    @property
    def customers(self) -> int:
        return self._n(100_000, 500)

    @property
    def customer_interactions(self) -> int:
        return self._n(200_000, 500)

    @property
    def wish_list_items(self) -> int:
        return self._n(150_000, 500)

    @property
    def brand_assets(self) -> int:
        return self._n(2_000, 20)

    @property
    def asset_downloads(self) -> int:
        return self._n(100_000, 200)

    @property
    def order_lines(self) -> int:
        return self._n(300_000, 600)

    @property
    def recipients(self) -> int:
        return self._n(60_000, 400)
