"""A command started with a Python that lacks the project's packages says how to run it.

Only the standard library here: this module runs exactly when the rest cannot be imported.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def exit_missing_package(err: ModuleNotFoundError, command: str) -> None:
    """Print what is missing and the commands that work, then exit 2."""
    venv_python = PROJECT_ROOT / ".venv" / "bin" / "python"
    print(
        f"error: {command} needs the project's environment; this Python "
        f"({sys.executable}) has no package {err.name!r}",
        file=sys.stderr,
    )
    module_args = " ".join([command.removeprefix("python "), *sys.argv[1:]])
    install = "" if venv_python.exists() else "`make install`, then "
    print(
        f"hint: {install}`.venv/bin/python {module_args}`, or `uv run python {module_args}`",
        file=sys.stderr,
    )
    raise SystemExit(2)
