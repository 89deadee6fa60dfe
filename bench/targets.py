"""What the bench aims at, and pass/miss per target: pure functions of the results dict.

Its own module (not in :mod:`bench.markdown`, not in :mod:`bench.measure`) because the
verdicts are data, not typesetting: they are stored in benchmarks.json (``targets``), printed
on the terminal, rendered in benchmarks.md and recomputed by ``--render`` and the tests, none
of which should import psycopg or a renderer to get them.
"""

from __future__ import annotations

GB = 1024**3
MB = 1024**2

TARGETS = {
    "ingest_vs_psql": 0.70,
    "full_pipeline_s1_seconds": 180.0,
    "incremental_over_full": 0.10,
    "bi_p95_ms": 5.0,
    "peak_rss_bytes": 1 * GB,
}


def evaluate_targets(scales: list[dict]) -> list[dict]:
    by_scale = {s["scale"]: s for s in scales}
    main = scales[-1]
    out = []

    ratio = main["ingestion"]["total"]["ratio_vs_psql_copy"]
    out.append(
        {
            "target": "ingestion rows/s ÷ psql \\copy rows/s (same rows) ≥ 0.70",
            "key": "ingest_vs_psql",
            "scale": main["scale"],
            "value": f"{ratio:.2f}",
            "status": "pass" if ratio >= TARGETS["ingest_vs_psql"] else "miss",
        }
    )
    s1 = by_scale.get(1.0)
    if s1 is not None:
        wall = s1["full_pipeline"]["process_wall_seconds"]
        ok = wall <= TARGETS["full_pipeline_s1_seconds"] and s1["full_pipeline"]["success"]
        value, status = f"{wall:.0f} s", "pass" if ok else "miss"
    else:
        value, status = "scale 1 not run", "not measured"
    out.append(
        {
            "target": "full pipeline at scale 1 on 2 cores ≤ 3 min",
            "key": "full_pipeline_s1_seconds",
            "scale": 1.0,
            "value": value,
            "status": status,
        }
    )
    ratio = main["incremental_over_full"]
    out.append(
        {
            "target": "incremental ÷ full wall time ≤ 0.10",
            "key": "incremental_over_full",
            "scale": main["scale"],
            "value": "skipped" if ratio is None else f"{ratio:.2f}",
            "status": (
                "not measured"
                if ratio is None
                else "pass"
                if ratio <= TARGETS["incremental_over_full"]
                else "miss"
            ),
        }
    )
    for name, q in main["bi"]["queries"].items():
        p95 = q.get("p95_ms")
        out.append(
            {
                "target": f"BI {name} p95 ≤ 5 ms",
                "key": f"bi_p95_ms:{name}",
                "scale": main["scale"],
                "value": "error" if p95 is None else f"{p95:.2f} ms",
                "status": "pass" if p95 is not None and p95 <= TARGETS["bi_p95_ms"] else "miss",
            }
        )
    peaks = {
        s["scale"]: max(
            s["full_pipeline"]["peak_rss_main_bytes"], s["full_pipeline"]["peak_rss_dbt_bytes"]
        )
        for s in scales
    }
    worst = max(peaks.values())
    values = ", ".join(f"s{k:g}: {v / MB:,.0f} MB" for k, v in peaks.items())
    if 10.0 in peaks and 1.0 in peaks:
        growth = peaks[10.0] / peaks[1.0]
        ok = worst <= TARGETS["peak_rss_bytes"] and growth <= 1.25
        value, status = f"{values} (×{growth:.2f})", "pass" if ok else "miss"
    else:
        status = (
            "not measured at scale 10 (≤ 1 GB holds at the scales run)"
            if worst <= TARGETS["peak_rss_bytes"]
            else "miss"
        )
        value = values
    out.append(
        {
            "target": "peak RSS (pipeline process, dbt) at scale 10 ≈ scale 1, ≤ 1 GB",
            "key": "peak_rss_bytes",
            "scale": max(peaks),
            "value": value,
            "status": status,
        }
    )
    return out
