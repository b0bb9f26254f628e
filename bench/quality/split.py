"""The fixed rule that splits the problems into a development half and a held-out half.

Defaults are chosen on the development half only; the held-out half is
reported first and separately, so a claim holds on problems nobody tuned on.
Within each family, problems are ordered by a hash of their name and dealt
alternately, the first to the held-out half: each family is split evenly (an
odd one out goes to held-out), and nobody picks which problem lands where.
The ``classic`` family, the seven problems earlier defaults were chosen on,
is development as a whole: it has been tuned on already.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

DEVELOPMENT = "development"
HELD_OUT = "held-out"
HALVES = (HELD_OUT, DEVELOPMENT)
"""In the order they are reported."""

TUNED_FAMILY = "classic"

_SALT = b"tunehub-quality-split-v1:"


def _digest(name: str) -> bytes:
    return hashlib.sha256(_SALT + name.encode()).digest()


def halves(problems: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each problem's half, from its ``(name, family)``."""
    families: dict[str, list[str]] = {}
    out: dict[str, str] = {}
    for name, family in problems:
        if family == TUNED_FAMILY:
            out[name] = DEVELOPMENT
        else:
            families.setdefault(family, []).append(name)
    for names in families.values():
        for index, name in enumerate(sorted(names, key=_digest)):
            out[name] = HELD_OUT if index % 2 == 0 else DEVELOPMENT
    return out
