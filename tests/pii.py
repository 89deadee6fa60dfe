"""Scan every table and view of schema ``marts`` for personal data.

Two layers: column names that denote personal data, and values — anything shaped like an
email address, a phone number or an IPv4 address, plus the exact personal values of the
source (people's names, emails, phones, birth dates) given by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(\+\d{1,3}[\s.-]?)?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
PII_COLUMN = re.compile(
    r"(^|_)(e?mail|phone|first_name|last_name|full_name|recipient_name|ip_address|"
    r"date_of_birth|birth_?date|dob|address_line\d?)$"
)


@dataclass
class KnownPII:
    names: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # digits only
    birth_dates: set[date] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)


def known_pii_from_source(source_url: str) -> KnownPII:
    """Every personal value of a CrownSync app database (source contract: PII columns)."""
    known = KnownPII()
    queries = {
        "names": [
            "select full_name from users",
            "select concat_ws(' ', first_name, last_name) from customers",
            "select recipient_name from email_sends",
            "select recipient_name from sms_sends",
        ],
        "emails": [
            "select lower(email) from users",
            "select lower(email) from customers",
            "select lower(recipient_email) from email_sends",
        ],
        "phones": [
            "select phone from users",
            "select phone from customers",
            "select recipient_phone from sms_sends",
        ],
        "birth_dates": ["select date_of_birth from customers"],
        "ips": ["select host(ip_address) from email_sends"],
    }
    with psycopg.connect(source_url) as conn:
        for attr, statements in queries.items():
            target = getattr(known, attr)
            for statement in statements:
                for (value,) in conn.execute(statement):
                    if value in (None, ""):
                        continue
                    if attr == "phones":
                        digits = re.sub(r"\D", "", value)
                        if len(digits) >= 7:
                            target.add(digits)
                    else:
                        target.add(value)
    return known


def scan_marts(warehouse_url: str, known: KnownPII, sample_rows: int = 5000) -> list[str]:
    """Problems found (empty = clean): PII-like column names and personal values."""
    problems: list[str] = []
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        relations = conn.execute(
            "select table_name, array_agg(column_name::text order by ordinal_position) as columns "
            "from information_schema.columns where table_schema = 'marts' group by table_name"
        ).fetchall()
        if not relations:
            return ["schema marts has no tables or views"]
        for rel in relations:
            table = rel["table_name"]
            problems += [
                f"marts.{table}: column {column!r} looks like personal data"
                for column in rel["columns"]
                if PII_COLUMN.search(column.lower())
            ]
            rows = conn.execute(
                sql.SQL("select * from {}.{} limit {}").format(
                    sql.Identifier("marts"), sql.Identifier(table), sql.Literal(sample_rows)
                )
            ).fetchall()
            for row in rows:
                problems += _value_problems(table, row.items(), known)
    return problems


def _mentions_a_name(text: str, names: set[str]) -> bool:
    """Any run of 1–3 words of ``text`` equal to a known name (case-insensitive)."""
    if not names:
        return False
    lowered = _lowered_names(frozenset(names))
    words = re.findall(r"[\w'-]+", text.lower())
    return any(
        " ".join(words[i : i + n]) in lowered for n in (1, 2, 3) for i in range(len(words) - n + 1)
    )


@cache
def _lowered_names(names: frozenset[str]) -> frozenset[str]:
    return frozenset(" ".join(re.findall(r"[\w'-]+", name.lower())) for name in names)


def _value_problems(table: str, items: Iterable[tuple[str, object]], known: KnownPII) -> list[str]:
    problems = []
    for column, value in items:
        if value is None:
            continue
        if isinstance(value, date) and not isinstance(value, datetime):
            if value in known.birth_dates and "birth" in column:
                problems.append(f"marts.{table}.{column}: a birth date {value}")
            continue
        if isinstance(value, int | float | Decimal | bool | datetime):
            continue
        text = str(value)
        where = f"marts.{table}.{column} = {text[:80]!r}"
        if EMAIL.search(text) or text.lower() in known.emails:
            problems.append(f"{where}: an email address")
        if PHONE.search(text) or re.sub(r"\D", "", text) in known.phones:
            problems.append(f"{where}: a phone number")
        if IPV4.search(text) or text in known.ips:
            problems.append(f"{where}: an IP address")
        if _mentions_a_name(text, known.names):
            problems.append(f"{where}: a person's name")
    return problems
