"""``python -m crownsync.dbt <dbt args>``: run dbt against the configured warehouse.

Sets the ``DBT_PG_*`` variables that ``profiles.yml`` reads (derived from ``DATABASE_URL``
or the embedded server) and points dbt at ``dbt_project/`` and the root ``profiles.yml``.
"""

from __future__ import annotations

import os
import sys

from crownsync.settings import PROJECT_ROOT, dbt_env, get_settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def dbt_environment() -> dict[str, str]:
    env = {**os.environ, **dbt_env(get_settings())}
    env.setdefault("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    env.setdefault("DBT_PROJECT_DIR", str(DBT_PROJECT_DIR))
    return env


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    os.execve(dbt, [dbt, *args], dbt_environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
