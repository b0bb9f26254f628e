"""What a trial runs: a Python function, or a command line."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entrypoint:
    """``pkg.module:function``, resolved in the process that runs the trial."""

    target: str

    def load(self) -> Callable[..., Any]:
        module_name, _, attribute = self.target.partition(":")
        if not module_name or not attribute:
            raise ValueError(
                f"entrypoint {self.target!r} is not module:function, e.g. mypkg.train:objective"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ValueError(
                f"entrypoint {self.target!r}: cannot import {module_name!r} ({error}); "
                "install it on every node or put it on PYTHONPATH"
            ) from error
        function: Any = module
        for part in attribute.split("."):
            function = getattr(function, part, None)
            if function is None:
                raise ValueError(f"entrypoint {self.target!r}: {module_name} has no {attribute!r}")
        if not callable(function):
            raise ValueError(f"entrypoint {self.target!r} is not callable")
        loaded: Callable[..., Any] = function
        return loaded


@dataclass(frozen=True)
class Command:
    """A shell command; the trial reaches it through ``TUNEHUB_*`` environment variables."""

    line: str


Work = Entrypoint | Command
