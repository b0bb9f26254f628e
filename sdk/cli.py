"""The ``tunehub`` command line."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    from tunehub.errors import ServerUnavailable, TunehubError

    try:
        result: int = args.run(args)
    except (TunehubError, ServerUnavailable) as error:
        from tunehub.cli_studies import safe_text

        print(f"tunehub: {safe_text(str(error))}", file=sys.stderr)  # server text, escaped
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunehub", description="Tunehub HPO service.")
    sub = parser.add_subparsers(metavar="COMMAND")

    server = sub.add_parser("server", help="run the REST server")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8000)
    server.add_argument("--workers", type=int, default=1, help="server processes")
    server.add_argument(
        "--auth",
        action="store_true",
        help="ask every request for an API key, even before one exists (TUNEHUB_AUTH=on); "
        "keys are asked for anyway once 'tunehub keys create' made one",
    )
    server.add_argument(
        "--insecure",
        action="store_true",
        help="allow listening beyond loopback without authentication (while no key exists)",
    )
    server.add_argument("--database-url", help="default: TUNEHUB_DATABASE_URL or ./tunehub.db")
    server.add_argument("--log-level", default="info")
    server.set_defaults(run=_server)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the current schema")
    upgrade.add_argument("--database-url")
    upgrade.set_defaults(run=_db_upgrade)

    from tunehub import cli_keys, cli_studies

    cli_keys.add_parser(sub)
    cli_studies.add_parser(sub)
    from tunehub.workers import cli as worker_cli  # imports no Ray until it runs

    worker_cli.add_parser(sub)
    return parser


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


INSECURE_BANNER = """\
tunehub: ************************************************************************
tunehub: INSECURE: listening on {host} with no API keys. Anyone who can reach
tunehub: this port can read, change and delete every study. Make a key with
tunehub: 'tunehub keys create --scope admin --name me' and drop --insecure.
tunehub: ************************************************************************"""


def _server(args: argparse.Namespace) -> int:
    if args.database_url:
        os.environ["TUNEHUB_DATABASE_URL"] = args.database_url
    if args.auth:
        os.environ["TUNEHUB_AUTH"] = "on"
    os.environ["TUNEHUB_BIND_HOST"] = args.host  # which host names it answers to
    import uvicorn

    from tunehub.schema import Scope
    from tunehub.server.flows.keys import ensure_key
    from tunehub.server.settings import auth_always, database_url, given_keys
    from tunehub.server.store.engine import is_sqlite, make_engine
    from tunehub.server.store.keys import any_key
    from tunehub.server.store.migrate import SchemaOutOfDate, ensure_current
    from tunehub.server.store.transactions import run_read

    engine = make_engine(database_url())
    try:
        # Migrate (SQLite) or check once here, before any worker process starts.
        ensure_current(engine, auto_upgrade=is_sqlite(engine))
        for key, scope in given_keys():
            print(f"tunehub: {ensure_key(engine, key, Scope(scope))}", flush=True)
        keyed = auth_always() or run_read(engine, any_key)
    except (SchemaOutOfDate, ValueError) as error:
        print(f"tunehub: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if keyed and not is_loopback(args.host):
        # Beyond loopback a server never runs keyless, whatever the database holds later.
        os.environ["TUNEHUB_AUTH"] = "on"
    if not is_loopback(args.host) and not keyed:
        if not args.insecure:
            print(
                f"tunehub: refusing to listen on {args.host} without authentication; "
                "make a key ('tunehub keys create --scope admin --name me'), give one in "
                "TUNEHUB_ADMIN_KEY or TUNEHUB_ADMIN_KEY_FILE, or pass --auth; or listen on "
                "127.0.0.1, or pass --insecure on a trusted network",
                file=sys.stderr,
            )
            return 2
        print(INSECURE_BANNER.format(host=args.host), file=sys.stderr, flush=True)
    elif keyed:
        print("tunehub: API keys required (Authorization: Bearer)", flush=True)
    from tunehub.server.api.connections import server_options

    print(f"tunehub: serving on http://{args.host}:{args.port} (API docs at /docs)", flush=True)
    uvicorn.run(
        "tunehub.server.api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        **server_options(),
    )
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from tunehub.server.settings import database_url
    from tunehub.server.store.engine import make_engine
    from tunehub.server.store.migrate import current_revision, upgrade

    engine = make_engine(args.database_url or database_url())
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    print(f"tunehub: {where} upgraded from {before or 'empty'} to {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
