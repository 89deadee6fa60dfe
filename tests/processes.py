"""Subprocesses and waits in tests: always bounded, always reaped, failing with a message.

``started(...)`` runs a long-lived child in a session of its own and, however the ``with``
block ends (a failed assertion, a pytest-timeout, Ctrl-C), stops it: the stop signal, a bounded
wait, then SIGKILL to its whole process group and to every process that inherited its marker
(children that moved to a session of their own, e.g. ``orchestration.ui``'s webserver and
daemon), and a bounded wait again. Its output goes to a log file whose tail the failure messages
quote.

``wait_until(...)`` polls for an observed state and fails with a message when the deadline
passes: no loop falls through silently.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

T = TypeVar("T")

MARKER = "CROWNSYNC_TEST_PROCESS"


class Started(subprocess.Popen):
    """A ``Popen`` started by :func:`started`, with its log file."""

    log_path: Path
    marker: str

    def assert_running(self) -> None:
        """Fail the test, quoting the log, when the process has already exited."""
        if self.poll() is not None:
            pytest.fail(f"{self.args[:4]} exited ({self.returncode}):\n{self.log_tail()}")

    def log_tail(self, chars: int = 5000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"


@contextlib.contextmanager
def started(
    args: list[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
    grace: float = 30,
    **popen_kwargs,
) -> Iterator[Started]:
    """Start ``args`` (stdout and stderr to ``log_path``); stop and reap it on exit."""
    marker = uuid.uuid4().hex
    env = {**(os.environ if env is None else env), MARKER: marker}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = Started(
            args,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **popen_kwargs,
        )
    proc.log_path, proc.marker = log_path, marker
    try:
        yield proc
    finally:
        stop(proc, stop_signal=stop_signal, grace=grace)


def stop(proc: Started, *, stop_signal: int = signal.SIGTERM, grace: float = 30) -> None:
    """Stop signal, bounded wait, then SIGKILL everything it started; never waits unbounded."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Whatever is left: the leader (it ignored the signal), its group, marked descendants.
    leftovers = _marked(proc.marker)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for child in leftovers:
        with contextlib.suppress(psutil.Error):
            child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    psutil.wait_procs(leftovers, timeout=10)
    if proc.returncode is None:
        raise RuntimeError(f"pid {proc.pid} survived SIGKILL: {proc.args}")


def run(args: list[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` (text, output captured) for a child that starts children of its own.

    Past ``timeout`` seconds the test fails; either way the child's whole tree is gone after
    (``subprocess.run`` would only kill the child itself, e.g. Chromium but not its renderers).
    """
    marker = uuid.uuid4().hex
    env = {**(kwargs.pop("env", None) or os.environ), MARKER: marker}
    proc = Started(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        **kwargs,
    )
    proc.marker, proc.log_path = marker, Path(os.devnull)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc, stop_signal=signal.SIGKILL, grace=10)
        pytest.fail(f"{args[:3]} did not finish within {timeout:g} s; killed", pytrace=False)
    finally:
        stop(proc, grace=10)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@contextlib.contextmanager
def reaped_descendants() -> Iterator[None]:
    """Run in-process code that starts subprocesses; kill whatever of them is left on exit.

    The children inherit a marker through the environment; after the block (or when a
    pytest-timeout or failure interrupts it) every live process carrying it is killed.
    Do not use it around code that starts a server meant to outlive the block.
    """
    marker, saved = uuid.uuid4().hex, os.environ.get(MARKER)
    os.environ[MARKER] = marker
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(MARKER, None)
        else:
            os.environ[MARKER] = saved
        leftovers = _marked(marker)
        for child in leftovers:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(leftovers, timeout=10)


def _marked(marker: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``marker`` (inherited from a started child)."""
    found = []
    for candidate in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if candidate.environ().get(MARKER) == marker:
                found.append(candidate)
    return found


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    details: Callable[[], str] | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    Past ``timeout`` seconds the test fails with "timed out after N s waiting for <what>",
    the last value or exception seen, and ``details()`` (e.g. a log tail). Exceptions of the
    types in ``ignore`` count as "not yet".
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
        except ignore as exc:
            value, last = None, exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            extra = f"\n{details()}" if details else ""
            pytest.fail(
                f"timed out after {timeout:g} s waiting for {what} (last seen: {last!r}){extra}",
                pytrace=False,
            )
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
