"""The app-database manifest (``ingestion/app_db/tables.yml``) as typed objects."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

MANIFEST_PATH = Path(__file__).with_name("tables.yml")

DELETE_CHECKS = {"every_run", "scheduled"}
FIELDS = {"primary_key", "cursor", "delete_check", "columns", "change_keys"}


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class ChangeKeys:
    """How a load reports the groups it changed (``raw._changed_keys``).

    ``parent``: the column of the parent key (text in the log); ``day``: an SQL expression
    over the raw row's columns (``_loaded_at`` included), exactly the day the dbt model
    groups by.
    """

    parent: str
    day: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...]
    cursor: str
    delete_check: str
    columns: dict[str, str]  # required column -> PostgreSQL type, in contract order
    change_keys: ChangeKeys | None = None

    @property
    def checks_deletes_every_run(self) -> bool:
        return self.delete_check == "every_run"


def _parse(raw: dict, path: Path) -> dict[str, TableSpec]:
    defaults = raw.get("defaults", {})
    specs: dict[str, TableSpec] = {}
    for name, entry in (raw.get("tables") or {}).items():
        where = f"{path}: table {name!r}"
        unknown = sorted(set(entry) - FIELDS) + sorted(set(defaults) - (FIELDS - {"columns"}))
        if unknown:
            raise ManifestError(f"{where}: unknown field(s) {unknown} (allowed: {sorted(FIELDS)})")
        columns = entry.get("columns") or {}
        if not columns:
            raise ManifestError(f"{where} lists no columns")
        pk = tuple(entry.get("primary_key") or ())
        cursor = entry.get("cursor")
        delete_check = entry.get("delete_check", defaults.get("delete_check", "every_run"))
        if not pk or any(col not in columns for col in pk):
            raise ManifestError(f"{where}: primary_key {list(pk)} must name listed columns")
        if cursor not in columns:
            raise ManifestError(f"{where}: cursor {cursor!r} is not a listed column")
        if delete_check not in DELETE_CHECKS:
            raise ManifestError(
                f"{where}: delete_check {delete_check!r} not in {sorted(DELETE_CHECKS)}"
            )
        change_keys = _change_keys(entry.get("change_keys"), columns, where)
        specs[name] = TableSpec(
            name=name,
            primary_key=pk,
            cursor=cursor,
            delete_check=delete_check,
            columns={str(k): str(v) for k, v in columns.items()},
            change_keys=change_keys,
        )
    return specs


def _change_keys(raw: dict | None, columns: dict, where: str) -> ChangeKeys | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"parent", "day"}:
        raise ManifestError(f"{where}: change_keys needs exactly 'parent' and 'day'")
    if raw["parent"] not in columns:
        raise ManifestError(f"{where}: change_keys parent {raw['parent']!r} is not a listed column")
    if not str(raw["day"]).strip() or ";" in str(raw["day"]):
        raise ManifestError(f"{where}: change_keys day must be one SQL expression")
    return ChangeKeys(parent=str(raw["parent"]), day=str(raw["day"]).strip())


@cache
def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, TableSpec]:
    with open(path, encoding="utf-8") as handle:
        return _parse(yaml.safe_load(handle), path)
