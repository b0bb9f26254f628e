"""Checkpoint folders: one per trial, seeded from its parent's.

A retry or a promotion is a new trial whose ``parent_id`` names the trial it
continues; copying the parent's files into the child's folder before it starts
lets the training code resume instead of starting over, and leaves the
parent's checkpoint intact for any other child. ``storage`` is a local folder
or a path on a filesystem every node mounts.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def study_dir(storage: Path, study_name: str, study_id: int) -> Path:
    """The study's folder: its name made safe for a path, and its id.

    The id keeps apart names that read alike once made safe (``a/b``, ``a_b`` and ``a+b``
    are all ``a_b``); names with ``/`` or ``..`` cannot escape ``storage``.
    """
    safe = _UNSAFE.sub("_", study_name).strip("._") or "study"
    return storage / f"{safe}-{study_id}"


def trial_dir(storage: Path, study_name: str, study_id: int, trial_id: int) -> Path:
    return study_dir(storage, study_name, study_id) / f"trial-{trial_id}"


def prepare(
    storage: Path, study_name: str, study_id: int, trial_id: int, parent_id: int | None
) -> Path:
    """Create the trial's folder, holding a copy of its parent's files when there are any."""
    folder = trial_dir(storage, study_name, study_id, trial_id)
    if folder.exists() and any(folder.iterdir()):
        return folder  # a re-run of the same trial keeps what it wrote
    folder.mkdir(parents=True, exist_ok=True)
    if parent_id is not None:
        parent = trial_dir(storage, study_name, study_id, parent_id)
        if parent.is_dir():
            shutil.copytree(parent, folder, dirs_exist_ok=True)
    return folder
