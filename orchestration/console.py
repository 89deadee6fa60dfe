"""What ``make run`` shows: a line per phase and a live progress line; the rest goes to a log.

Default: the console gets one line per phase, a progress line during long phases (tables
loaded and rows, dbt nodes done out of total) and warnings a user should act on. Every
Dagster event, every dbt line and the simulator's output go to the run's log file, whose
path the summary prints. ``-v`` (or ``LOG_LEVEL=DEBUG``) streams everything to the
console as well.

On a terminal the progress line is rewritten in place; otherwise (CI, a pipe) it is printed
at most every ``PIPE_PROGRESS_EVERY_S`` seconds, so a log stays short.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TextIO

PIPE_PROGRESS_EVERY_S = 20.0
DBT_NODE = re.compile(
    r"^\s*(?:\d\d:\d\d:\d\d\s+)?(\d+) of (\d+) (START|OK|PASS|FAIL|ERROR|WARN|SKIP|NO-OP)"
)
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s %(message)s"


class Console:
    """Phase lines and one progress line on ``stream`` (the real stdout)."""

    def __init__(self, stream: TextIO, *, verbose: bool = False):
        self.stream = stream
        self.verbose = verbose
        self.tty = stream.isatty() and not verbose
        self._progress_open = False
        self._last_progress = time.monotonic()  # in a pipe, short phases print none

    def line(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def progress(self, text: str) -> None:
        if self.verbose:
            return  # the full stream is on the console already
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
            self._progress_open = True
            return
        now = time.monotonic()
        if now - self._last_progress >= PIPE_PROGRESS_EVERY_S:
            self._last_progress = now
            self.line(f"  … {text}")

    def _clear(self) -> None:
        if self._progress_open:
            self.stream.write("\r\033[K")
            self._progress_open = False


class _Tee(io.TextIOBase):
    """Replaces sys.stdout/sys.stderr during a run: everything to the log (and to the
    console when verbose); dbt's ``N of M`` lines drive the progress line."""

    def __init__(self, log: TextIO, console: Console, echo: TextIO | None):
        self.log, self.console, self.echo = log, console, echo
        self.nodes_done = 0
        self.nodes_total = 0
        self.failed = 0
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.log.write(text)
        if self.echo is not None:
            self.echo.write(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            match = DBT_NODE.match(line)
            if match and match.group(3) != "START":
                self.nodes_done += 1
                self.nodes_total = int(match.group(2))
                self.failed += match.group(3) in ("FAIL", "ERROR")
                failed = f", {self.failed} failed" if self.failed else ""
                self.console.progress(f"dbt: {self.nodes_done}/{self.nodes_total} nodes{failed}")
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        if self.echo is not None:
            self.echo.flush()


class _IngestProgress(logging.Handler):
    """Counts the tables and export files the ingestion logs as loaded."""

    def __init__(self, console: Console):
        super().__init__(logging.INFO)
        self.console = console
        self.tables = 0
        self.rows = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = re.match(r"app_db\.(\w+): read ([\d,]+)", message)
        if match:
            self.tables += 1
            self.rows += int(match.group(2).replace(",", ""))
            self.console.progress(
                f"ingest: {self.tables} app tables checked, {self.rows:,} rows read, "
                f"last {match.group(1)}"
            )


class _UserWarnings(logging.Handler):
    """Warnings of our own code (ingestion, crownsync, serving) that a user should see."""

    OWN = ("ingestion", "crownsync", "serving", "orchestration")

    def __init__(self, console: Console):
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in self.OWN:
            self.console.line(f"warning: {record.getMessage()}")


def _not_dagster(record: logging.LogRecord) -> bool:
    """Dagster's events come through its console logger (into the log via sys.stderr);
    their copies in Python logging are dropped so each is written once."""
    return not record.name.startswith("dagster")


def new_log_path(log_dir: Path) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"


@contextmanager
def captured_run(log_path: Path, *, verbose: bool):
    """Route logging and stdout/stderr for a run; yields the :class:`Console`."""
    real_out = sys.stdout
    console = Console(real_out, verbose=verbose)
    log = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed below
    root = logging.getLogger()
    file_handler = logging.StreamHandler(log)
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handlers: list[logging.Handler] = [file_handler]
    if verbose:
        echo = logging.StreamHandler(sys.stderr)
        echo.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(echo)
    else:
        handlers.append(_UserWarnings(console))
    for handler in handlers:
        handler.addFilter(_not_dagster)
    saved = (root.handlers[:], root.level)
    root.handlers = handlers
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    progress = _IngestProgress(console)
    logging.getLogger("ingestion").addHandler(progress)
    try:
        yield console, log
    finally:
        logging.getLogger("ingestion").removeHandler(progress)
        root.handlers, level = saved
        root.setLevel(level)
        console.line("") if console._progress_open else None
        log.close()


@contextmanager
def captured_output(console: Console, log: TextIO):
    """sys.stdout and sys.stderr into the log (and the console when verbose)."""
    saved = sys.stdout, sys.stderr
    tee = _Tee(log, console, saved[0] if console.verbose else None)
    sys.stdout = sys.stderr = tee
    try:
        yield tee
    finally:
        sys.stdout, sys.stderr = saved
