"""HEBO's suggest/observe loop in its own virtualenv, spoken to over stdin and stdout.

HEBO pins numpy below 1.25, which the rest of the project has left behind, so
it lives in ``.venv-hebo`` and this script is all that runs there: it imports
nothing from the project. One JSON object per line each way:

- first line in: ``{"space": {...}, "seed": 0}`` (the space in Tunehub's format);
- ``{"op": "suggest"}`` in, ``{"params": {...}}`` out;
- ``{"op": "observe", "params": {...}, "value": 1.5}`` in, ``{"ok": true}`` out.

Conditional parameters are suggested always (HEBO has no conditions); the
harness drops the inactive ones before evaluating.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any


def design(space: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name, spec in space.items():
        kind, log = spec["type"], spec.get("log", False)
        if kind == "categorical":
            out.append(
                {"name": name, "type": "cat", "categories": [str(c) for c in spec["choices"]]}
            )
        elif kind == "int":
            out.append(
                {
                    "name": name,
                    "type": "pow_int" if log else "int",
                    "lb": spec["low"],
                    "ub": spec["high"],
                }
            )
        else:
            out.append(
                {
                    "name": name,
                    "type": "pow" if log else "num",
                    "lb": spec["low"],
                    "ub": spec["high"],
                }
            )
    return out


def plain(space: dict[str, dict[str, Any]], row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        spec = space[name]
        if spec["type"] == "categorical":
            out[name] = next(c for c in spec["choices"] if str(c) == str(value))
        elif spec["type"] == "int":
            out[name] = int(min(max(round(float(value)), spec["low"]), spec["high"]))
        else:
            out[name] = float(min(max(float(value), spec["low"]), spec["high"]))
    return out


def main() -> None:
    # Replies go out on a copy of stdout; whatever HEBO or its libraries print (even
    # from C) goes to stderr through fd 1, and never into the protocol.
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    import numpy as np
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    setup = json.loads(sys.stdin.readline())
    space = setup["space"]
    np.random.seed(setup["seed"])
    torch.manual_seed(setup["seed"])
    optimizer = HEBO(DesignSpace().parse(design(space)), scramble_seed=setup["seed"])
    pending: Any = None
    for line in sys.stdin:
        message = json.loads(line)
        if message["op"] == "suggest":
            pending = optimizer.suggest(n_suggestions=1)
            row = pending.iloc[0].to_dict()
            reply: dict[str, Any] = {"params": plain(space, row)}
        else:
            value = float(message["value"])
            y = np.array([[value if math.isfinite(value) else 1e30]])
            optimizer.observe(pending, y)
            reply = {"ok": True}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
