"""``python -m crownsync.warehouse start|stop|status|url|clean``: manage the warehouse server.

``status`` and ``start`` print URLs with the password hidden (``***``) and say where the
embedded server's password file is; ``url`` prints the full warehouse URL, password
included, for scripts (``psql "$(python -m crownsync.warehouse url)"``).
"""

from __future__ import annotations

try:
    import argparse
    import sys
    import time

    from crownsync.errors import cli
    from crownsync.settings import get_settings, safe_url, url_without_password
    from crownsync.warehouse import embedded
    from crownsync.warehouse.bootstrap import bootstrap_warehouse
    from crownsync.warehouse.credentials import CredentialsError
    from crownsync.warehouse.databases import ensure_project_databases
except ModuleNotFoundError as err:  # started with a Python without our packages
    from crownsync.environment import exit_missing_package

    exit_missing_package(err, "python -m crownsync.warehouse")


def _safe(url: str) -> str:
    return safe_url(url)


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crownsync.warehouse", description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status", "url", "clean"])
    args = parser.parse_args(argv)
    settings = get_settings()
    data_dir, port = settings.warehouse_pg_dir, settings.warehouse_pg_port

    if args.action == "url":
        print(settings.warehouse_url)
        return 0

    if not settings.uses_embedded_server:
        if args.action == "start":
            created = ensure_project_databases(settings)
            print(
                f"DATABASE_URL is set: using {_safe(settings.warehouse_url)} (no embedded server)."
            )
            if created:
                print(f"created databases: {', '.join(created)}")
        else:
            print(
                f"DATABASE_URL is set: {_safe(settings.warehouse_url)}; nothing to {args.action}."
            )
        return 0

    try:
        if args.action == "start":
            began = time.monotonic()
            fresh = not (data_dir / "PG_VERSION").exists()
            st = embedded.start(data_dir, port)
            created = ensure_project_databases(settings)
            bootstrap_warehouse(settings.warehouse_url, force=True)
            took = time.monotonic() - began
            how = "initialised and started" if fresh else "running"
            print(f"embedded PostgreSQL {how} (pid {st.pid}, {took:.1f}s), data in {data_dir}")
            if created:
                print(f"created databases: {', '.join(created)}")
            print(f"warehouse: {_safe(settings.warehouse_url)}")
            print(f"password:  in {settings.superuser_password_file} (mode 0600)")
        elif args.action == "stop":
            embedded.stop(data_dir, port)
            print("embedded PostgreSQL stopped")
        elif args.action == "clean":
            embedded.destroy(data_dir, port)
            print(f"embedded PostgreSQL stopped and {data_dir} removed")
        else:
            st = embedded.status(data_dir, port)
            state = f"running (pid {st.pid})" if st.running else "stopped"
            print(f"embedded PostgreSQL: {state}")
            pw_file = settings.superuser_password_file
            print(f"data dir:  {data_dir}")
            print(f"warehouse: {_safe(settings.warehouse_url)}")
            print(f"source:    {_safe(settings.source_url)}")
            print(f"dagster:   {_safe(settings.dagster_storage_url)}")
            if pw_file.exists():
                print(f"password:  in {pw_file} (mode 0600; user {embedded.SUPERUSER})")
            else:
                print(f"password:  none yet ({pw_file} is written by `make db-start`)")
            print(
                f'psql:      PGPASSWORD="$(cat {pw_file})" {embedded.bin_path("psql")} '
                f"{url_without_password(settings.warehouse_url)}"
            )
    except (embedded.EmbeddedServerError, CredentialsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
