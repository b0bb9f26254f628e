"""The SDK's ask/tell loop against a live server."""

from __future__ import annotations

import http.client
import http.server
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

import pytest

import tunehub
from tests.support.postgres import free_port
from tests.support.server import live_server


def quadratic_study(client: tunehub.Client, name: str, **kw: object) -> tunehub.Study:
    return client.create_study(
        name=name,
        space={"x": tunehub.Float(-3, 3), "opt": tunehub.Categorical(["a", "b"])},
        objectives={"loss": "minimize"},
        seed=5,
        **kw,  # type: ignore[arg-type]
    )


def test_optimize_with_workers_and_best(client: tunehub.Client) -> None:
    study = quadratic_study(client, "opt")

    def objective(trial: tunehub.Trial) -> float:
        x = float(trial.params["x"])  # type: ignore[arg-type]
        if trial.report(0, x * x + 1):
            raise tunehub.TrialPruned()
        return x * x

    study.optimize(objective, n_trials=24, n_workers=4)
    trials = study.trials()
    assert len(trials) == 24
    assert all(t.state == tunehub.TrialState.COMPLETED for t in trials)
    best = study.best_trial
    assert best is not None and best.values is not None
    assert best.values["loss"] == min(t.values["loss"] for t in trials if t.values)
    frame = study.trials_dataframe()
    assert len(frame) == 24 and {"values_loss", "params_x", "state"} <= set(frame.columns)


def test_exceptions_are_told_as_failures_with_traceback(client: tunehub.Client) -> None:
    study = quadratic_study(client, "fails")

    def broken(trial: tunehub.Trial) -> float:
        raise ZeroDivisionError("no good")

    with pytest.raises(ZeroDivisionError):
        study.optimize(broken, n_trials=3)
    (failed,) = study.trials()
    assert failed.state == tunehub.TrialState.FAILED
    assert failed.error is not None and "ZeroDivisionError: no good" in failed.error
    assert "Traceback" in failed.error
    study.optimize(broken, n_trials=2, catch=(ZeroDivisionError,))
    assert len(study.trials(tunehub.TrialState.FAILED)) == 3


def test_context_manager_prunes_and_fails(client: tunehub.Client) -> None:
    study = quadratic_study(client, "ctx")
    with study.ask() as trial:
        raise tunehub.TrialPruned()
    assert trial.info.state == tunehub.TrialState.PRUNED
    with study.ask() as trial:
        pass
    assert trial.info.state == tunehub.TrialState.FAILED
    assert "without telling" in (trial.info.error or "")


def test_background_heartbeats_keep_a_long_trial_alive(client: tunehub.Client) -> None:
    study = quadratic_study(client, "beats", heartbeat_grace_seconds=1.0)
    trial = study.ask()
    time.sleep(2.5)  # several grace periods; the SDK heartbeats meanwhile
    study.ask().tell(0.0)  # an ask expires stale trials
    assert client.request("GET", f"/trials/{trial.id}")["state"] == "running"
    trial.tell(1.0)
    assert trial.info.state == tunehub.TrialState.COMPLETED


def test_tell_values_and_errors(client: tunehub.Client) -> None:
    study = client.create_study(
        name="multi",
        space={"x": tunehub.Int(0, 10)},
        objectives=[{"name": "a", "direction": "minimize"}, {"name": "b", "direction": "maximize"}],
    )
    trial = study.ask()
    with pytest.raises(ValueError, match="give a dict"):
        trial.tell(1.0)
    trial.tell([1.0, 2.0], metrics={"mem": 3}, cost=0.5)
    assert trial.info.values == {"a": 1.0, "b": 2.0} and trial.info.cost == 0.5
    with pytest.raises(tunehub.ConflictError):
        trial.tell({"a": 0.0, "b": 0.0})
    other = study.ask()
    with pytest.raises(tunehub.InvalidError) as info:
        other.tell({"a": 1.0, "c": 2.0})
    assert info.value.errors[0]["field"] == "values.c"
    nan = other.tell({"a": math.nan, "b": 1.0})
    assert nan.state == tunehub.TrialState.FAILED
    assert [t.id for t in study.best_trials] == [trial.id]


