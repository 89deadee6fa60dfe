"""Every declaration of a source contract agrees with the one that owns it (no database).

App tables: the DDL (ingestion/app_db/source_schema.sql) and the manifest (tables.yml) state
the same columns in the same order with the same types and primary keys; the dbt sources yml
and the staging SQL only name columns the manifest has.

Export feeds: the pydantic models (schemas.py) are the declaration; the dbt sources yml and
staging SQL only name their fields, and dbt's accepted_values equal the models' Literal sets.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import yaml

from crownsync.settings import PROJECT_ROOT
from ingestion.app_db.manifest import load_manifest
from ingestion.platform_exports.feeds import FEEDS

DDL = PROJECT_ROOT / "ingestion" / "app_db" / "source_schema.sql"
STAGING = PROJECT_ROOT / "dbt_project" / "models" / "staging"
APP_SOURCES = STAGING / "app_db" / "_app_db__sources.yml"
PLATFORM_SOURCES = STAGING / "platform" / "_platform__sources.yml"
PLATFORM_MODELS = STAGING / "platform" / "_platform__models.yml"

# Columns ingestion adds to every raw table (docs/raw-layer.md): not part of a source contract.
APP_META = {"_load_id", "_loaded_at", "_source", "_deleted_at"}
EXPORT_META = {"_row_id", "_key", "_file_id", "_line_number", "_extra", "_load_id", "_source"}
EXPORT_META |= {"_loaded_at", "_is_current"}

# -- a small parser for the DDL ---------------------------------------------------------------

_TYPE_ALIASES = [
    (r"^varchar\b", "character varying"),
    (r"^char\b", "character"),
    (r"^timestamptz$", "timestamp with time zone"),
    (r"^int$|^int4$", "integer"),
    (r"^int8$", "bigint"),
    (r"^bool$", "boolean"),
]
_CONSTRAINT_WORDS = {"primary", "not", "null", "default", "references", "check", "unique"}
_TABLE_CONSTRAINTS = ("primary key", "unique", "check", "foreign key", "constraint", "exclude")


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def normalise_type(sql_type: str) -> str:
    text = re.sub(r"\s+", " ", sql_type.strip().lower())
    text = re.sub(r"\s*\(\s*", "(", text)
    text = re.sub(r"\s*,\s*", ",", text)
    text = re.sub(r"\s*\)", ")", text)
    for pattern, replacement in _TYPE_ALIASES:
        text = re.sub(pattern, replacement, text)
    return text


def parse_ddl(text: str) -> dict[str, dict]:
    """``create table`` statements → {table: {"columns": {name: type}, "primary_key": (...)}}."""
    text = re.sub(r"--[^\n]*", "", text)
    tables = {}
    for match in re.finditer(r"create table (\w+) \(", text, flags=re.IGNORECASE):
        start, depth, end = match.end(), 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        columns, pk = {}, ()
        for item in _split_top_level(text[start : end - 1]):
            lowered = item.lower()
            if lowered.startswith("primary key"):
                pk = tuple(c.strip() for c in re.search(r"\((.*?)\)", item).group(1).split(","))
                continue
            if lowered.startswith(_TABLE_CONSTRAINTS):
                continue
            name, *rest = item.split()
            words = []
            for word in rest:
                if word.lower() in _CONSTRAINT_WORDS:
                    break
                words.append(word)
            columns[name] = normalise_type(" ".join(words))
            if re.search(r"\bprimary key\b", lowered):
                pk = (name,)
        tables[match.group(1)] = {"columns": columns, "primary_key": pk}
    return tables


# -- a small parser for staging SQL: the source columns a model selects ------------------------

_SQL_WORDS = {"as", "and", "or", "not", "null", "is", "case", "when", "then", "else", "end"}
_SQL_WORDS |= {"true", "false", "in", "distinct", "cast"}


def staging_source_columns(sql_text: str) -> tuple[str, str, set[str]]:
    """(source name, table, columns read from it) of a staging model ``source → select``."""
    text = re.sub(r"\{#.*?#\}", "", sql_text, flags=re.DOTALL)
    source, table = re.search(r"source\('(\w+)',\s*'(\w+)'\)", text).groups()
    # macros on a column: {{ hash_pii('email') }} reads the column email
    text = re.sub(r"\{\{\s*\w+\('(\w+)'[^}]*\}\}", r"\1", text)
    body = re.search(r"\bselect\b(?!\s*\*)(.*?)\bfrom source\b(.*?)(?:\)|$)", text, re.DOTALL)
    select_list, where = body.group(1), body.group(2)
    columns = set()
    for item in [*_split_top_level(select_list), where]:
        expression = re.split(r"\s+as\s+\w+\s*$", item.strip(), flags=re.IGNORECASE)[0]
        expression = re.sub(r"'[^']*'", "", expression)
        for ident in re.finditer(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", expression):
            if ident.group(1) not in _SQL_WORDS and ident.group(1) != "where":
                columns.add(ident.group(1))
    return source, table, columns


def staging_models(source: str) -> dict[str, tuple[str, set[str]]]:
    """Staging (and base) SQL files reading ``source`` → (table, columns read).

    Models that read no source (a staging model over a base model, which reads the source
    itself) are left out: the base model is checked instead.
    """
    models = {}
    for path in sorted([*STAGING.glob("*/stg_*.sql"), *STAGING.glob("*/base/base_*.sql")]):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"source\('", text):
            continue
        src, table, columns = staging_source_columns(text)
        if src == source:
            models[path.stem] = (table, columns)
    return models


def _source_tables(path: Path) -> dict[str, dict]:
    (source,) = yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]
    return {t["name"]: t for t in source["tables"]}


# -- the parsers themselves ---------------------------------------------------------------------


def test_ddl_parser_reads_names_types_and_keys():
    tables = parse_ddl(
        "create table t (\n  id uuid primary key, -- a comment, with a comma\n"
        "  amount numeric(12, 2) default 0 check (amount >= 0),\n"
        "  kind varchar(50) not null check (kind in ('a', 'b')),\n"
        "  at timestamptz not null default now(),\n  tags text[],\n"
        "  unique (kind, at)\n);\n"
        "create table u (a int, b char(1), primary key (a, b));"
    )
    assert tables == {
        "t": {
            "columns": {
                "id": "uuid",
                "amount": "numeric(12,2)",
                "kind": "character varying(50)",
                "at": "timestamp with time zone",
                "tags": "text[]",
            },
            "primary_key": ("id",),
        },
        "u": {"columns": {"a": "integer", "b": "character(1)"}, "primary_key": ("a", "b")},
    }


def test_staging_parser_reads_the_selected_source_columns():
    sql_text = (
        "{# note: id as nothing #}\nwith source as (\n"
        "    select * from {{ source('app_db', 'users') }}\n),\n"
        "renamed as (\n    select\n        id as user_id,\n"
        "        {{ hash_pii('email') }} as user_email_key,\n"
        "        to_jsonb(tags) as tags,\n        _loaded_at\n"
        "    from source\n    where _deleted_at is null\n)\n\nselect * from renamed\n"
    )
    assert staging_source_columns(sql_text) == (
        "app_db",
        "users",
        {"id", "email", "tags", "_loaded_at", "_deleted_at"},
    )


# -- app tables -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ddl():
    return parse_ddl(DDL.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


def test_ddl_and_manifest_name_the_same_tables(ddl, manifest):
    assert sorted(ddl) == sorted(manifest)


def test_ddl_and_manifest_agree_column_by_column(ddl, manifest):
    for table, spec in manifest.items():
        assert list(ddl[table]["columns"].items()) == list(spec.columns.items()), table
        assert ddl[table]["primary_key"] == spec.primary_key, table


def test_dbt_sources_name_every_manifest_table_and_only_its_columns(manifest):
    sources = _source_tables(APP_SOURCES)
    assert sorted(sources) == sorted(manifest)
    for table, entry in sources.items():
        named = [c["name"] for c in entry.get("columns", [])]
        unknown = set(named) - set(manifest[table].columns) - APP_META
        assert not unknown, f"_app_db__sources.yml {table}: not in tables.yml: {sorted(unknown)}"
        for pk in manifest[table].primary_key:
            column = next(c for c in entry["columns"] if c["name"] == pk)
            assert {"unique", "not_null"} <= set(column.get("data_tests", [])), (table, pk)


def test_staging_sql_selects_only_manifest_columns(manifest):
    models = staging_models("app_db")
    assert {table for table, _ in models.values()} == set(manifest)
    for model, (table, columns) in models.items():
        unknown = columns - set(manifest[table].columns) - APP_META
        assert not unknown, f"{model}.sql reads columns not in tables.yml: {sorted(unknown)}"


# -- export feeds ---------------------------------------------------------------------------


def test_dbt_platform_sources_are_the_feeds_and_name_only_their_fields():
    sources = _source_tables(PLATFORM_SOURCES)
    assert sorted(sources) == sorted(FEEDS)
    for name, entry in sources.items():
        named = {c["name"] for c in entry.get("columns", [])}
        unknown = named - set(FEEDS[name].columns) - EXPORT_META
        assert not unknown, f"_platform__sources.yml {name}: not in the model: {sorted(unknown)}"


def test_platform_staging_sql_selects_only_feed_fields():
    models = staging_models("platform")
    assert {table for table, _ in models.values()} == set(FEEDS)
    for model, (table, columns) in models.items():
        unknown = columns - set(FEEDS[table].columns) - EXPORT_META
        assert not unknown, f"{model}.sql reads fields not in the model: {sorted(unknown)}"


def _literal_values(annotation) -> set[str] | None:
    """The values of a Literal field type (through Annotated and Optional), else None."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        if (values := _literal_values(arg)) is not None:
            return values
    return None


