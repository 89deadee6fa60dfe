"""Dagster only: the code location (definitions.py, defs/), ``make run`` (run.py) and
``make ui`` (ui.py). It assembles what the other packages do into assets, checks, jobs,
schedules and a sensor; it holds no loading, SQL-building or serving logic of its own.
"""
