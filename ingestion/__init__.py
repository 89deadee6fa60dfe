"""Loaders only: the app database and the platform export files into ``raw``, incremental,
exactly once, with bad rows kept aside.

- :mod:`ingestion.app_db` — the app tables (manifest, extract: COPY relay and merge);
- :mod:`ingestion.platform_exports` — export feeds (contracts, readers, load);
- :mod:`ingestion.ledger` — the one writer of the raw ledger tables;
- :mod:`ingestion.api` and ``python -m ingestion`` — what Dagster and people call.
"""
