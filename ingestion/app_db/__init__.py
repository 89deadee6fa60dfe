"""The CrownSync app database: its contract (source_schema.sql, tables.yml) and extraction."""
