"""Names stored on a server are read back by people: through ``tunehub studies`` in a
terminal and as CSV in a spreadsheet. Neither may act on what a name holds: no escape
sequence reaches the terminal, no rich markup is applied, no cell runs as a formula.
Each test runs the real command against a live server."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import termios
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tunehub
from tests.support.server import live_server, tunehub_cmd
from tests.support.spreadsheet import is_number

# Study names are restricted by the server; everything below is stored as given.
PARAM = "p\x1b]0;pwned\x07[bold red]x[/]"  # retitles the terminal, then markup
CATEGORICAL = "k\x1b[5m[i]"  # blink, then an italic tag
FORMULA_CHOICE = "=cmd|' /C calc'!A0"
ESCAPE_CHOICE = "\x1b[2J[/]\u202e"  # clears the screen; an unmatched closing tag; a bidi override
OBJECTIVE = "=loss\x1b[2J[link=http://evil]click[/link]"
CONSTRAINT = "c\x9b5m[u]c"  # C1 CSI
FIDELITY = "ep\x1b[5m[blink]x[/blink]"
WORKER = "-w\x1b]0;pwned\x07[bold]w[/]"
FORMULAS = {
    "eq": '=HYPERLINK("http://evil","x")',
    "plus": "+1+2",
    "minus": "-2+3",
    "at": "@SUM(1)",
    "tab": "\tx",
    "cr": "\rx",
}
METRICS = {CONSTRAINT: 0.5, **FORMULAS, "negative": -3.5, "plain": "ok"}
ERROR = "=1+1 boom"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Any control character but the newline that ends a line, C1 and bidi controls included.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Rich's own variables that would make it colour a pipe.
COLOUR_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE")


@dataclass
class Stored:
    url: str
    name: str


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stored]:
    folder = tmp_path_factory.mktemp("escaping")
    with live_server(f"sqlite:///{folder / 'x.db'}", log=folder / "server.log") as url:
        with tunehub.Client(url) as client:
            study = client.create_study(
                name="evil-names",
                space={
                    PARAM: tunehub.Float(-1, 1),
                    CATEGORICAL: tunehub.Categorical([FORMULA_CHOICE, ESCAPE_CHOICE]),
                    "q": tunehub.Float(0, 1, condition={CATEGORICAL: [ESCAPE_CHOICE]}),
                },
                objectives=OBJECTIVE,
                constraints=[{"name": CONSTRAINT, "op": "<=", "bound": 1}],
                fidelity={"name": FIDELITY, "min": 1, "max": 9},
            )
            study.enqueue({PARAM: -0.25, CATEGORICAL: FORMULA_CHOICE})
            study.ask(worker=WORKER).tell(-0.5, metrics=METRICS)
            study.enqueue({PARAM: 0.75, CATEGORICAL: FORMULA_CHOICE})
            study.ask(worker=WORKER).fail(ERROR)
        yield Stored(url, study.name)


def plain_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_VARIABLES}
    return {**env, "TUNEHUB_URL": url}


def cli(stored: Stored, *args: str) -> str:
    """The command's standard output, through a pipe, as text with every character kept."""
    out = subprocess.run(
        tunehub_cmd("studies", *args),
        env=plain_env(stored.url),
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def on_terminal(stored: Stored, *args: str) -> str:
    """The command's output as a 200-column terminal shows it (rich colours its own text)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**plain_env(stored.url), "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        tunehub_cmd("studies", *args), env=env, stdout=follower, stderr=subprocess.PIPE
    )
    os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        err = proc.stderr.read().decode() if proc.stderr else ""
        proc.wait(timeout=60)
    assert proc.returncode == 0, err
    return b"".join(chunks).decode()


def assert_no_control(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in CONTROL.findall(text)})
    assert not found, f"control characters reached the terminal: {found}\n{text!r}"


def test_show_escapes_control_characters_and_markup(stored: Stored) -> None:
    out = cli(stored, "show", stored.name)
    assert_no_control(out)
    # Each name is shown whole, its control characters as visible escapes, its markup as text.
    assert "p\\x1b]0;pwned\\x07[bold red]x[/]" in out
    assert "=loss\\x1b[2J[link=http://evil]click[/link] ↓" in out
    assert "c\\x9b5m[u]c <= 1" in out
    assert "ep\\x1b[5m[blink]x[/blink] 1 to 9" in out
    assert "k\\x1b[5m[i]" in out
    # Choices and conditions are JSON (its own \u escapes); their markup is text too.
    assert '"=cmd|\' /C calc\'!A0", "\\u001b[2J[/]\\u202e"' in out
    assert '{"k\\u001b[5m[i]": ["\\u001b[2J[/]\\u202e"]}' in out
    # The best trial's parameters, as the trial table shows them.
    assert "p\\x1b]0;pwned\\x07[bold red]x[/]=-0.25" in out


def test_list_escapes_control_characters_and_markup(stored: Stored) -> None:
    out = cli(stored, "list")
    assert_no_control(out)
    assert "=loss\\x1b[2J[link=http://evil]click[/link] ↓" in out
    assert "completed 1 · failed 1" in out


def test_terminal_gets_only_the_commands_own_styling(stored: Stored) -> None:
    """On a real terminal rich colours the states; nothing the server stored gets through."""
    injected = ("\x1b]", "\x07", "\x1b[2J", "\x1b[5m", "\x9b", "\u202e")
    for args in (("list",), ("show", stored.name), ("export", stored.name, "--csv")):
        out = on_terminal(stored, *args)
        leaked = [repr(s) for s in injected if s in out]
        assert not leaked, f"{args}: {leaked} reached the terminal\n{out!r}"
    shown = on_terminal(stored, "list")
    assert "\x1b[" in shown  # the states' colours: the command's own styling stays


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_export_neutralizes_formulas(stored: Stored, tmp_path: Path) -> None:
    text = cli(stored, "export", stored.name, "--csv")
    rows = read_csv(text)
    header, completed, failed = rows
    column = {name: i for i, name in enumerate(header)}
    # Header cells built from stored names: escaped like any other cell.
    assert "'" + OBJECTIVE in column and OBJECTIVE not in column
    assert f"params_{PARAM}" in column and f"metrics_{CONSTRAINT}" in column
    # Numbers stay numbers, a negative one included.
    assert completed[column["'" + OBJECTIVE]] == "-0.5"
    assert completed[column[f"params_{PARAM}"]] == "-0.25"
    assert failed[column[f"params_{PARAM}"]] == "0.75"
    assert completed[column["metrics_negative"]] == "-3.5"
    assert completed[column[f"metrics_{CONSTRAINT}"]] == "0.5"
    # Text that a spreadsheet would run gets a leading quote; other text is kept.
    assert completed[column[f"params_{CATEGORICAL}"]] == "'" + FORMULA_CHOICE
    for name, formula in FORMULAS.items():
        assert completed[column[f"metrics_{name}"]] == "'" + formula, name
    assert completed[column["metrics_plain"]] == "ok"
    assert completed[column["worker"]] == failed[column["worker"]] == "'" + WORKER
    assert failed[column["error"]] == "'" + ERROR
    # And in general: no cell but a number starts with a formula character.
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START) or is_number(cell), repr(cell)
    # The same to a file.
    target = tmp_path / "out.csv"
    cli(stored, "export", stored.name, "--csv", "-o", str(target))
    with open(target, newline="") as file:
        assert read_csv(file.read()) == rows


def test_json_export_keeps_every_name_as_stored(stored: Stored) -> None:
    """JSON is for scripts: names and values come back exactly, escaped only by JSON."""
    out = cli(stored, "export", stored.name, "--json")
    assert_no_control(out)
    trials = json.loads(out)
    assert trials[0]["params"][CATEGORICAL] == FORMULA_CHOICE
    assert trials[0]["metrics"]["eq"] == FORMULAS["eq"] and trials[0]["worker"] == WORKER
