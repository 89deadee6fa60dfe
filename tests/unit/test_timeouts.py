"""The suite's timeout is live: a stuck test fails with "Timeout" instead of hanging the run.

An inner pytest session (pytester, in a subprocess: its SIGALRM must not replace this test's
own timer), configured as pyproject.toml is (``timeout``, ``timeout_method = "signal"``), runs
one test that sleeps past a 1 s ``@pytest.mark.timeout`` and one that waits on a child process
(``Popen.wait``): both are interrupted and reported failed with "Timeout"; had they not been,
they would have passed after 30 s.
"""

from __future__ import annotations

import tomllib

from crownsync.settings import PROJECT_ROOT

pytest_plugins = ["pytester"]

INNER = """
import subprocess
import sys
import time

import pytest


@pytest.mark.timeout(1)
def test_sleeps_too_long():
    time.sleep(30)


@pytest.mark.timeout(1)
def test_waits_on_a_child_too_long():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        child.wait()
    finally:
        child.kill()
        child.wait(timeout=10)


def test_quick():
    assert True
"""


def test_the_project_configures_a_signal_timeout_for_every_test():
    options = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"
    ]
    assert options["timeout"] == 300
    assert options["timeout_method"] == "signal"
    assert options.get("timeout_func_only", False) is False  # fixtures' setup is timed too


def test_a_test_past_its_timeout_fails_with_timeout(pytester):
    pytester.makeini("[pytest]\ntimeout = 300\ntimeout_method = signal\n")
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("passed")) == (2, 1), result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*Failed: Timeout (>1.0s) from pytest-timeout*",
            "FAILED test_inner.py::test_sleeps_too_long*",
            "FAILED test_inner.py::test_waits_on_a_child_too_long*",
        ],
    )
