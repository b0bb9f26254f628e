"""Dockerfile and docker-compose.yml, proven without a Docker engine.

There is no engine to build or run the images, so these tests parse the two files and
run the exact commands they give (the image's CMD and HEALTHCHECK, the compose
``migrate`` and ``server`` commands) with the environment the containers would get,
from the wheel installed in a fresh venv (test_packaging.py), against a real SQLite
file and a real PostgreSQL. Only the port is rewritten to a free one, and the
database URL to a local database.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

import tunehub
from tests.integration.test_packaging import (
    REPO,
    Instruction,
    WheelVenv,
    dockerfile_instructions,
    wheel_venv_for,
)
from tests.support.postgres import create_database, free_port
from tests.support.server import BIN, live_server, wait_until_up

IMAGE_PORT = 8000
# Docker's PATH in python:3.11-slim, behind the fresh venv standing in for /usr/local.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    return wheel_venv_for(tmp_path_factory)


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return dockerfile_instructions()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


# --- reading the files --------------------------------------------------------------------


def image_env(instructions: list[Instruction]) -> dict[str, str]:
    """The ENV of the final image (``ENV K=V K2="v 2"`` and the legacy ``ENV K V``)."""
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword != "ENV":
            continue
        words = shlex.split(ins.args)
        if "=" not in words[0]:
            env[words[0]] = ins.args.split(None, 1)[1]
            continue
        for word in words:
            key, _, value = word.partition("=")
            assert "$" not in value, f"ENV {key}: keep values literal so tests can read them"
            env[key] = value
    return env


def one(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"the Dockerfile needs exactly one {keyword}, has {len(found)}"
    return found[0]


def image_cmd(instructions: list[Instruction]) -> list[str]:
    cmd = json.loads(one(instructions, "CMD").args)
    assert isinstance(cmd, list), "CMD must be in JSON exec form"
    return [str(c) for c in cmd]


def healthcheck_cmd(instructions: list[Instruction]) -> list[str]:
    options, _, cmd = one(instructions, "HEALTHCHECK").args.partition("CMD ")
    assert all(o.startswith("--") for o in options.split()), options
    parsed = json.loads(cmd)
    assert isinstance(parsed, list), "HEALTHCHECK CMD must be in JSON exec form"
    return [str(c) for c in parsed]


def compose_command(service: dict[str, Any]) -> list[str]:
    """Compose splits a string command shell-like, without running a shell."""
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def with_port(words: list[str], port: int) -> list[str]:
    """Rewrite the one ``--port 8000`` (in an argument list or inside a ``sh -c`` string)."""
    rewritten, count = [], 0
    pattern = re.compile(rf"--port(=|\s+){IMAGE_PORT}\b")
    for word in words:
        new, n = pattern.subn(lambda m: f"--port{m.group(1)}{port}", word)
        rewritten.append(new)
        count += n
    for i, word in enumerate(words[:-1]):
        if word == "--port" and words[i + 1] == str(IMAGE_PORT):
            rewritten[i + 1] = str(port)
            count += 1
    assert count == 1, f"expected one --port {IMAGE_PORT} in {words}"
    return rewritten


def container_env(venv: WheelVenv, home: Path, *layers: dict[str, str]) -> dict[str, str]:
    """A container's environment: nothing from the host, the fresh venv first on PATH."""
    env = {"PATH": f"{venv.bin}:{SYSTEM_PATH}", "HOME": str(home), "LANG": "C.UTF-8"}
    for layer in layers:
        env.update(layer)
    return env


# --- running them -------------------------------------------------------------------------


