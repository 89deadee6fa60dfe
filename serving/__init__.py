"""Serving: who reads the marts and how — reader roles, row-level security, tenant logins,
and the static HTML report (which reads mart columns only and recomputes no metric).

PostgreSQL-only by design. The pipeline's Dagster step ``serving/bi_access`` calls
:func:`serving.grants.apply_access` after the blocking checks passed; ``python -m serving``
is the command line for people (``make tenant-login``).
"""
