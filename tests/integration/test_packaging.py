"""The wheel, built from the Docker build context and installed non-editable in a fresh venv.

The Dockerfile copies a few paths (filtered by .dockerignore) and runs ``pip install``
on them; these tests build the wheel from exactly that context, install it with
``--no-deps`` into a new virtual environment and prove that it works there on its own.

The dependencies come from the repository's .venv through a ``.pth`` file that appends
its site-packages as a plain path: ``.pth`` files inside an appended directory are not
processed, so the editable install of the repository stays inactive, and every
``tunehub`` module must come from the wheel.

``wheel_venv_for`` is shared with test_container_files.py (built once per session).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# What a training script must never pay for when it only imports the SDK.
SERVER_SIDE = {
    "alembic",
    "botorch",
    "fastapi",
    "gpytorch",
    "numpy",
    "psycopg",
    "ray",
    "scipy",
    "sqlalchemy",
    "starlette",
    "torch",
    "uvicorn",
}


# --- the Dockerfile and its build context -------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions of a Dockerfile: comments dropped, continuation lines joined."""
    found: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and pending):
            continue  # Docker drops comment lines, also inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            found.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{path.name} ends inside a continued instruction"
    return found


def copy_sources(instructions: list[Instruction]) -> list[str]:
    """The context paths the COPY instructions take, each copied to the same relative path."""
    sources: list[str] = []
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        assert ins.keyword == "COPY", "use COPY, not ADD, for files of the build context"
        words = json.loads(ins.args) if ins.args.startswith("[") else shlex.split(ins.args)
        words = [w for w in words if not w.startswith("--")]
        *srcs, dest = words
        for src in srcs:
            name = src.rstrip("/")
            assert dest in ("./", ".") or dest.rstrip("/") == name, (
                f"COPY {src} {dest}: the build expects the repository layout under WORKDIR"
            )
            sources.append(name)
    return sources


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus ``**``) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + f"[{pattern[i + 1 : end]}]", end + 1  # same syntax: [abc] [^a-z]
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(f"^{out}$")


def dockerignore_rules(path: Path = DOCKERIGNORE) -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, pattern) in file order; the last rule that matches a path wins."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((not include, _glob_regex(pattern)))
    return rules


def is_ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: a pattern matches a path when it matches the path or one of its parents."""
    parts = relative.split("/")
    candidates = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    ignored = False
    for exclude, regex in rules:
        if any(regex.match(c) for c in candidates):
            ignored = exclude
    return ignored


def docker_context(dest: Path) -> list[str]:
    """Copy what the Dockerfile's COPY instructions would see to ``dest``; the files copied."""
    rules = dockerignore_rules()
    copied: list[str] = []
    for source in copy_sources(dockerfile_instructions()):
        path = REPO / source
        assert path.exists(), f"the Dockerfile copies {source}, which does not exist"
        assert not is_ignored(source, rules), f".dockerignore keeps {source} out of the context"
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            if is_ignored(relative, rules):
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
            copied.append(relative)
    return copied


# --- the wheel and the fresh venv ---------------------------------------------------------


