"""Streaming readers for export files: CSV (RFC 4180), JSONL and JSON arrays.

A reader yields one :class:`Record` per data row, with its physical line number (CSV
header = line 1; the 1-based element position in a ``.json`` array), the raw text and
either the parsed fields or the reason it could not be parsed. Problems that make the whole
file unusable raise :class:`FileRejected` (the loader then loads nothing of the file).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


class FileRejected(Exception):
    """The whole file is unusable; ``reason`` says why."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class Record:
    line: int
    raw: str
    fields: dict[str, object] | None
    error: str | None = None


def _lines(path: Path) -> Iterator[str]:
    """Decoded physical lines (with their line ending), strictly UTF-8 (a BOM is allowed)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    offset = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                bad = chunk[err.start : err.start + 1].hex() or "??"
                raise FileRejected(
                    f"not UTF-8: byte 0x{bad} near byte offset {offset + err.start} "
                    f"cannot be decoded ({err.reason})"
                ) from None
            offset += len(chunk)
            pending += text
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
            if not chunk:
                break
    if pending:
        yield pending


def _parse_csv_record(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    if len(rows) != 1:
        raise csv.Error("broken quoting: a record spans lines it should not")
    return rows[0]


def read_csv(path: Path, required: list[str]) -> Iterator[Record]:
    lines = _lines(path)
    try:
        header_text = next(lines)
    except StopIteration:
        raise FileRejected("empty file (no header line)") from None
    try:
        header = [name.strip() for name in _parse_csv_record(header_text)]
    except csv.Error as err:
        raise FileRejected(f"unreadable CSV header: {err}", 1) from None
    missing = [name for name in required if name not in header]
    if missing:
        raise FileRejected(f"CSV header is missing required column(s): {', '.join(missing)}", 1)
    if len(set(header)) != len(header):
        raise FileRejected("CSV header names a column twice", 1)

    # Lines read ahead while resynchronising after broken quoting. A deque, and the quote
    # parity kept as a running count below: one unterminated quote near the top of a large
    # file reads the rest of the file ahead once, in linear time (it was quadratic).
    buffered: deque[str] = deque()
    number = 1

    def next_line() -> str | None:
        if buffered:
            return buffered.popleft()
        return next(lines, None)

    while True:
        first = next_line()
        if first is None:
            return
        number += 1
        start = number
        if not first.strip():
            continue  # a blank line carries no data
        taken = [first]
        # An odd number of quotes means the record continues on the next physical line
        # (RFC 4180 allows line breaks inside quoted fields).
        open_quote = first.count('"') % 2 == 1
        while open_quote:
            more = next_line()
            if more is None:
                break
            taken.append(more)
            open_quote ^= more.count('"') % 2 == 1
        text = "".join(taken)
        try:
            values = _parse_csv_record(text)
            if len(values) != len(header):
                raise ValueError(f"wrong number of fields: {len(values)} instead of {len(header)}")
        except (csv.Error, ValueError) as err:
            if len(taken) > 1:
                # The open quote was never meant to span lines: only the first line is bad;
                # read the following lines again as records of their own.
                buffered.extendleft(reversed(taken[1:]))
                yield Record(
                    start, first.rstrip("\r\n"), None, "broken quoting: unterminated quoted field"
                )
                continue
            reason = str(err) if isinstance(err, ValueError) else f"broken quoting: {err}"
            yield Record(start, first.rstrip("\r\n"), None, reason)
            continue
        number += len(taken) - 1
        yield Record(start, text.rstrip("\r\n"), dict(zip(header, values, strict=True)))


def read_jsonl(path: Path) -> Iterator[Record]:
    number = 0
    for number, line in enumerate(_lines(path), start=1):  # noqa: B007
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            yield Record(number, text, None, f"not valid JSON: {err.msg} at column {err.colno}")
            continue
        if not isinstance(value, dict):
            yield Record(number, text, None, f"not a JSON object (a {type(value).__name__})")
            continue
        yield Record(number, text, value)
    if number == 0:
        raise FileRejected("empty file (no lines)")


def read_json_array(path: Path) -> Iterator[Record]:
    text = "".join(_lines(path))
    if not text.strip():
        raise FileRejected("empty file (no JSON document)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise FileRejected(
            f"not one valid JSON array: {err.msg} at line {err.lineno} column {err.colno}",
            err.lineno,
        ) from None
    if not isinstance(value, list):
        raise FileRejected(f"not one JSON array: the document is a {type(value).__name__}")
    for position, element in enumerate(value, start=1):
        raw = json.dumps(element, ensure_ascii=False)
        if not isinstance(element, dict):
            yield Record(position, raw, None, f"not a JSON object (a {type(element).__name__})")
        else:
            yield Record(position, raw, element)


def read_records(path: Path, required: list[str]) -> Iterator[Record]:
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise FileRejected("empty file (0 bytes)")
    if suffix == ".csv":
        return read_csv(path, required)
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".json":
        return read_json_array(path)
    raise FileRejected(f"unsupported file type {suffix!r} (expected .csv, .jsonl or .json)")
