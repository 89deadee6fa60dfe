"""CrownSync Dagster definitions."""
