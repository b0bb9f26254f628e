"""The trial a script runs, when ``tunehub worker --command`` started it.

The worker passes the trial through the environment, so a training script in
any framework reads its parameters and reports without knowing about Ray:
``TUNEHUB_TRIAL_ID``, ``TUNEHUB_PARAMS`` (JSON), ``TUNEHUB_URL``,
``TUNEHUB_CHECKPOINT_DIR`` (and ``TUNEHUB_API_KEY`` when auth is on).
"""

from __future__ import annotations

import os
from pathlib import Path

from tunehub.client import Client
from tunehub.schema import TrialOut
from tunehub.study import Trial

TRIAL_ID = "TUNEHUB_TRIAL_ID"
PARAMS = "TUNEHUB_PARAMS"
CHECKPOINT_DIR = "TUNEHUB_CHECKPOINT_DIR"


def current_trial(client: Client | None = None) -> Trial:
    """This process's trial; report to it and tell it as to any other.

    Its worker heartbeats it, so the script need not.
    """
    trial_id = os.environ.get(TRIAL_ID, "")
    if not trial_id.isdigit():
        raise RuntimeError(
            f"{TRIAL_ID} is not set: current_trial() is for scripts that "
            '`tunehub worker --command "python train.py"` runs'
        )
    client = client or Client()
    info = TrialOut.model_validate(client.request("GET", f"/trials/{trial_id}"))
    trial = Trial(client.get_study(info.study_id), info)
    if os.environ.get(CHECKPOINT_DIR):
        trial.checkpoint_dir = Path(os.environ[CHECKPOINT_DIR])
    return trial
