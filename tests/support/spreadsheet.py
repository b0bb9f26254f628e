"""What a spreadsheet makes of a CSV cell."""

from __future__ import annotations


def is_number(cell: str) -> bool:
    """Whether the cell reads as a number (a negative one is not a formula)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True
