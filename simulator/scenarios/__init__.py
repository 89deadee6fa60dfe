"""Data-driven scenarios of the simulated world: the deliberate bad export rows.

``bad_rows.yml`` (next to this file, shipped in the package) declares every injected bad row
per export file, with placeholders for the world's ids and the export contract's values;
:func:`bad_rows_by_file` fills them in with ``str.format_map`` (no code is evaluated).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from ingestion.platform_exports import schemas
from ingestion.platform_exports.feeds import FEEDS
from simulator.export_files import Bad

BAD_ROWS_FILE = Path(__file__).with_name("bad_rows.yml")

# The export contract's value sets, for placeholders like {ad_platforms[0]}.
CONTRACT_VALUES: dict[str, tuple[str, ...]] = {
    "ad_platforms": schemas.AD_PLATFORMS,
    "ad_metric_types": schemas.AD_METRIC_TYPES,
    "order_statuses": schemas.ORDER_STATUSES,
    "currencies": tuple(sorted(schemas.SUPPORTED_CURRENCIES)),
}


def _fill(template: str, values: Mapping[str, object], where: str) -> str:
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f"{BAD_ROWS_FILE.name}, {where}: bad placeholder in {template!r}: {err}"
        ) from err


def bad_rows_by_file(ids: Mapping[str, str], path: Path = BAD_ROWS_FILE) -> dict[str, list[Bad]]:
    """{file name: its bad records, in order} with placeholders filled from ``ids``.

    ``ids`` maps the id placeholders (brand0, campaign0, account0, retailer0, model0) to the
    world's values. A row must have exactly its feed's columns, in contract order (the JSON
    files write the keys in that order); anything else is a ``line`` written verbatim.
    """
    values = {**CONTRACT_VALUES, **ids}
    spec = yaml.safe_load(path.read_text())
    out: dict[str, list[Bad]] = {}
    for export, files in spec.items():
        if export not in FEEDS:
            raise ValueError(f"{path.name}: unknown export {export!r}")
        columns = list(FEEDS[export].columns)
        for file_name, entries in files.items():
            if not file_name.startswith(f"{export}_"):
                raise ValueError(f"{path.name}: {file_name!r} is not a file of {export}")
            bads = out.setdefault(file_name, [])
            for k, entry in enumerate(entries):
                where = f"{file_name} #{k}"
                if set(entry) not in ({"reason", "row"}, {"reason", "line"}):
                    raise ValueError(f"{path.name}, {where}: needs reason and one of row/line")
                if "line" in entry:
                    bads.append(Bad(_fill(entry["line"], values, where), entry["reason"]))
                    continue
                row = entry["row"]
                if list(row) != columns:
                    raise ValueError(f"{path.name}, {where}: row keys must be {columns}")
                filled = {
                    key: _fill(v, values, where) if isinstance(v, str) else v
                    for key, v in row.items()
                }
                bads.append(Bad(filled, entry["reason"]))
    return out
