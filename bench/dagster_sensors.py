"""``python -m bench.dagster_sensors NAME…``: start sensors of the code location in one process.

What ``dagster sensor start -m orchestration.definitions NAME`` does, for several sensors
with one load of the code location (each CLI call loads it again: seconds of dbt manifest).
The bench runs it as a child with the bench world's DAGSTER_HOME and DAGSTER_PG_* env.
"""

from __future__ import annotations

import sys

from crownsync.settings import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    from dagster._cli.sensor import _get_repo
    from dagster._cli.utils import get_instance_for_cli
    from dagster._cli.workspace.cli_target import RepositoryOpts
    from dagster_shared.cli import WorkspaceOpts

    names = list(sys.argv[1:] if argv is None else argv)
    if not names:
        print("usage: python -m bench.dagster_sensors SENSOR [SENSOR…]", file=sys.stderr)
        return 2
    workspace = WorkspaceOpts(
        module_name=("orchestration.definitions",), working_directory=str(PROJECT_ROOT)
    )
    with (
        get_instance_for_cli() as instance,
        _get_repo(workspace, RepositoryOpts(), instance) as repo,
    ):
        for name in names:
            instance.start_sensor(repo.get_sensor(name))
            print(f"started sensor {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
