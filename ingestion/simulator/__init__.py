"""The deterministic CrownSync world simulator (demo app database + export files).

Public API::

    generate(source_url, landing_dir, scale=0.1, seed=7, *, regenerate=False, quiet=False) -> Summary
    advance(source_url, landing_dir, *, quiet=False) -> Summary

Both refuse (:class:`SimulatorRefused`) targets the simulator did not create.
"""

from ingestion.simulator.advance import advance
from ingestion.simulator.app_db import SimulatorRefused
from ingestion.simulator.exports import BadRow, ExportFile
from ingestion.simulator.generate import generate
from ingestion.simulator.summary import Summary

__all__ = ["BadRow", "ExportFile", "SimulatorRefused", "Summary", "advance", "generate"]
