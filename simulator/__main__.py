"""``python -m simulator``: create, reuse or advance the simulated CrownSync world.

Writes only to the demo sources it creates itself: when SOURCE_DATABASE_URL or LANDING_DIR is
configured (real sources), it refuses unless both targets are given explicitly.
"""

from __future__ import annotations

try:
    import argparse
    import sys
    from pathlib import Path

    from crownsync.errors import cli
    from crownsync.settings import get_settings, safe_url
    from simulator.advance import advance
    from simulator.app_db_writer import SimulatorRefused
    from simulator.generate import generate
except ModuleNotFoundError as err:  # started with a Python without our packages
    from crownsync.environment import exit_missing_package

    exit_missing_package(err, "python -m simulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1, help="1 = about 5 M rows (default 0.1)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--advance", action="store_true", help="apply the next simulated day of changes"
    )
    parser.add_argument(
        "--regenerate", action="store_true", help="drop the simulated world and rebuild it"
    )
    parser.add_argument("--source-url", help="target database (default: the demo source)")
    parser.add_argument(
        "--landing-dir", type=Path, help="target landing dir (default: the demo landing dir)"
    )
    parser.add_argument("--quiet", action="store_true")
    return parser


@cli
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    explicit = args.source_url is not None and args.landing_dir is not None
    if not settings.uses_demo_sources and not explicit:
        print(
            "error: SOURCE_DATABASE_URL or LANDING_DIR is set, so the configured sources are real "
            "and read-only: the simulator will not write to them. To simulate anyway, give both "
            "--source-url and --landing-dir (a database and a folder of your own).",
            file=sys.stderr,
        )
        return 2
    source_url = args.source_url or settings.source_url
    landing = args.landing_dir or settings.landing_path
    try:
        if args.source_url is None:
            from crownsync.warehouse.databases import ensure_database

            ensure_database(source_url)  # the demo source database, on the warehouse server
        if args.advance:
            summary = advance(source_url, landing, quiet=args.quiet)
        else:
            summary = generate(
                source_url,
                landing,
                args.scale,
                args.seed,
                regenerate=args.regenerate,
                quiet=args.quiet,
            )
            if summary.reused:
                print(
                    f"reusing the simulated world in {safe_url(source_url)} "
                    f"and {landing} (seed {summary.seed}, scale {summary.scale}, day {summary.sim_day}); "
                    "--regenerate rebuilds it"
                )
    except SimulatorRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
