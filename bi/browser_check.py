"""Open each dashboard in headless Chromium as a person would, wait until every chart has
drawn, and report what it drew (JSON on stdout); screenshots go to --screenshots.

    bi/.venv/bin/python bi/browser_check.py --url http://127.0.0.1:8088 --user admin \
        --password-file .warehouse/bi/admin.password --screenshots docs/img

A chart has drawn when its holder shows marks: a canvas with painted pixels, an svg with
shapes, a table with rows, or a big number. An error or "No results" tile counts as an error.
Every wait is bounded (--timeout per dashboard); the browser is always closed.
Uses Debian's /usr/bin/chromium (`make browser` installs it), never a downloaded build.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# What each chart holder shows, read in the page.
PROBE = """
() => Array.from(document.querySelectorAll('[data-test="dashboard-component-chart-holder"]')).map(h => {
  const title = (h.querySelector('[data-test="editable-title"], .header-title, [data-test="slice-header"] span') || {}).textContent || '';
  const text = h.innerText || '';
  const error = !!h.querySelector('.ant-alert-error, [data-test="error-message"], .alert-danger')
      || /Unexpected error|No results were returned|Error:|error occurred/i.test(text);
  const loading = !!h.querySelector('.loading, [aria-label="Loading"], [data-test="loading-indicator"]');
  let painted = 0;
  for (const c of h.querySelectorAll('canvas')) {
    if (!c.width || !c.height) continue;
    try {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 16) if (d[i] > 0) painted++;
    } catch (e) { painted += 1; }
  }
  const svgShapes = Array.from(h.querySelectorAll('svg')).reduce((n, s) =>
      n + s.querySelectorAll('path, rect, circle, polygon, line').length, 0);
  const tableRows = h.querySelectorAll('table tbody tr').length;
  const bigNumber = (h.querySelector('.header-line, .big-number, [data-test="big-number"]') || {}).textContent || '';
  return {title: title.trim(), error, loading, painted, svgShapes, tableRows,
          bigNumber: bigNumber.trim(), text: text.slice(0, 200)};
})
"""


def drawn(chart: dict) -> bool:
    return bool(
        chart["painted"] > 50
        or chart["svgShapes"] > 2
        or chart["tableRows"] > 0
        or any(ch.isdigit() for ch in chart["bigNumber"])
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument(
        "--dashboards",
        nargs="+",
        default=["campaign-performance", "retailer-ranking", "regional-wish-list"],
    )
    parser.add_argument("--screenshots", type=Path)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(
            f"error: {CHROMIUM} is missing: run `make browser` (apt-get install chromium)",
            file=sys.stderr,
        )
        return 2
    from playwright.sync_api import sync_playwright

    password = args.password_file.read_text().strip()
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bi-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1600, "height": 1400},
            device_scale_factor=1,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(args.timeout * 1000)
            page.goto(f"{args.url}/login/")
            page.fill('input[id="username"], input[name="username"]', args.user)
            page.fill('input[id="password"], input[name="password"]', password)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/login" not in url, timeout=args.timeout * 1000)
            for slug in args.dashboards:
                page.goto(f"{args.url}/superset/dashboard/{slug}/")
                page.wait_for_selector(
                    '[data-test="dashboard-component-chart-holder"]', state="attached"
                )
                deadline = time.monotonic() + args.timeout
                charts: list[dict] = []
                while time.monotonic() < deadline:
                    charts = page.evaluate(PROBE)
                    if (
                        charts
                        and all(drawn(c) or c["error"] for c in charts)
                        and not any(c["loading"] for c in charts)
                    ):
                        break
                    time.sleep(1)
                else:
                    report[slug] = {"timed_out": True, "charts": charts}
                page.wait_for_timeout(1500)  # let the animations settle for the screenshot
                charts = page.evaluate(PROBE)
                for chart in charts:
                    chart["drawn"] = drawn(chart)
                report.setdefault(slug, {"timed_out": False})
                report[slug]["charts"] = charts
                if args.screenshots:
                    args.screenshots.mkdir(parents=True, exist_ok=True)
                    shot = args.screenshots / f"bi-{slug}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    report[slug]["screenshot"] = str(shot)
        finally:
            context.close()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
