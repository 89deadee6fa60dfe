"""Export files on disk: records to bytes, files with their landing time, the marker file.

A record is a row dict, or a :class:`Bad` (an injected bad row, or a verbatim malformed
line). :func:`render` turns records into CSV (header = line 1), JSONL or JSON-array bytes and
reports the physical line of every bad record; :func:`write_file` writes them with the
file's simulated landing time as mtime (``os.utime``), so landing order is deterministic.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from simulator.core import DAY, DAY0, HOUR

DAY0_EPOCH = DAY0.timestamp()
MARKER = ".crownsync-simulator"


@dataclass(frozen=True)
class BadRow:
    export: str
    file_name: str
    line: int
    reason: str


@dataclass
class ExportFile:
    export: str
    file_name: str
    path: Path
    good_rows: int
    landed_at: float  # seconds relative to DAY0
    bad_rows: list[BadRow] = field(default_factory=list)
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Bad:
    """An injected bad record: a row dict, or a verbatim line (str) for malformed lines."""

    row: dict[str, object] | str
    reason: str


Record = dict[str, object] | Bad


def _text(value: object) -> str:
    return "" if value is None else str(value)


def render(
    fmt: str, fields: list[str], records: list[Record]
) -> tuple[bytes, list[tuple[int, str]]]:
    """File bytes and [(line, reason)] of the bad records (CSV header = line 1)."""
    bad: list[tuple[int, str]] = []
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(fields)
        for i, rec in enumerate(records, start=2):
            if isinstance(rec, Bad):
                bad.append((i, rec.reason))
                if isinstance(rec.row, str):
                    buf.write(rec.row + "\n")
                    continue
                rec = rec.row
            writer.writerow([_text(rec.get(f)) for f in fields])
        return buf.getvalue().encode(), bad
    lines = []
    for i, rec in enumerate(records, start=1):
        if isinstance(rec, Bad):
            bad.append((i, rec.reason))
            lines.append(rec.row if isinstance(rec.row, str) else json.dumps(rec.row))
        else:
            lines.append(json.dumps(rec))
    if fmt == "jsonl":
        return ("\n".join(lines) + "\n").encode(), bad
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode(), bad


def write_file(
    landing: Path,
    export: str,
    name: str,
    fields: list[str],
    records: list[Record],
    landed_at: float,
) -> ExportFile:
    fmt = name.rsplit(".", 1)[1]
    data, bad = render(fmt, fields, records)
    folder = landing / export
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    epoch = DAY0_EPOCH + landed_at
    os.utime(path, (epoch, epoch))
    good = sum(1 for r in records if not isinstance(r, Bad))
    return ExportFile(
        export, name, path, good, landed_at, [BadRow(export, name, ln, why) for ln, why in bad]
    )


def duplicate_file(original: ExportFile, name: str, landed_at: float) -> ExportFile:
    path = original.path.parent / name
    shutil.copyfile(original.path, path)
    epoch = DAY0_EPOCH + landed_at
    os.utime(path, (epoch, epoch))
    return ExportFile(
        original.export, name, path, 0, landed_at, [], duplicate_of=original.file_name
    )


def inject(records: list[dict[str, object]], bads: list[Bad]) -> list[Record]:
    """The records with bad record k inserted at index 2 + 3k (or at the end)."""
    out: list[Record] = list(records)
    for k, bad in enumerate(bads):
        out.insert(min(len(out), 2 + 3 * k), bad)
    return out


def landing_time(day_end: float, minutes: int = 0) -> float:
    """Data up to day ``day_end`` (exclusive) lands that day at 02:00 (+ minutes)."""
    return day_end * DAY + 2 * HOUR + minutes * 60


def write_marker(
    landing: Path, seed: int, scale: float, sim_day: int, bad_rows: list[BadRow] | None = None
) -> None:
    """Claim the landing dir; list the injected bad rows so any consumer can check them."""
    previous = read_marker(landing) or {}
    rows = (
        [
            {"export": b.export, "file": b.file_name, "line": b.line, "reason": b.reason}
            for b in bad_rows
        ]
        if bad_rows is not None
        else previous.get("bad_rows", [])
    )
    body = {"seed": seed, "scale": scale, "sim_day": sim_day, "bad_rows": rows}
    (landing / MARKER).write_text(json.dumps(body, indent=1) + "\n")


def read_marker(landing: Path) -> dict[str, object] | None:
    path = landing / MARKER
    return json.loads(path.read_text()) if path.exists() else None
