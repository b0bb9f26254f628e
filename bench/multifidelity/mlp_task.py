"""The real multi-fidelity task: a PyTorch MLP on scikit-learn's digits, CPU only.

Training is deterministic for a configuration (its seed is a hash of the params)
and an epoch count, and a curve is kept per configuration in this process, so
asking for more epochs continues the same run instead of starting over: what a
resumed checkpoint gives a real worker.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

_LOCK = threading.Lock()


@dataclass
class _Run:
    model: Any
    optimizer: Any
    generator: Any
    losses: list[float] = field(default_factory=list)


_RUNS: dict[str, _Run] = {}
_DATA: dict[str, Any] = {}


def _data() -> dict[str, Any]:
    if not _DATA:
        import torch
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        x, y = load_digits(return_X_y=True)
        xt, xv, yt, yv = train_test_split(x / 16.0, y, test_size=0.3, random_state=0, stratify=y)
        _DATA.update(
            xt=torch.as_tensor(xt, dtype=torch.float32),
            yt=torch.as_tensor(yt),
            xv=torch.as_tensor(xv, dtype=torch.float32),
            yv=torch.as_tensor(yv),
        )
    return _DATA


def validation_loss(params: dict[str, Any], epochs: int) -> float:
    """Cross-entropy on the held-out 30% after ``epochs`` epochs of AdamW."""
    import torch

    torch.set_num_threads(1)
    key = repr(sorted(params.items()))
    with _LOCK:
        data = _data()
        run = _RUNS.get(key)
        if run is None:
            seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
            generator = torch.Generator().manual_seed(seed)
            torch.manual_seed(seed)
            hidden = int(params["hidden"])
            model = torch.nn.Sequential(
                torch.nn.Linear(64, hidden),
                torch.nn.ReLU(),
                torch.nn.Dropout(float(params["dropout"])),
                torch.nn.Linear(hidden, 10),
            )
            optimizer = torch.optim.AdamW(
                model.parameters(),
                lr=float(params["lr"]),
                weight_decay=float(params["weight_decay"]),
            )
            run = _RUNS[key] = _Run(model, optimizer, generator)
        loss_fn = torch.nn.CrossEntropyLoss()
        while len(run.losses) < epochs:
            run.model.train()
            order = torch.randperm(len(data["xt"]), generator=run.generator)
            for batch in order.split(int(params["batch"])):
                run.optimizer.zero_grad()
                loss_fn(run.model(data["xt"][batch]), data["yt"][batch]).backward()
                run.optimizer.step()
            run.model.eval()
            with torch.no_grad():
                loss = float(loss_fn(run.model(data["xv"]), data["yv"]))
            run.losses.append(loss if loss == loss else 10.0)  # a diverged run scores 10
        return run.losses[epochs - 1]
