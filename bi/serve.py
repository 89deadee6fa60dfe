"""``bi/.venv/bin/python bi/serve.py [--port 8088]``: serve Superset on 127.0.0.1 (gunicorn,
one worker with threads) until Ctrl-C. Provision first (bi/provision.py; make bi does both)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from provision import ADMIN_USER, bi_home, superset_env  # noqa: E402


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("SUPERSET_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SUPERSET_PORT", 8088)))
    parser.add_argument("--start-timeout", type=float, default=180)
    args = parser.parse_args()
    # SIGTERM (a service manager, a test's stop) ends the server the way Ctrl-C does
    signal.signal(signal.SIGTERM, _interrupt)
    url = f"http://127.0.0.1:{args.port}"  # health is checked locally whatever the bind
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--timeout",
            "180",
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
            "superset.app:create_app()",
        ],
        env=superset_env(),
    )
    try:
        if not wait_healthy(url, proc, args.start_timeout):
            code = proc.poll()
            print(
                f"error: Superset did not answer on {url}/health within {args.start_timeout:.0f}s"
                + (f" (exited {code})" if code is not None else "")
                + (
                    f"; is port {args.port} taken? SUPERSET_PORT=… picks another"
                    if code is not None
                    else ""
                ),
                file=sys.stderr,
            )
            return 2
        print(
            f"bi: Superset on {url}  (login {ADMIN_USER}, password in {bi_home() / 'admin.password'}; Ctrl-C stops it)",
            flush=True,
        )
        return proc.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
