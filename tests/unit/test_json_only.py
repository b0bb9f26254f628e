"""Client input is read as JSON only: no module of the package can unpickle, eval or
load YAML (the ways a crafted request becomes code)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = [ROOT / "sdk", ROOT / "server", ROOT / "workers"]
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}
UNSAFE_YAML = {"load", "unsafe_load", "full_load", "load_all", "unsafe_load_all"}


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names if a.name in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in UNSAFE_MODULES:
            found.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in UNSAFE_BUILTINS:
                found.append(f"{where} calls {func.id}()")
            if (
                isinstance(func, ast.Attribute)
                and func.attr in UNSAFE_YAML
                and isinstance(func.value, ast.Name)
                and func.value.id == "yaml"
            ):
                found.append(f"{where} calls yaml.{func.attr}()")
    return found


def test_no_module_unpickles_evals_or_loads_yaml() -> None:
    files = [p for folder in PACKAGE for p in folder.rglob("*.py")]
    assert len(files) > 50
    assert [f for path in files for f in _findings(path)] == []


def test_the_scan_finds_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("import pickle\nimport yaml\nyaml.load(x)\neval('1')\nmodel.eval()\n")
    found = _findings(bad)
    assert len(found) == 3 and not any("model" in f for f in found)
