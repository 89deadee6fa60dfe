"""What a simulator run did: rows per table, files written, injected bad rows, changes."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.export_files import BadRow, ExportFile


@dataclass
class Summary:
    seed: int
    scale: float
    sim_day: int
    reused: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    """Rows written per source table (generate) or inserted (advance)."""
    changes: dict[str, object] = field(default_factory=dict)
    """advance only: counts of updated/deleted rows and the retailer that moved."""
    files: list[ExportFile] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values()) + sum(f.good_rows for f in self.files)

    @property
    def bad_rows(self) -> list[BadRow]:
        return [b for f in self.files for b in f.bad_rows]

    @property
    def bad_row_count(self) -> int:
        return len(self.bad_rows)

    @property
    def export_rows(self) -> dict[str, int]:
        """Good rows per export (duplicate deliveries not counted)."""
        out: dict[str, int] = {}
        for f in self.files:
            out[f.export] = out.get(f.export, 0) + f.good_rows
        return out

    @property
    def duplicates(self) -> list[tuple[str, str]]:
        """(duplicate file name, original file name)."""
        return [(f.file_name, f.duplicate_of) for f in self.files if f.duplicate_of]
