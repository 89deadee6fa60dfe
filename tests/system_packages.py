"""Debian tools some tests need (Chromium, docker-compose): installed once, else skipped."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

APT_TIMEOUT = 900  # seconds for each of apt-get update / apt-get install
# A test that may install a package needs a limit above this: a pytest-timeout in the middle
# of apt-get would kill dpkg half-way and leave the machine's package database locked/broken.
INSTALL_SECONDS = 2 * APT_TIMEOUT

_attempts: dict[str, str | None] = {}  # package -> why it could not be installed (None: ok)


def require_tool(command: str, package: str) -> str:
    """Path of ``command``; installs Debian's ``package`` once when missing (root only).

    Skips the calling test, with the reason, when the tool cannot be had here.
    """
    found = shutil.which(command)
    if found:
        return found
    if package not in _attempts:
        _attempts[package] = _apt_install(package)
    found = shutil.which(command)
    if not found:
        pytest.skip(f"{command} unavailable: {_attempts[package] or 'not found after install'}")
    return found


def _apt_install(package: str) -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return (
            f"{package} is not installed and installing it needs root (apt-get install {package})"
        )
    if not shutil.which("apt-get"):
        return f"{package} is not installed and there is no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        try:
            result = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(cmd)} failed: {exc}"
        if result.returncode != 0:
            return f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-500:]}"
    return None
