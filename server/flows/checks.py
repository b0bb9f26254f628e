"""Input checks shared by the flows."""

from __future__ import annotations

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
