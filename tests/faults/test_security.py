"""API keys on a live server: every route is closed without the right scope, and no
path parameter, however encoded, reaches a file."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import tunehub
from tests.support.server import env_for, live_server, tunehub_cmd
from tunehub.schema import KeyCreate, Scope
from tunehub.server.flows.keys import create_key
from tunehub.server.store.engine import make_engine
from tunehub.server.store.migrate import ensure_current

READ_METHODS = {"get", "head", "options"}
SPACE = {"x": {"type": "float", "low": 0, "high": 1}}
MISSING_ID = "2147483000"  # a valid id that names nothing: past the gate, it answers 404

TRAVERSAL = [
    "..",
    "../",
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%252f..%252fetc%252fpasswd",
    "..\\..\\windows\\win.ini",
    "..%5c..%5cwindows%5cwin.ini",
    "%2e%2e%5c%2e%2e%5csecret.txt",
    "%252e%252e%255csecret.txt",
    "....//....//secret.txt",
    "..%00/secret.txt",
    "%c0%ae%c0%ae/secret.txt",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "secret.txt",
]


@dataclass
class Keyed:
    url: str
    keys: dict[Scope, str]
    folder: Path
    routes: list[tuple[str, str]]  # (method, path template) from the live OpenAPI

    def headers(self, scope: Scope | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}


def _make_keys(database_url: str) -> dict[Scope, str]:
    engine = make_engine(database_url)
    try:
        ensure_current(engine, auto_upgrade=True)
        return {s: create_key(engine, KeyCreate(name=f"k-{s.value}", scope=s))[1] for s in Scope}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    folder = tmp_path_factory.mktemp("keyed")
    (folder / "secret.txt").write_text("do not serve me\n")
    database_url = f"sqlite:///{folder / 'keyed.db'}"
    keys = _make_keys(database_url)
    with live_server(database_url) as url:
        spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
        routes = [(m, p) for p, ops in spec["paths"].items() for m in ops if p != "/api/v1/health"]
        yield Keyed(url, keys, folder, routes)


def _fill(template: str, value: str) -> str:
    parts = template.split("/")
    return "/".join(value if p.startswith("{") else p for p in parts)


def _raw(keyed: Keyed, method: str, path: str, scope: Scope) -> tuple[int, str]:
    """Send ``path`` byte for byte: HTTP clients such as httpx resolve ``..`` before sending."""
    host, port = keyed.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        body = None if method in READ_METHODS else b"{}"
        headers = {**keyed.headers(scope), "Content-Type": "application/json"}
        connection.request(method.upper(), path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode(errors="replace")
    finally:
        connection.close()


def _send(
    keyed: Keyed, method: str, path: str, scope: Scope | None, **extra: Any
) -> httpx.Response:
    body = {} if method not in READ_METHODS else None
    return httpx.request(
        method.upper(),
        keyed.url + path,
        json=body,
        headers={**keyed.headers(scope), **extra.pop("headers", {})},
        timeout=30,
        **extra,
    )


def test_the_schema_lists_every_route_family(keyed: Keyed) -> None:
    paths = {p for _, p in keyed.routes}
    assert {"/api/v1/studies", "/api/v1/keys"} <= paths
    assert any("{trial_id}" in p for p in paths) and any("{study_id}" in p for p in paths)
    assert sum(1 for m, _ in keyed.routes if m not in READ_METHODS) >= 10


def test_every_route_answers_401_without_a_key_and_names_the_fix(keyed: Keyed) -> None:
    for method, template in keyed.routes:
        answer = _send(keyed, method, _fill(template, MISSING_ID), None)
        assert answer.status_code == 401, (method, template, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "TUNEHUB_API_KEY" in answer.json()["detail"]


def test_unknown_malformed_and_foreign_scheme_keys_are_401(keyed: Keyed) -> None:
    for header in ("Bearer th_not-a-key", "Bearer", "Basic dXNlcjpwYXNz", keyed.keys[Scope.ADMIN]):
        for method, template in keyed.routes:
            path = _fill(template, MISSING_ID)
            answer = _send(keyed, method, path, None, headers={"Authorization": header})
            assert answer.status_code == 401, (header, method, template)


def test_a_read_key_reads_and_is_refused_every_change_with_403(keyed: Keyed) -> None:
    for method, template in keyed.routes:
        answer = _send(keyed, method, _fill(template, MISSING_ID), Scope.READ)
        if method in READ_METHODS and not template.startswith("/api/v1/keys"):
            assert answer.status_code not in (401, 403), (method, template, answer.text)
        else:
            assert answer.status_code == 403, (method, template, answer.text)
            assert "read key" in answer.json()["detail"]


def test_a_write_key_changes_studies_but_not_keys(keyed: Keyed) -> None:
    for method, template in keyed.routes:
        answer = _send(keyed, method, _fill(template, MISSING_ID), Scope.WRITE)
        if template.startswith("/api/v1/keys"):
            assert answer.status_code == 403, (method, template)
        else:  # past the gate: the route itself answers (404, 422, 201, ...)
            assert answer.status_code not in (401, 403), (method, template, answer.text)
            assert answer.status_code < 500, (method, template, answer.text)


def test_the_sdk_with_a_write_key_runs_a_study_and_without_one_is_told_why(keyed: Keyed) -> None:
    with tunehub.Client(keyed.url, token=keyed.keys[Scope.WRITE]) as client:
        study = client.create_study(name="keyed-sdk", space={"x": tunehub.Float(0, 1)})
        trial = study.ask()
        trial.tell(trial.params["x"])
        assert study.best_trial is not None and study.best_trial.number == 0
    with tunehub.Client(keyed.url) as anonymous, pytest.raises(tunehub.TunehubError) as refused:
        anonymous.list_studies()
    assert refused.value.status == 401 and "TUNEHUB_API_KEY" in str(refused.value)


def test_an_admin_makes_and_revokes_a_key_which_then_stops_working(keyed: Keyed) -> None:
    admin = keyed.headers(Scope.ADMIN)
    made = httpx.post(
        f"{keyed.url}/api/v1/keys", json={"name": "ci", "scope": "write"}, headers=admin
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert key.startswith(made.json()["prefix"])
    listed = httpx.get(f"{keyed.url}/api/v1/keys", headers=admin).json()["keys"]
    assert "ci" in {k["name"] for k in listed} and key not in str(listed)
    again = httpx.post(f"{keyed.url}/api/v1/keys", json={"name": "ci"}, headers=admin)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "name"
    bearer = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{keyed.url}/api/v1/studies", headers=bearer).status_code == 200
    assert httpx.delete(f"{keyed.url}/api/v1/keys/ci", headers=admin).status_code == 204
    assert httpx.get(f"{keyed.url}/api/v1/studies", headers=bearer).status_code == 401


def test_health_docs_and_dashboard_stay_open_and_hold_no_data(keyed: Keyed) -> None:
    for path in ("/api/v1/health", "/openapi.json", "/", "/dashboard/app.js"):
        assert httpx.get(keyed.url + path, timeout=10).status_code == 200, path


def _files(folder: Path) -> dict[str, tuple[int, float]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime)
        for p in folder.rglob("*")
        if p.is_file() and "keyed.db" not in p.name
    }


def test_traversal_in_every_path_parameter_is_4xx_and_touches_no_file(keyed: Keyed) -> None:
    before = _files(keyed.folder)
    templates = sorted({(m, t) for m, t in keyed.routes if "{" in t})
    templates += [("get", "/dashboard/{name}"), ("get", "/docs/assets/{name}")]
    tried = 0
    for method, template in templates:
        for attack in TRAVERSAL:
            path = _fill(template, attack)
            status, text = _raw(keyed, method, path, Scope.ADMIN)
            tried += 1
            assert 400 <= status < 500, (method, path, status)
            assert "root:" not in text and "do not serve me" not in text
    assert tried >= len(TRAVERSAL) * 10
    assert _files(keyed.folder) == before


def test_study_names_that_read_as_parent_folders_are_refused(keyed: Keyed) -> None:
    for name in ("a/../b", "a/..", "x/../../etc"):
        answer = httpx.post(
            f"{keyed.url}/api/v1/studies",
            json={"name": name, "space": SPACE, "objectives": [{"name": "y"}]},
            headers=keyed.headers(Scope.WRITE),
        )
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "name"
    fine = httpx.post(
        f"{keyed.url}/api/v1/studies",
        json={"name": "team/v1..2", "space": SPACE, "objectives": [{"name": "y"}]},
        headers=keyed.headers(Scope.WRITE),
    )
    assert fine.status_code == 201, fine.text


def test_auth_on_locks_a_server_that_has_no_key_yet(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'locked.db'}"
    with live_server(database_url, env={"TUNEHUB_AUTH": "on"}) as url:
        assert httpx.get(f"{url}/api/v1/studies").status_code == 401
        assert httpx.post(f"{url}/api/v1/studies", json={}).status_code == 401


def test_the_cli_prints_a_key_once_lists_it_by_prefix_and_revokes_it(tmp_path: Path) -> None:
    env = env_for(f"sqlite:///{tmp_path / 'cli.db'}")

    def keys(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            tunehub_cmd("keys", *args), env=env, capture_output=True, text=True, timeout=60
        )

    made = keys("create", "--scope", "write", "--name", "ci")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("th_") and len(key) > 40 and "shown this once" in made.stderr
    listed = keys("list")
    assert "ci\twrite\t" in listed.stdout and key not in listed.stdout
    assert keys("create", "--name", "ci").returncode != 0  # names are unique
    assert keys("create", "--name", "../x").returncode == 2
    assert keys("revoke", "ci").returncode == 0
    assert "revoked" in keys("list").stdout
    assert keys("revoke", "ci").returncode == 1


def test_a_keyed_server_may_listen_beyond_loopback_and_an_insecure_one_says_so_loudly(
    tmp_path: Path,
) -> None:
    env = env_for(f"sqlite:///{tmp_path / 'bind.db'}")
    refused = subprocess.run(
        tunehub_cmd("server", "--host", "0.0.0.0", "--port", "1"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "tunehub keys create" in refused.stderr
    for flags in (["--insecure"], ["--auth"]):
        proc = subprocess.Popen(
            tunehub_cmd("server", "--host", "0.0.0.0", "--port", "0", *flags),
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        started = ""
        while "serving on" not in started and proc.poll() is None:
            started += proc.stdout.readline()  # printed once the checks let it start
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert "serving on http://0.0.0.0" in started, err
        if flags == ["--insecure"]:
            assert "INSECURE" in err and "tunehub keys create" in err
        else:
            assert "INSECURE" not in err and "API keys required" in started
    assert os.environ.get("TUNEHUB_AUTH") is None


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('guarded') / 'guarded.db'}"
    env = {"TUNEHUB_CORS_ORIGINS": "http://app.example", "TUNEHUB_MAX_BODY_BYTES": "20000"}
    with live_server(database_url, env=env) as url:
        yield url


def test_a_loopback_server_answers_only_to_loopback_host_names(guarded: str) -> None:
    port = guarded.rsplit(":", 1)[1]
    assert httpx.get(f"http://localhost:{port}/api/v1/studies").status_code == 200
    rebound = httpx.get(f"{guarded}/api/v1/studies", headers={"Host": f"evil.example:{port}"})
    assert rebound.status_code == 421 and "TUNEHUB_ALLOWED_HOSTS" in rebound.json()["detail"]


def test_cross_site_requests_pass_only_from_listed_origins(guarded: str) -> None:
    body = {"name": "origins", "space": SPACE, "objectives": [{"name": "y"}]}
    foreign = httpx.post(
        f"{guarded}/api/v1/studies", json=body, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403 and "TUNEHUB_CORS_ORIGINS" in foreign.json()["detail"]
    assert httpx.get(f"{guarded}/api/v1/studies").json()["studies"] == []  # nothing made
    same = httpx.post(f"{guarded}/api/v1/studies", json=body, headers={"Origin": guarded})
    assert same.status_code == 201
    preflight = httpx.options(
        f"{guarded}/api/v1/studies",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://app.example"
    assert "access-control-allow-credentials" not in preflight.headers


def test_a_body_over_the_limit_is_413_declared_or_streamed_and_loses_nothing(
    guarded: str,
) -> None:
    with tunehub.Client(guarded) as client:
        study = client.create_study(name="sized", space={"x": tunehub.Float(0, 1)})
        trial = study.ask()
        objective = study.info.objectives[0].name
    big = {"values": {objective: 0.5}, "metrics": {f"m{i}": float(i) for i in range(2000)}}
    tell = f"{guarded}/api/v1/trials/{trial.id}/tell"
    declared = httpx.post(tell, json=big)
    assert declared.status_code == 413 and "TUNEHUB_MAX_BODY_BYTES" in declared.json()["detail"]
    payload = json.dumps(big).encode()
    chunks = (payload[i : i + 4096] for i in range(0, len(payload), 4096))
    streamed = httpx.post(tell, content=chunks, headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert httpx.get(f"{guarded}/api/v1/trials/{trial.id}").json()["state"] == "running"
    assert httpx.post(tell, json={"values": {objective: 0.5}}).status_code == 200