def _staging_renames(model: str) -> dict[str, str]:
    """staging column -> raw column, from ``raw as staged`` in the select list."""
    text = next(STAGING.glob(f"*/{model}.sql")).read_text(encoding="utf-8")
    return {staged: raw for raw, staged in re.findall(r"\b(\w+) as (\w+)\b", text)}


def test_dbt_accepted_values_on_platform_staging_equal_the_model_literals():
    models = staging_models("platform")
    checked = 0
    for model in yaml.safe_load(PLATFORM_MODELS.read_text(encoding="utf-8"))["models"]:
        feed = FEEDS[models[model["name"]][0]]
        renames = _staging_renames(model["name"])
        for column in model.get("columns", []):
            for test in column.get("data_tests", []):
                if not (isinstance(test, dict) and "accepted_values" in test):
                    continue
                values = set(test["accepted_values"]["arguments"]["values"])
                field = renames.get(column["name"], column["name"])
                expected = _literal_values(feed.model.model_fields[field].annotation)
                assert values == expected, (model["name"], column["name"])
                checked += 1
    assert checked >= 3  # platform, metric_type, order_status


def test_every_literal_field_has_its_accepted_values_in_dbt():
    tested = set()
    for model in yaml.safe_load(PLATFORM_MODELS.read_text(encoding="utf-8"))["models"]:
        renames = _staging_renames(model["name"])
        for column in model.get("columns", []):
            if any(
                isinstance(t, dict) and "accepted_values" in t for t in column.get("data_tests", [])
            ):
                tested.add(renames.get(column["name"], column["name"]))
    for feed in FEEDS.values():
        for name, info in feed.model.model_fields.items():
            if _literal_values(info.annotation) is not None:
                assert name in tested, f"{feed.name}.{name}: a Literal without dbt accepted_values"


def test_feed_columns_are_derived_from_the_model_fields():
    for feed in FEEDS.values():
        assert list(feed.columns) == list(feed.model.model_fields)
        assert set(feed.key) <= set(feed.columns)
