"""``tunehub studies``: list, show, export and delete studies on a server.

Tables are drawn with ``rich``, imported when a command runs so that importing the
SDK stays light. ``--json`` prints what a script would rather parse.

Whatever the server returns was written by whoever could create a study or tell a trial,
so it reaches the terminal through ``safe_text`` (control characters shown as escapes) in
``rich.text.Text`` cells (never read as markup), and CSV cells that a spreadsheet would
run as a formula get a leading quote.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from tunehub.client import Client
    from tunehub.schema import StudyOut, TrialOut
    from tunehub.study import Study

STATE_STYLES = {
    "completed": "green",
    "running": "blue",
    "pending": "cyan",
    "failed": "red",
    "pruned": "yellow",
    "stopped": "magenta",
}
BEST_SHOWN = 10
# C0 and C1 control characters (ESC, BEL, CSI...), DEL, line and paragraph separators, and
# the bidi controls that reorder what follows them on screen.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# A cell starting with one of these is run as a formula by spreadsheets (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def add_parser(sub: Any) -> None:
    studies = sub.add_parser("studies", help="inspect studies on a server (TUNEHUB_URL)")
    studies.add_argument("--url", help="server URL (default TUNEHUB_URL or 127.0.0.1:8000)")
    actions = studies.add_subparsers(metavar="ACTION")

    listing = actions.add_parser("list", help="every study: policy, trials by state, best value")
    listing.add_argument("--search", help="only names containing this text")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=list_studies)

    show = actions.add_parser("show", help="one study: its spec, counts and best trials")
    show.add_argument("name", help="study name (or id)")
    show.add_argument("--json", action="store_true", help="print JSON instead of tables")
    show.set_defaults(run=show_study)

    export = actions.add_parser("export", help="every trial as CSV (default) or JSON")
    export.add_argument("name", help="study name (or id)")
    fmt = export.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_const", const="csv", dest="format")
    fmt.add_argument("--json", action="store_const", const="json", dest="format")
    export.add_argument("--output", "-o", help="file to write (default standard output)")
    export.set_defaults(run=export_study, format="csv")

    delete = actions.add_parser("delete", help="delete a study and all its trials")
    delete.add_argument("name", help="study name (or id)")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=delete_study)


def list_studies(args: argparse.Namespace) -> int:
    with _client(args) as client:
        studies = client.list_studies(search=args.search)
        with ThreadPoolExecutor(max_workers=8) as pool:
            bests = list(pool.map(lambda s: _best(client, s), studies))
    if args.json:
        rows = [
            {**s.model_dump(mode="json"), "best": [b.model_dump(mode="json") for b in best]}
            for s, best in zip(studies, bests)
        ]
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    title = _text(f"{len(studies)} studies at {client.url}")
    table = Table(title=title, title_justify="left")
    for name, justify in [
        ("id", "right"),
        ("name", "left"),
        ("policy", "left"),
        ("objectives", "left"),
        ("trials", "right"),
        ("by state", "left"),
        ("best", "right"),
        ("updated", "left"),
    ]:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for study, best in zip(studies, bests):
        table.add_row(
            str(study.id),
            _text(study.name),
            _text(study.policy.name),
            _objectives(study),
            str(sum(study.trial_counts.values())),
            _counts(study),
            _best_text(study, best),
            study.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    _console().print(table)
    return 0


def show_study(args: argparse.Namespace) -> int:
    with _client(args) as client:
        study = _study(client, args.name)
        info = study.info
        best = _best(client, info)
    if args.json:
        out = info.model_dump(mode="json")
        keys = {"number", "params", "values"}
        out["best"] = [b.model_dump(mode="json", include=keys) for b in best]
        print(json.dumps(out, indent=2))
        return 0
    from rich.table import Table

    console = _console()
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    options = f" {json.dumps(info.policy.options)}" if info.policy.options else ""
    facts.add_row("study", _text(f"{info.name} (id {info.id})"))
    facts.add_row("policy", _text(info.policy.name + options))
    facts.add_row("objectives", _objectives(info))
    if info.fidelity is not None:
        f = info.fidelity
        facts.add_row("fidelity", _text(f"{f.name} {f.min:g} to {f.max:g}, eta {f.eta:g}"))
    for c in info.constraints:
        facts.add_row("constraint", _text(f"{c.name} {c.op.value} {c.bound:g}"))
    facts.add_row("seed", str(info.seed))
    total = sum(info.trial_counts.values())
    facts.add_row("trials", _text(f"{total}: ").append_text(_counts(info) or _text("none yet")))
    facts.add_row("created", info.created_at.strftime("%Y-%m-%d %H:%M:%S %Z"))
    facts.add_row("updated", info.updated_at.strftime("%Y-%m-%d %H:%M:%S %Z"))
    console.print(facts)

    space = Table(title="parameters", title_justify="left")
    conditional = any(spec.condition for spec in info.space.values())
    for column in ("name", "type", "range or choices", "condition")[: 4 if conditional else 3]:
        space.add_column(column, overflow="fold")
    for name, spec in info.space.items():
        data = spec.model_dump()
        if data["type"] == "categorical":
            domain = ", ".join(json.dumps(c) for c in data["choices"])
        else:
            domain = f"{data['low']:g} to {data['high']:g}" + (" (log)" if data["log"] else "")
        condition = [_text(json.dumps(data["condition"]) if data["condition"] else "")]
        space.add_row(_text(name), data["type"], _text(domain), *(condition if conditional else []))
    console.print(space)

    if best:
        title = "Pareto set" if len(info.objectives) > 1 else f"best {len(best)}"
        console.print(_trial_table(title, info, best))
    return 0


def export_study(args: argparse.Namespace) -> int:
    with _client(args) as client:
        study = _study(client, args.name)
        trials = study.trials()
        objective_names = study.objective_names
    out = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump([t.model_dump(mode="json") for t in trials], out, indent=2)
            out.write("\n")
        else:
            _write_csv(out, trials, objective_names)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def delete_study(args: argparse.Namespace) -> int:
    with _client(args) as client:
        study = _study(client, args.name)
        total = sum(study.info.trial_counts.values())
        if not args.yes:
            name = safe_text(study.name)
            question = f"delete study '{name}' (id {study.id}) and its {total} trials? [y/N] "
            try:
                answer = input(question)
            except EOFError:
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                print("not deleted (pass --yes to delete without a question)")
                return 1
        client.delete_study(study.id)
    print(f"deleted study '{safe_text(study.name)}' and its {total} trials")
    return 0


def _client(args: argparse.Namespace) -> Client:
    from tunehub.client import Client

    return Client(args.url)


def _console() -> Console:
    from rich.console import Console

    # A pipe gets a wide table rather than one folded to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 160)


def _study(client: Client, text: str) -> Study:
    """The study of that name; failing that, when the text is digits, the study of that id."""
    from tunehub.errors import NotFoundError

    try:
        return client.get_study(text)
    except NotFoundError:
        if not text.isdigit():
            raise
        return client.get_study(int(text))


def _best(client: Client, study: StudyOut) -> list[TrialOut]:
    from tunehub.schema import TrialBatch, TrialList

    if len(study.objectives) > 1:
        body = client.request("GET", f"/studies/{study.id}/best")
        return TrialBatch.model_validate(body).trials
    sort = "-value" if study.objectives[0].direction == "maximize" else "value"
    params = {"state": "completed", "sort": sort, "limit": BEST_SHOWN}
    body = client.request("GET", f"/studies/{study.id}/trials", params=params)
    return [t for t in TrialList.model_validate(body).trials if t.values]


def safe_text(text: str) -> str:
    """``text`` with every control character shown as its escape (ESC as ``\\x1b``), so
    that nothing a server returns can move the cursor, clear or retitle the terminal,
    or reorder what follows it."""
    return UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _text(text: str, style: str = "") -> Text:
    """Server text as a table cell: shown as written, never read as rich markup."""
    from rich.text import Text

    return Text(safe_text(text), style=style)


def _objectives(study: StudyOut) -> Text:
    arrows = {"minimize": "↓", "maximize": "↑"}
    return _text(", ".join(f"{o.name} {arrows[o.direction]}" for o in study.objectives))


def _counts(study: StudyOut) -> Text:
    """Trials by state, each state in its colour."""
    parts = [
        _text(f"{state} {count}", STATE_STYLES.get(state, ""))
        for state, count in sorted(study.trial_counts.items())
        if count
    ]
    return _text(" · ").join(parts)


def _best_text(study: StudyOut, best: Sequence[TrialOut]) -> str:
    if not best:
        return ""
    if len(study.objectives) > 1:
        return f"{len(best)} on the front"
    values = best[0].values or {}
    return f"{values[study.objectives[0].name]:.6g} (#{best[0].number})"


def _trial_table(title: str, study: StudyOut, trials: Sequence[TrialOut]) -> Any:
    from rich.table import Table

    names = [o.name for o in study.objectives]
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    for name in names:
        table.add_column(_text(name), justify="right")
    table.add_column("params", overflow="fold")
    costs = any(t.cost is not None for t in trials)
    if costs:
        table.add_column("cost", justify="right")
    for t in trials:
        values = t.values or {}
        cost = ["" if t.cost is None else f"{t.cost:.4g}"] if costs else []
        table.add_row(
            str(t.number),
            *(f"{values[n]:.6g}" if n in values else "" for n in names),
            _text(", ".join(f"{k}={_short(v)}" for k, v in t.params.items())),
            *cost,
        )
    return table


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows rather than runs: text starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return gets a leading ``'`` (numbers are kept as they are)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _write_csv(out: Any, trials: Sequence[TrialOut], objective_names: Sequence[str]) -> None:
    params = sorted({k for t in trials for k in t.params})
    metrics = sorted({k for t in trials for k in (t.metrics or {})})
    writer = csv.writer(out)
    # Written to a terminal rather than a file or pipe, the text is made safe for it too.
    tty = out.isatty()

    def cells(row: list[Any]) -> list[Any]:
        row = [csv_cell(v) for v in row]
        return [safe_text(v) if tty and isinstance(v, str) else v for v in row]

    writer.writerow(
        cells(
            ["number", "state", *objective_names, *(f"params_{p}" for p in params)]
            + [f"metrics_{m}" for m in metrics]
            + ["cost", "worker", "started_at", "finished_at", "error"]
        )
    )
    for t in trials:
        writer.writerow(
            cells(
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
        )