def test_get_study_enqueue_and_conflicts(client: tunehub.Client) -> None:
    study = quadratic_study(client, "named")
    assert client.get_study("named").id == study.id
    assert client.get_study(study.id).name == "named"
    with pytest.raises(tunehub.NotFoundError):
        client.get_study("missing")
    with pytest.raises(tunehub.ConflictError):
        client.create_study(name="named", space={"y": tunehub.Float(0, 1)})
    assert quadratic_study(client, "named").id == study.id
    study.enqueue({"x": 0.5, "opt": "b"})
    assert study.ask().params == {"x": 0.5, "opt": "b"}
    assert [s.name for s in client.list_studies(search="name")] == ["named"]
    client.delete_study("named")
    with pytest.raises(tunehub.NotFoundError):
        client.get_study("named")


def test_client_validates_before_sending() -> None:
    client = tunehub.Client("http://127.0.0.1:9", max_retry_seconds=0.1)
    with pytest.raises(ValueError, match="swap"):
        client.create_study(name="x", space={"x": {"type": "float", "low": 2, "high": 1}})


def test_client_retries_until_the_server_is_up(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'late.db'}"
    client = tunehub.Client(f"http://127.0.0.1:{port}", max_retry_seconds=60)
    holder: dict[str, object] = {}

    def create() -> None:
        holder["study"] = quadratic_study(client, "late")

    thread = threading.Thread(target=create)
    thread.start()
    time.sleep(1.0)  # nothing listens yet: the client keeps retrying
    env = {"TUNEHUB_DATABASE_URL": url}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "tunehub"), "server", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        thread.join(timeout=60)
        assert isinstance(holder.get("study"), tunehub.Study)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    with pytest.raises(tunehub.ServerUnavailable, match="is the server running"):
        tunehub.Client(f"http://127.0.0.1:{port}", max_retry_seconds=0.3).list_studies()


def test_sdk_import_is_light() -> None:
    code = (
        "import sys, tunehub; "
        "heavy = ('torch', 'sqlalchemy', 'ray', 'fastapi', 'numpy'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_study_survives_a_server_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    with live_server(url) as base, tunehub.Client(base) as client:
        study = quadratic_study(client, "restart")
        first = [study.ask() for _ in range(3)]
        for t in first:
            t.tell(1.0)
    with live_server(url) as base, tunehub.Client(base) as client:
        study = client.get_study("restart")
        assert study.ask().number == 3
        assert len(study.trials(tunehub.TrialState.COMPLETED)) == 3


class _ForwardProxy(http.server.ThreadingHTTPServer):
    """An HTTP forward proxy that records the absolute URLs it forwarded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[str] = []


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _ForwardProxy
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")
        target = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(target.netloc, timeout=10)
        path = target.path + (f"?{target.query}" if target.query else "")
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
        upstream.request(self.command, path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_sdk_goes_through_the_proxy_the_environment_names(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = _ForwardProxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
        with tunehub.Client(server_url) as client:
            study = quadratic_study(client, "proxied")
            trial = study.ask()
            trial.tell(1.0)
            assert client.get_study("proxied").trials()[0].values == {"loss": 1.0}
        assert any(line.startswith("POST http://") and "/ask" in line for line in proxy.seen)

        seen = len(proxy.seen)
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        with tunehub.Client(server_url) as client:
            assert client.get_study("proxied").id == study.id
        assert len(proxy.seen) == seen  # NO_PROXY names the server: straight there
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_optimize_runs_an_ac_band_race_with_threads(server_url: str) -> None:
    """Threads share the races; losers end stopped, and their late results change nothing."""
    client = tunehub.Client(server_url)
    study = client.create_study(
        name=f"band-{uuid.uuid4().hex[:8]}",
        space={"x": tunehub.Float(0.0, 1.0)},
        objectives="runtime",
        policy="ac-band",
        policy_options={"group_size": 4, "pool_size": 8},
        instances={"train": ["a", "b", "c"]},
        cutoff=5.0,
        seed=3,
    )

    def run(trial: tunehub.Trial) -> float:
        seconds = 0.05 + 0.5 * float(trial.params["x"])
        time.sleep(seconds)
        return seconds

    study.optimize(run, n_trials=12, n_workers=4)
    trials = study.trials()
    assert len(trials) == 12 and all(t.state.finished for t in trials)
    states = Counter(t.state for t in trials)
    assert states[tunehub.TrialState.STOPPED] >= 3, states
    assert set(states) <= {tunehub.TrialState.COMPLETED, tunehub.TrialState.STOPPED}