@dataclass(frozen=True)
class WheelVenv:
    wheel: Path
    context_files: tuple[str, ...]
    root: Path
    bin: Path
    python: Path
    site_packages: Path

    def run(self, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run Python code in the fresh venv (from a directory with nothing importable)."""
        return subprocess.run(
            [str(self.python), "-c", textwrap.dedent(code)],
            cwd=self.root,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def clean_env() -> dict[str, str]:
    """The test's environment without anything that could put the repository on sys.path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TUNEHUB_"))}
    env.pop("VIRTUAL_ENV", None)
    return env


_built: dict[str, WheelVenv] = {}


def wheel_venv_for(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    """The wheel installed in a fresh venv, built once per test session."""
    if "venv" not in _built:
        _built["venv"] = _build_wheel_venv(tmp_path_factory.mktemp("wheel-venv"))
    return _built["venv"]


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{shlex.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"


def _build_wheel_venv(root: Path) -> WheelVenv:
    context, dist, venv = root / "context", root / "dist", root / "venv"
    files = docker_context(context)
    # No build isolation: the build backend comes from the test's own environment.
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), "."],
        context,
    )
    (wheel,) = dist.glob("tunehub-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    ).stdout.strip()
    deps = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))
    (Path(site) / "zz_tunehub_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    return WheelVenv(wheel, tuple(files), root, venv / "bin", python, Path(site))


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    return wheel_venv_for(tmp_path_factory)


def _package_roots() -> dict[str, str]:
    """Source folder -> path inside the wheel, from pyproject.toml's package-dir."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_dir: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return {src.rstrip("/"): pkg.replace(".", "/") for pkg, src in package_dir.items()}


# --- the tests ----------------------------------------------------------------------------


def test_the_build_context_holds_only_what_the_build_needs(wheel_venv: WheelVenv) -> None:
    tops = {f.split("/")[0] for f in wheel_venv.context_files}
    assert tops == {"pyproject.toml", "README.md", *_package_roots()}
    junk = [f for f in wheel_venv.context_files if "__pycache__" in f or f.endswith(".pyc")]
    assert not junk, f".dockerignore lets these into the image: {junk}"


def test_wheel_ships_every_source_file_and_the_migrations(wheel_venv: WheelVenv) -> None:
    names = set(zipfile.ZipFile(wheel_venv.wheel).namelist())
    assert "tunehub/migrations/script.py.mako" in names
    assert "tunehub/migrations/env.py" in names
    versions = [n for n in names if re.fullmatch(r"tunehub/migrations/versions/\w+\.py", n)]
    assert "tunehub/migrations/versions/__init__.py" in versions
    assert len(versions) >= 2, f"no migration scripts in the wheel: {sorted(names)}"
    assert "tunehub/py.typed" in names

    # Every file of the package folders must land in the wheel: a subpackage missing from
    # pyproject's `packages`, or a data file missing from `package-data`, fails here.
    roots = _package_roots()
    expected = set()
    for file in wheel_venv.context_files:
        top, _, rest = file.partition("/")
        if top in roots:
            expected.add(f"{roots[top]}/{rest}")
    missing = sorted(expected - names)
    assert not missing, (
        f"not in the wheel (add them to pyproject.toml's packages or package-data): {missing}"
    )


def test_every_module_imports_from_the_installed_wheel(wheel_venv: WheelVenv) -> None:
    done = wheel_venv.run(
        """
        import importlib, json, pkgutil, traceback
        import tunehub

        found, failed, files = [], {}, []
        for info in pkgutil.walk_packages(tunehub.__path__, "tunehub."):
            if info.name == "tunehub.migrations.env":
                continue  # Alembic's env.py runs the migrations when imported
            found.append(info.name)
            try:
                module = importlib.import_module(info.name)
            except Exception:
                failed[info.name] = traceback.format_exc()
                continue
            files.append((info.name, module.__file__))
        print(json.dumps({"root": tunehub.__file__, "found": found, "failed": failed,
                          "files": files}))
        """
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    site = str(wheel_venv.site_packages)
    assert result["root"].startswith(site), (
        f"tunehub came from {result['root']}, not the wheel in {site}"
    )
    assert not result["failed"], "\n".join(result["failed"].values())
    for package in ("tunehub.server", "tunehub.workers", "tunehub.migrations"):
        assert package in result["found"]
    assert "tunehub.server.api.app" in result["found"]
    elsewhere = [(name, file) for name, file in result["files"] if not file.startswith(site)]
    assert not elsewhere, f"imported from outside the wheel: {elsewhere}"


def test_importing_the_sdk_stays_light(wheel_venv: WheelVenv) -> None:
    done = wheel_venv.run(
        """
        import json, pkgutil, sys
        import tunehub
        after_package = sorted(sys.modules)
        # The SDK's own modules (not the server, workers or migrations subpackages) too.
        for info in pkgutil.iter_modules(tunehub.__path__, "tunehub."):
            if not info.ispkg:
                __import__(info.name)
        print(json.dumps({"package": after_package, "sdk": sorted(sys.modules)}))
        """
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    for what, modules in result.items():
        heavy = sorted({m.split(".")[0] for m in modules} & SERVER_SIDE)
        assert not heavy, f"importing the {what} imports {heavy}"
        inner = [m for m in modules if m.startswith(("tunehub.server", "tunehub.workers"))]
        assert not inner, f"importing the {what} imports {inner}"


MODEL_LIBRARIES = {"botorch", "gpytorch", "sklearn", "torch"}


def test_the_server_app_starts_without_the_model_libraries(wheel_venv: WheelVenv) -> None:
    """Every server start (and every test server) would pay seconds for them otherwise."""
    done = wheel_venv.run(
        """
        import json, sys
        import tunehub.server.api.app
        print(json.dumps(sorted(sys.modules)))
        """
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.splitlines()[-1])
    heavy = sorted({m.split(".")[0] for m in modules} & MODEL_LIBRARIES)
    assert not heavy, f"importing the server app imports {heavy}"


def test_installed_command_line_runs(wheel_venv: WheelVenv) -> None:
    script = wheel_venv.bin / "tunehub"
    assert script.read_text().splitlines()[0] == f"#!{wheel_venv.python}"
    done = subprocess.run(
        [str(script), "--help"],
        cwd=wheel_venv.root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "server" in done.stdout and "db" in done.stdout
