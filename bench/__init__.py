"""``make bench``: measure the warehouse against the physical limit, at scale.

A tool beside the product: it drives the simulator, ingestion, dbt and Dagster on fresh
``bench_*`` databases and writes docs/benchmarks.md. Nothing in the product imports it.
"""
