"""``python -m serving``: publish the marts, create tenant logins.

    python -m serving apply
    python -m serving bi-prepare                     (make bi: Superset's connection, serving/bi.py)
    python -m serving tenant-login --brand <uuid>    [--login NAME]
    python -m serving tenant-login --retailer <uuid> [--login NAME]

The password of a new login comes from TENANT_PASSWORD, or is generated and printed once.
"""

from __future__ import annotations

try:
    import argparse
    import os
    import sys
    from uuid import UUID

    import psycopg

    from crownsync.errors import UserError, cli
    from crownsync.settings import get_settings, url_parts
    from crownsync.warehouse.bootstrap import bootstrap_warehouse
    from crownsync.warehouse.connections import connect_warehouse
    from serving.grants import (
        apply_access,
        create_tenant_login,
        drop_tenant_login,
        grant_reader_logins,
        list_tenant_logins,
    )
except ModuleNotFoundError as err:  # started with a Python without our packages
    from crownsync.environment import exit_missing_package

    exit_missing_package(err, "python -m serving")


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serving",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("apply", help="re-apply row-level security and grants on every mart")
    sub.add_parser(
        "bi-prepare",
        help="bi_reader login, Superset's metadata database, tenant list (make bi's first step)",
    )
    sub.add_parser(
        "grant-logins",
        help="give analyst / bi_reader a login from ANALYST_PASSWORD / BI_READER_PASSWORD now",
    )
    logins = sub.add_parser("tenant-logins", help="list the tenant logins, or drop one")
    logins.add_argument("--drop", metavar="LOGIN", help="drop this tenant login")
    login = sub.add_parser("tenant-login", help="create a login that sees one tenant's rows")
    tenant = login.add_mutually_exclusive_group(required=True)
    tenant.add_argument("--brand", type=UUID)
    tenant.add_argument("--retailer", type=UUID)
    login.add_argument("--login", help="role name (default brand_<id> / retailer_<id>)")
    args = parser.parse_args(argv)

    url = get_settings().warehouse_url
    bootstrap_warehouse(url)
    if args.action == "bi-prepare":
        from serving.bi import bi_home, prepare

        info = prepare()
        print(
            f"bi: warehouse reader bi_reader, {len(info['tenants'])} tenant login(s), "
            f"settings in {bi_home() / 'connection.json'} (mode 0600)"
        )
        print(
            f"bi: bi_reader logs in with the password of {info['reader_password_from']} "
            "(set BI_READER_PASSWORD to choose it)"
        )
        return 0
    try:
        with connect_warehouse(url) as conn:
            if args.action == "apply":
                print(f"row-level security and grants applied on {apply_access(conn)} marts")
                return 0
            if args.action == "grant-logins":
                granted = grant_reader_logins(conn)
                if not granted:
                    raise UserError(
                        "no reader login to grant",
                        "set ANALYST_PASSWORD and/or BI_READER_PASSWORD (e.g. in .env)",
                    )
                print(f"login granted to {', '.join(granted)} (password from the environment)")
                return 0
            if args.action == "tenant-logins":
                return _tenant_logins(conn, args.drop)
            column = "brand_id" if args.brand else "retailer_id"
            tenant_id = args.brand or args.retailer
            known = conn.execute(
                f"select exists (select 1 from marts.{'dim_brands' if args.brand else 'dim_retailers'} "  # noqa: S608
                f"where {column} = %s)",
                (tenant_id,),
            ).fetchone()[0]
            if not known:
                other = "retailer_id" if args.brand else "brand_id"
                other_table = "dim_retailers" if args.brand else "dim_brands"
                is_other = conn.execute(
                    f"select exists (select 1 from marts.{other_table} where {other} = %s)",  # noqa: S608
                    (tenant_id,),
                ).fetchone()[0]
                flag = "RETAILER" if args.brand else "BRAND"
                raise UserError(
                    f"no {column.removesuffix('_id')} {tenant_id} in marts."
                    f"{'dim_brands' if args.brand else 'dim_retailers'}: no login created",
                    f"{tenant_id} is a {other.removesuffix('_id')}: use {flag}={tenant_id}"
                    if is_other
                    else "check the id (ids are in marts.dim_brands / marts.dim_retailers), "
                    "or run `make run` first if the tenant is new",
                )
            created = create_tenant_login(
                conn,
                brand_id=args.brand,
                retailer_id=args.retailer,
                role_name=args.login,
                password=os.environ.get("TENANT_PASSWORD"),
            )
    except psycopg.errors.UndefinedTable:
        print("error: the marts do not exist yet: run `make run` first", file=sys.stderr)
        return 1
    server = url_parts(get_settings().warehouse_url)
    print(f"login {created.role_name} sees the rows of {column} {tenant_id}")
    if created.password:
        print(f"password: {created.password}   (shown once; set TENANT_PASSWORD to choose it)")
    print(
        f"connect:  psql 'postgresql://{created.role_name}@{server['host']}:{server['port']}/{server['database']}'"
    )
    return 0


def _tenant_logins(conn, drop: str | None) -> int:
    if drop:
        if not drop_tenant_login(conn, drop):
            raise UserError(f"{drop!r} is not a tenant login", "`make tenant-logins` lists them")
        print(f"dropped tenant login {drop}")
        return 0
    logins = list_tenant_logins(conn)
    if not logins:
        print("no tenant logins (make tenant-login BRAND=<uuid> or RETAILER=<uuid> creates one)")
    for name, kind, tenant_id, can_login in logins:
        print(f"{name:<28} {kind:<9} {tenant_id}{'' if can_login else '  (no login)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
