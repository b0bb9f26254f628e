"""Input checks shared by the flows."""

from __future__ import annotations

import json
import math
from typing import Any

from tunehub.server.errors import Invalid


def check_json_finite(value: Any, field: str) -> None:
    """Refuse NaN and infinities anywhere in a JSON value: JSON (and PostgreSQL) has none."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(
            f"{field} is {value}: JSON has no NaN or infinity; send null or a string instead",
            field=field,
        )
    if isinstance(value, dict):
        for key, item in value.items():
            check_json_finite(item, f"{field}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json_finite(item, f"{field}.{i}")


MAX_FREE_JSON_BYTES = 256 * 1024
"""The most a trial's ``metrics`` or a study's ``user_attrs`` may hold, as compact JSON:
every page of trials carries them, so one bloated trial would cost every reader."""


def check_json_size(value: Any, field: str, limit: int = MAX_FREE_JSON_BYTES) -> None:
    size = len(json.dumps(value, separators=(",", ":"), allow_nan=True))
    if size > limit:
        raise Invalid(
            f"{field} is {size} bytes of JSON: at most {limit} are kept per "
            f"{'trial' if field == 'metrics' else 'study'}; report curves with reports, and "
            "keep large artifacts in files the worker writes (checkpoint_dir)",
            field=field,
        )
