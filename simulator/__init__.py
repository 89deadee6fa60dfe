"""The demo source world: a deterministic CrownSync app database and export files.

A tool, like jaffle-shop's data generator: ``make run`` calls it (``python -m simulator``)
only when no real source is configured, before the pipeline starts. Nothing in ingestion,
dbt, orchestration or serving imports it.

Public API::

    generate(source_url, landing_dir, scale=0.1, seed=7, *, regenerate=False, quiet=False) -> Summary
    advance(source_url, landing_dir, *, quiet=False) -> Summary

Both refuse (:class:`SimulatorRefused`) targets the simulator did not create.
"""

from simulator.advance import advance
from simulator.app_db_writer import SimulatorRefused
from simulator.export_files import BadRow, ExportFile
from simulator.generate import generate
from simulator.summary import Summary

__all__ = ["BadRow", "ExportFile", "SimulatorRefused", "Summary", "advance", "generate"]
