"""The README's examples and the command line, run against a live server."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import tunehub
from tests.support.postgres import create_database, free_port
from tests.support.server import tunehub_cmd, wait_until_up
from tunehub.server.store.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]


def run(cmd: list[str], url: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUNEHUB_URL": url}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload,no-any-return]


def test_curl_example(server_url: str) -> None:
    out = run(["bash", str(ROOT / "examples/curl.sh")], server_url)
    assert out.returncode == 0, out.stderr
    assert '{"decision":"continue"}' in out.stdout
    with tunehub.Client(server_url) as client:
        study = client.get_study("curl-example")
        assert study.info.trial_counts == {tunehub.TrialState.COMPLETED: 3}
        assert study.best_trial is not None and study.best_trial.values == {"loss": 0.2}
    again = run(["bash", str(ROOT / "examples/curl.sh")], server_url)
    assert again.returncode == 0, again.stderr  # creating the same study again is fine


@pytest.mark.skipif(shutil.which("node") is None, reason=".ci/run installs node")
def test_node_example(server_url: str) -> None:
    out = run(["node", str(ROOT / "examples/ask_tell.mjs"), "10"], server_url)
    assert out.returncode == 0, out.stderr
    with tunehub.Client(server_url) as client:
        study = client.get_study("node-example")
        trials = study.trials()
        assert len(trials) == 10 and {t.state for t in trials} == {tunehub.TrialState.COMPLETED}
        best = study.best_trial
        assert best is not None and best.values is not None
        assert f"best: trial {best.number} loss {best.values['loss']:.4f}" in out.stdout
        reports = client.request("GET", f"/trials/{best.id}/reports")
        assert [r["step"] for r in reports] == [1, 2, 3]
    again = run(["node", str(ROOT / "examples/ask_tell.mjs"), "2"], server_url)
    assert again.returncode == 0, again.stderr  # the same study again: 200, not a conflict


def test_quickstart_tunes_a_real_model(server_url: str) -> None:
    out = run([sys.executable, str(ROOT / "examples/quickstart.py"), "--trials", "8"], server_url)
    assert out.returncode == 0, out.stderr
    assert "best accuracy" in out.stdout
    with tunehub.Client(server_url) as client:
        best = client.get_study("quickstart-svm").best_trial
        assert best is not None and best.values is not None
        assert best.values["accuracy"] > 0.9


@pytest.mark.parametrize("policy", ["asha", "hyperband"])
def test_multifidelity_example_promotes_and_resumes(server_url: str, policy: str) -> None:
    script = str(ROOT / "examples/multifidelity.py")
    out = run([sys.executable, script, "--trials", "40", "--policy", policy], server_url)
    assert out.returncode == 0, out.stderr
    assert "promoted" in out.stdout and "best val error" in out.stdout
    with tunehub.Client(server_url) as client:
        trials = client.get_study(f"multifidelity-{policy}").trials()
        promoted = [t for t in trials if t.parent_id is not None]
        assert promoted and all(t.budget in (3, 9, 27) for t in promoted)
        best = min((t for t in trials if t.values), key=lambda t: t.values["val_error"])  # type: ignore[index]
        assert best.values is not None and best.values["val_error"] < 0.1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_studies_commands(server_url: str, tmp_path: Path) -> None:
    with tunehub.Client(server_url) as client:
        study = client.create_study(
            name="cli", space={"x": tunehub.Float(0, 1), "k": tunehub.Categorical(["a", "b"])}
        )
        for i in range(3):
            study.ask().tell(float(i), metrics={"m": i})
        study.ask().fail("boom")
    listed = run(tunehub_cmd("studies", "list"), server_url)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if " cli " in line)
    assert "random" in row and "completed 3 · failed 1" in row and "0 (#0)" in row
    as_json = json.loads(run(tunehub_cmd("studies", "list", "--json"), server_url).stdout)
    mine = next(s for s in as_json if s["name"] == "cli")
    assert [b["values"]["loss"] for b in mine["best"]] == [0.0, 1.0, 2.0]
    shown = run(tunehub_cmd("studies", "show", "cli"), server_url)
    assert shown.returncode == 0, shown.stderr
    assert "policy" in shown.stdout and "categorical" in shown.stdout
    assert '"a", "b"' in shown.stdout and "best 3" in shown.stdout
    by_id = run(tunehub_cmd("studies", "show", str(study.id), "--json"), server_url)
    assert json.loads(by_id.stdout)["best"][0]["values"] == {"loss": 0.0}
    exported = run(tunehub_cmd("studies", "export", "cli", "--csv"), server_url)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 4 and rows[0]["loss"] == "0.0" and rows[2]["metrics_m"] == "2"
    assert rows[3]["state"] == "failed" and rows[3]["error"] == "boom"
    target = tmp_path / "cli.json"
    run(tunehub_cmd("studies", "export", "cli", "--json", "-o", str(target)), server_url)
    assert len(json.loads(target.read_text())) == 4
    refused = run(tunehub_cmd("studies", "delete", "cli"), server_url, input="n\n")
    assert refused.returncode == 1 and "and its 4 trials?" in refused.stdout
    unasked = run(tunehub_cmd("studies", "delete", "cli"), server_url, input="")
    assert unasked.returncode == 1 and "--yes" in unasked.stdout
    assert client_has_study(server_url, "cli")
    deleted = run(tunehub_cmd("studies", "delete", "cli"), server_url, input="y\n")
    assert deleted.returncode == 0 and "deleted study 'cli' and its 4 trials" in deleted.stdout
    missing = run(tunehub_cmd("studies", "show", "cli"), server_url)
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def client_has_study(url: str, name: str) -> bool:
    with tunehub.Client(url) as client:
        return any(s.name == name for s in client.list_studies())


def test_server_refuses_non_loopback_without_insecure() -> None:
    out = subprocess.run(
        tunehub_cmd("server", "--host", "0.0.0.0"), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "--insecure" in out.stderr


def test_postgres_needs_explicit_upgrade(postgres_prefix: str) -> None:
    url = create_database(postgres_prefix, "cli_upgrade")
    env = {**os.environ, "TUNEHUB_DATABASE_URL": url}
    refused = subprocess.run(
        tunehub_cmd("server", "--port", "1"), env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "run `tunehub db upgrade`" in refused.stderr and "none (empty)" in refused.stderr
    upgraded = subprocess.run(
        tunehub_cmd("db", "upgrade"), env=env, capture_output=True, text=True, timeout=60
    )
    assert upgraded.returncode == 0
    assert f"upgraded from empty to {head_revision()}" in upgraded.stdout


def test_sqlite_default_migrates_itself_in_wal_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TUNEHUB_DATABASE_URL"}
    port = free_port()
    proc = subprocess.Popen(
        tunehub_cmd("server", "--port", str(port)),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", proc)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    mode = sqlite3.connect(tmp_path / "tunehub.db").execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)
