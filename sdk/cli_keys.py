"""``tunehub keys``: make, list and revoke API keys, straight on the server's database.

It works on the database, not over HTTP, so the first admin key can be made
before any key exists (and by whoever can reach the database, nobody else):
over HTTP, keys are managed with an admin key only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="API keys (on the server's database)")
    keys.add_argument("--database-url", help="default: TUNEHUB_DATABASE_URL or ./tunehub.db")
    actions = keys.add_subparsers(metavar="ACTION")

    create = actions.add_parser("create", help="make a key; it is printed once, never again")
    create.add_argument("--name", required=True, help="who holds it, unique (e.g. ci)")
    create.add_argument(
        "--scope", choices=["read", "write", "admin"], default="read", help="default read"
    )
    create.set_defaults(run=create_key)

    listing = actions.add_parser("list", help="every key: name, scope, prefix, revoked")
    listing.set_defaults(run=list_keys)

    revoke = actions.add_parser("revoke", help="stop a key from working (within seconds)")
    revoke.add_argument("name")
    revoke.set_defaults(run=revoke_key)

    generate = actions.add_parser(
        "generate",
        help="print a new random key and store nothing: for TUNEHUB_ADMIN_KEY(_FILE), "
        "which the server makes its admin key at start",
    )
    generate.set_defaults(run=generate_key)


def _engine(args: argparse.Namespace) -> Any:
    from tunehub.server.settings import database_url
    from tunehub.server.store.engine import is_sqlite, make_engine
    from tunehub.server.store.migrate import ensure_current

    engine = make_engine(args.database_url or database_url())
    ensure_current(engine, auto_upgrade=is_sqlite(engine))
    return engine


def create_key(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from tunehub.schema import KeyCreate
    from tunehub.server.flows import keys

    try:
        body = KeyCreate(name=args.name, scope=args.scope)
    except ValidationError as error:
        print(f"tunehub: {error.errors()[0]['msg']}", file=sys.stderr)
        return 2
    engine = _engine(args)
    try:
        row, key = keys.create_key(engine, body)
    finally:
        engine.dispose()
    print(f"tunehub: {row.scope} key {row.name!r} created; it is shown this once:", file=sys.stderr)
    print(key)
    print("tunehub: the server now asks every request for a key", file=sys.stderr)
    return 0


def list_keys(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tunehub.server.flows import keys

    engine = _engine(args)
    try:
        rows = keys.list_keys(engine)
    finally:
        engine.dispose()
    for row in rows:
        made = datetime.fromtimestamp(row.created_at, UTC).isoformat(timespec="seconds")
        state = "revoked" if row.revoked_at is not None else "live"
        print(f"{row.name}\t{row.scope}\t{row.prefix}…\t{made}\t{state}")
    return 0


def generate_key(args: argparse.Namespace) -> int:
    from tunehub.server.flows.keys import generate_key

    print(generate_key())
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    from tunehub.server.flows import keys

    engine = _engine(args)
    try:
        keys.revoke_key(engine, args.name, keep_an_admin=False)
    finally:
        engine.dispose()
    print(f"tunehub: key {args.name!r} revoked", file=sys.stderr)
    return 0
