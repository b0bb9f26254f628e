"""A training script run by `tunehub worker --command`: tells itself, or prints its value."""

from __future__ import annotations

import json
import os

import tunehub

params = json.loads(os.environ["TUNEHUB_PARAMS"])
x = float(params["x"])
if x < 0.5:
    trial = tunehub.current_trial()
    trial.report(0, x + 1.0)
    assert trial.checkpoint_dir is not None and trial.checkpoint_dir.is_dir()
    trial.tell(x, metrics={"told_by": "script"})
else:
    print("training...")
    print(x * 10)
