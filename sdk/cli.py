"""The ``tunehub`` command line."""

from __future__ import annotations

import argparse
import csv
import ipaddress
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

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
        print(f"tunehub: {error}", file=sys.stderr)
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
        "--insecure",
        action="store_true",
        help="allow listening beyond loopback without authentication",
    )
    server.add_argument("--database-url", help="default: TUNEHUB_DATABASE_URL or ./tunehub.db")
    server.add_argument("--log-level", default="info")
    server.set_defaults(run=_server)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the current schema")
    upgrade.add_argument("--database-url")
    upgrade.set_defaults(run=_db_upgrade)

    studies = sub.add_parser("studies", help="inspect studies on a server (TUNEHUB_URL)")
    studies.add_argument("--url", help="server URL (default TUNEHUB_URL or 127.0.0.1:8000)")
    s_sub = studies.add_subparsers(metavar="ACTION")
    s_list = s_sub.add_parser("list")
    s_list.set_defaults(run=_studies_list)
    s_show = s_sub.add_parser("show")
    s_show.add_argument("name")
    s_show.set_defaults(run=_studies_show)
    s_export = s_sub.add_parser("export")
    s_export.add_argument("name")
    fmt = s_export.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_const", const="csv", dest="format")
    fmt.add_argument("--json", action="store_const", const="json", dest="format")
    s_export.add_argument("--output", "-o", help="file to write (default standard output)")
    s_export.set_defaults(run=_studies_export, format="csv")
    s_delete = s_sub.add_parser("delete")
    s_delete.add_argument("name")
    s_delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    s_delete.set_defaults(run=_studies_delete)
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


def _server(args: argparse.Namespace) -> int:
    if not is_loopback(args.host) and not args.insecure:
        print(
            f"tunehub: refusing to listen on {args.host} without authentication; "
            "listen on 127.0.0.1, or pass --insecure on a trusted network",
            file=sys.stderr,
        )
        return 2
    if args.database_url:
        os.environ["TUNEHUB_DATABASE_URL"] = args.database_url
    import uvicorn

    from tunehub.server.settings import database_url
    from tunehub.server.store.engine import is_sqlite, make_engine
    from tunehub.server.store.migrate import SchemaOutOfDate, ensure_current

    engine = make_engine(database_url())
    try:
        # Migrate (SQLite) or check once here, before any worker process starts.
        ensure_current(engine, auto_upgrade=is_sqlite(engine))
    except SchemaOutOfDate as error:
        print(f"tunehub: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"tunehub: serving on http://{args.host}:{args.port} (API docs at /docs)", flush=True)
    uvicorn.run(
        "tunehub.server.api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
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


def _client(args: argparse.Namespace) -> Any:
    from tunehub.client import Client

    return Client(args.url)


def _studies_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        rows = [
            [
                str(s.id),
                s.name,
                s.policy.name,
                str(sum(s.trial_counts.values())),
                str(s.trial_counts.get("completed", 0)),
                s.updated_at.isoformat(timespec="seconds"),
            ]
            for s in client.list_studies()
        ]
    _table(["id", "name", "policy", "trials", "completed", "updated"], rows)
    return 0


def _studies_show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        study = client.get_study(args.name)
        info = study.info.model_dump(mode="json")
        best = study.best_trials
    info["best"] = [b.model_dump(mode="json", include={"number", "params", "values"}) for b in best]
    print(json.dumps(info, indent=2))
    return 0


def _studies_export(args: argparse.Namespace) -> int:
    with _client(args) as client:
        study = client.get_study(args.name)
        trials = study.trials()
        objective_names = study.objective_names
    out = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump([t.model_dump(mode="json") for t in trials], out, indent=2)
            out.write("\n")
            return 0
        params = sorted({k for t in trials for k in t.params})
        metrics = sorted({k for t in trials for k in (t.metrics or {})})
        writer = csv.writer(out)
        writer.writerow(
            ["number", "state", *objective_names, *(f"params_{p}" for p in params)]
            + [f"metrics_{m}" for m in metrics]
            + ["cost", "worker", "started_at", "finished_at", "error"]
        )
        for t in trials:
            writer.writerow(
                [t.number, t.state.value]
                + [(t.values or {}).get(n, "") for n in objective_names]
                + [t.params.get(p, "") for p in params]
                + [(t.metrics or {}).get(m, "") for m in metrics]
                + [
                    "" if t.cost is None else t.cost,
                    t.worker or "",
                    t.started_at.isoformat() if t.started_at else "",
                    t.finished_at.isoformat() if t.finished_at else "",
                    t.error or "",
                ]
            )
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _studies_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        answer = input(f"delete study {args.name!r} and all its trials? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return 1
    with _client(args) as client:
        client.delete_study(args.name)
    print(f"deleted {args.name}")
    return 0


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
