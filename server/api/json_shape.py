"""JSON the server stores must be JSON it can always serve again.

Free-form fields (``metrics``, ``user_attrs``, policy options) take any JSON, but
a document nested hundreds of levels deep parses and stores fine, then fails every
serialization; a string with an unpaired surrogate (``"\\ud800"``, valid JSON
escape syntax) is not Unicode, and fails the database or the answer. Both are
refused when a body arrives, naming the field; ``servable`` guards reads of
anything stored before that.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 32
"""Nesting levels of objects and arrays in a request body."""


class ShapeError(ValueError):
    """A JSON value the server will not store; ``field`` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_shape(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise ``ShapeError`` for nesting past ``max_depth`` or a string that is not Unicode.

    Iterative, so a body nested deeper than Python's recursion limit is refused too.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
            continue
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if len(path) >= max_depth:
            raise ShapeError(
                _dotted(path),
                f"nested more than {max_depth} levels deep: flatten it (e.g. join keys with dots)",
            )
        for key, child in children:
            if isinstance(key, str):
                _check_text(key, (*path, key))
            stack.append((child, (*path, str(key))))


def servable(value: Any) -> Any:
    """``value``, or a note in its place when it could not be served (stored by an older
    server, before bodies were checked): one bad row must not fail a whole page."""
    try:
        check_shape(value)
    except ShapeError as error:
        return {"unservable": f"{error.field}: {error}"}
    return value


def _check_text(text: str, path: tuple[str, ...]) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ShapeError(
            _dotted(path),
            "contains an unpaired UTF-16 surrogate (e.g. \\ud800), which is not Unicode "
            "text: send valid UTF-8",
        ) from None


def _dotted(path: tuple[str, ...], shown: int = 6) -> str:
    parts = [p[:40] for p in path[:shown]]
    return ".".join(parts) + (".…" if len(path) > shown else "")