@contextmanager
def serving(cmd: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[str]:
    """Run a server command; yield its loopback URL once /api/v1/health answers."""
    log = cwd / f"server-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_up(url, proc, timeout=90)
            except RuntimeError as error:
                raise AssertionError(f"{error}\n{log.read_text(errors='replace')}") from None
            yield url
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # uvicorn shuts its worker processes down
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever this server left in its session
    proc.wait()


def run_to_end(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{shlex.join(cmd)} did not exit:\n{out}\n{err}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def secrets_for(compose: dict[str, Any], folder: Path) -> dict[str, str]:
    """Compose mounts each secret at /run/secrets/NAME: here a file in ``folder`` holding a
    new key, as `tunehub keys generate > tunehub_admin_key` makes it. Maps each path a
    container sees to the key in it."""
    folder.mkdir(exist_ok=True)
    keys: dict[str, str] = {}
    for name, secret in compose["secrets"].items():
        assert Path(secret["file"]).name == name, "a secret's file is named like the secret"
        made = subprocess.run(
            [str(BIN / "tunehub"), "keys", "generate"], capture_output=True, text=True, check=True
        )
        (folder / name).write_text(made.stdout)
        keys[f"/run/secrets/{name}"] = made.stdout.strip()
    return keys


def with_secrets(env: dict[str, str], keys: dict[str, str], folder: Path) -> dict[str, str]:
    """``env`` with every /run/secrets/NAME path pointing at the file in ``folder``."""
    return {k: str(folder / Path(v).name) if v in keys else v for k, v in env.items()}


def create_study_and_ask(url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        created = http.post(
            "/api/v1/studies",
            json={
                "name": f"container-{uuid.uuid4().hex[:8]}",
                "space": {"x": {"type": "float", "low": 0, "high": 1}},
                "objectives": [{"name": "loss", "direction": "minimize"}],
                "policy": {"name": "random", "options": {}},
                "seed": 0,
            },
        )
        assert created.status_code == 201, created.text
        asked = http.post(
            f"/api/v1/studies/{created.json()['id']}/ask",
            json={"count": 1, "worker": "container-test", "request_id": uuid.uuid4().hex},
        )
        assert asked.status_code == 200, asked.text
        (trial,) = asked.json()["trials"]
        assert trial["number"] == 0
        assert 0 <= trial["params"]["x"] <= 1


def healthcheck(cmd: list[str], env: dict[str, str], cwd: Path, port: int) -> int:
    url = f"http://127.0.0.1:{IMAGE_PORT}/"
    assert sum(url in word for word in cmd) == 1, f"the HEALTHCHECK should ask {url}: {cmd}"
    cmd = [word.replace(url, f"http://127.0.0.1:{port}/") for word in cmd]
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, timeout=30)
    return done.returncode


# --- the Dockerfile -----------------------------------------------------------------------


def test_dockerfile_installs_the_project_as_the_readme_says(dockerfile: list[Instruction]) -> None:
    assert one(dockerfile, "FROM").args == "python:3.11-slim"
    args = dict(i.args.split("=", 1) for i in dockerfile if i.keyword == "ARG")
    assert args["EXTRAS"] == "server"
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    runs = [i.args for i in dockerfile if i.keyword == "RUN"]
    torch = next(k for k, r in enumerate(runs) if "torch==" in r)
    project = next(k for k, r in enumerate(runs) if '".[${EXTRAS}]"' in r)
    assert torch < project, "torch must be installed (pinned, CPU) before the project"
    assert 'pip install --index-url "${TORCH_INDEX_URL}" torch==' in runs[torch]
    pins = set(re.findall(r"torch==[\w.]+", (REPO / "Makefile").read_text()))
    assert re.findall(r"torch==[\w.]+", runs[torch]) == sorted(pins), "the Makefile's torch pin"
    assert runs[project].startswith('pip install ".[${EXTRAS}]"'), "a non-editable install"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert {"server", "workers"} <= set(extras["optional-dependencies"])

    keywords = [i.keyword for i in dockerfile]
    user = one(dockerfile, "USER").args
    assert user not in ("root", "0"), "the server must not run as root"
    assert keywords.index("USER") > max(k for k, w in enumerate(keywords) if w == "RUN")
    assert one(dockerfile, "EXPOSE").args == str(IMAGE_PORT)


def test_image_cmd_migrates_and_serves_sqlite_in_the_volume(
    dockerfile: list[Instruction], wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    env = image_env(dockerfile)
    (volume,) = json.loads(one(dockerfile, "VOLUME").args)
    url = env["TUNEHUB_DATABASE_URL"]
    assert url.startswith(f"sqlite:///{volume}/"), f"the database should live in {volume}"
    assert dockerfile[-1].keyword == "CMD"
    workdir = [i.args for i in dockerfile if i.keyword == "WORKDIR"][-1]
    assert workdir == volume, "relative paths (and ./tunehub.db) should land in the volume"

    # The volume is a temporary folder here; the port a free loopback one.
    data = tmp_path / "data"
    data.mkdir()
    env["TUNEHUB_DATABASE_URL"] = url.replace(f"sqlite:///{volume}/", f"sqlite:///{data}/")
    port = free_port()
    cmd = image_cmd(dockerfile)
    assert cmd[:2] == ["sh", "-c"] and "--auth" in cmd[2] and "0.0.0.0" in cmd[2]
    assert "--insecure" not in cmd[2]
    # `tunehub keys generate > tunehub_admin_key`, mounted and named in
    # TUNEHUB_ADMIN_KEY_FILE, as the README's `docker run` does.
    key_file = tmp_path / "tunehub_admin_key"
    with open(key_file, "w") as out:
        subprocess.run([str(BIN / "tunehub"), "keys", "generate"], stdout=out, check=True)
    key = key_file.read_text().strip()
    env = container_env(wheel_venv, tmp_path, env, {"TUNEHUB_ADMIN_KEY_FILE": str(key_file)})
    check = healthcheck_cmd(dockerfile)

    with serving(with_port(cmd, port), env, data, port) as base:
        assert httpx.get(f"{base}/api/v1/studies").status_code == 401
        create_study_and_ask(base, key)
        assert healthcheck(check, env, data, port) == 0
    assert (data / Path(urlsplit(url).path).name).is_file()
    assert healthcheck(check, env, data, port) != 0, "the HEALTHCHECK passes with no server"


# --- docker-compose.yml -------------------------------------------------------------------


def test_compose_migrate_then_server_on_postgresql(
    compose: dict[str, Any],
    dockerfile: list[Instruction],
    wheel_venv: WheelVenv,
    postgres_prefix: str,
    tmp_path: Path,
) -> None:
    services = compose["services"]
    migrate, server, postgres = services["migrate"], services["server"], services["postgres"]

    # The URL the services use points at the postgres service, with its credentials.
    url = migrate["environment"]["TUNEHUB_DATABASE_URL"]
    assert server["environment"]["TUNEHUB_DATABASE_URL"] == url
    parts, pg_env = urlsplit(url), postgres["environment"]
    assert parts.scheme == "postgresql" and parts.hostname == "postgres" and parts.port == 5432
    assert (parts.username, parts.password) == (
        pg_env["POSTGRES_USER"],
        pg_env["POSTGRES_PASSWORD"],
    )
    assert parts.path == f"/{pg_env['POSTGRES_DB']}"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert server["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert server["ports"] == [f"127.0.0.1:{IMAGE_PORT}:{IMAGE_PORT}"]

    database = create_database(postgres_prefix, f"compose_{uuid.uuid4().hex[:12]}")
    cwd = tmp_path / "data"
    cwd.mkdir()
    keys = secrets_for(compose, tmp_path / "secrets")

    def service_env(service: dict[str, Any]) -> dict[str, str]:
        environment = {**service["environment"], "TUNEHUB_DATABASE_URL": database}
        return container_env(
            wheel_venv,
            tmp_path,
            image_env(dockerfile),
            with_secrets(environment, keys, tmp_path / "secrets"),
        )

    port = free_port()
    server_cmd = with_port(compose_command(server), port)
    assert server_cmd[:2] == ["tunehub", "server"] and "--auth" in server_cmd
    assert "--insecure" not in server_cmd
    admin = keys[server["environment"]["TUNEHUB_ADMIN_KEY_FILE"]]
    write = keys[server["environment"]["TUNEHUB_WRITE_KEY_FILE"]]
    assert set(server["secrets"]) == {Path(p).name for p in keys}

    # Started before `migrate` ran, the server refuses and says what to run.
    refused = run_to_end(server_cmd, service_env(server), cwd)
    assert refused.returncode != 0
    assert "tunehub db upgrade" in refused.stderr, refused.stderr

    migrated = run_to_end(compose_command(migrate), service_env(migrate), cwd)
    assert migrated.returncode == 0, migrated.stderr

    with serving(server_cmd, service_env(server), cwd, port) as base:
        assert httpx.get(f"{base}/api/v1/studies").status_code == 401
        create_study_and_ask(base, write)
        create_study_and_ask(base, admin)
        listed = httpx.get(f"{base}/api/v1/keys", headers={"Authorization": f"Bearer {admin}"})
        assert {k["scope"] for k in listed.json()["keys"]} == {"admin", "write"}
        # The Ray nodes reach the server by its service name, which it answers to.
        port_host = {"Host": f"server:{IMAGE_PORT}", "Authorization": f"Bearer {write}"}
        assert httpx.get(f"{base}/api/v1/studies", headers=port_host).status_code == 200
        rebound = {"Host": f"attacker.example:{IMAGE_PORT}", "Authorization": f"Bearer {write}"}
        assert httpx.get(f"{base}/api/v1/studies", headers=rebound).status_code == 421


def test_compose_services_and_the_ray_cluster(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "server", "ray-head", "ray-worker"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "healthcheck" in services["postgres"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = extras["optional-dependencies"]
    for name, extra in [
        ("migrate", "server"),
        ("server", "server"),
        ("ray-head", "workers,examples"),
    ]:
        build = services[name]["build"]
        assert build["context"] == "." and build["args"]["EXTRAS"] == extra, name
        assert set(extra.split(",")) <= set(extras), f"{name}: no such extra in pyproject"
    assert services["ray-worker"]["image"] == services["ray-head"]["image"]
    assert services["migrate"]["image"] == services["server"]["image"]
    assert services["ray-head"]["image"] != services["server"]["image"]
    assert any(dep.startswith("ray[") for dep in extras["workers"]), "the ray CLI"

    # Both nodes start Ray, the worker node joins the head and gets the GPUs; the head
    # also runs `tunehub worker` (its command runs for real in the next test).
    head, worker = services["ray-head"], services["ray-worker"]
    assert compose_command(head)[:2] == ["sh", "-c"]
    assert compose_command(head)[2].startswith("ray start --head --port=6379")
    assert compose_command(worker)[:2] == ["ray", "start"]
    assert "--address=ray-head:6379" in compose_command(worker)
    assert head["volumes"] == worker["volumes"], "every node sees the code and checkpoints"
    assert worker["environment"]["TUNEHUB_URL"] == f"http://server:{IMAGE_PORT}"
    # The nodes run trial code: they hold the write key, never the admin key.
    for node in (head, worker):
        assert node["secrets"] == ["tunehub_write_key"]
        assert node["environment"]["TUNEHUB_API_KEY_FILE"] == "/run/secrets/tunehub_write_key"
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]


def test_compose_ray_head_starts_ray_and_runs_the_example_study(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """The head's exact command, with the GCS port, checkpoint volume and server URL local.

    The working directory is the repository, which compose mounts as /app/examples.
    """
    words = compose_command(compose["services"]["ray-head"])
    port = free_port()
    script = words[2]
    for old, new in [
        ("--port=6379", f"--port={port}"),
        ("--storage /checkpoints", f"--storage {tmp_path / 'checkpoints'}"),
    ]:
        assert script.count(old) == 1, f"expected {old!r} once in {script}"
        script = script.replace(old, new)
    log = tmp_path / "ray-head.log"
    keys = secrets_for(compose, tmp_path / "secrets")
    server = compose["services"]["server"]["environment"]
    secret = {k: v for k, v in server.items() if k.endswith("_KEY_FILE")}  # as compose has it
    server_env = with_secrets(secret, keys, tmp_path / "secrets")
    head_env = with_secrets(
        {k: str(v) for k, v in compose["services"]["ray-head"]["environment"].items()},
        keys,
        tmp_path / "secrets",
    )
    with (
        live_server(f"sqlite:///{tmp_path / 'tunehub.db'}", env=server_env) as url,
        open(log, "wb") as out,
    ):
        env = {
            **os.environ,
            **head_env,
            "TUNEHUB_URL": url,
            "PATH": f"{BIN}:{os.environ['PATH']}",
        }
        proc = subprocess.Popen(
            [*words[:2], script],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with tunehub.Client(url, token=keys["/run/secrets/tunehub_admin_key"]) as client:
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and proc.poll() is None:
                    if any(s.name == "mlp-digits" for s in client.list_studies()):
                        study = client.get_study("mlp-digits")
                        if len(study.trials(tunehub.TrialState.COMPLETED)) >= 2:
                            break
                    time.sleep(1)
                else:
                    raise AssertionError(log.read_text(errors="replace"))
                os.killpg(proc.pid, signal.SIGTERM)  # `docker compose stop`
                assert proc.wait(timeout=120) == 0, log.read_text(errors="replace")
                running = study.trials(tunehub.TrialState.RUNNING)
                assert not running, running
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True, timeout=120)
    (folder,) = (tmp_path / "checkpoints").glob("mlp-digits-*")  # the study's name and id
    assert any(folder.iterdir())
