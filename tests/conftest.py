"""Shared fixtures: databases (real SQLite and a throwaway PostgreSQL) and live servers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import tunehub
from tests.support.postgres import create_database, postgres_server
from tests.support.server import live_server, upgrade

DATABASES = ["sqlite", "postgres"]
_db_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_prefix() -> Iterator[str]:
    with postgres_server() as prefix:
        yield prefix


def _new_database(kind: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / f'tunehub{next(_db_counter)}.db'}"
    prefix: str = request.getfixturevalue("postgres_prefix")
    return create_database(prefix, f"t{next(_db_counter)}")


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    return _new_database(request.param, request, tmp_path)


@pytest.fixture
def server_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A live server on a fresh database (PostgreSQL is upgraded first, as users must)."""
    if database_url.startswith("postgresql"):
        upgrade(database_url)
    with live_server(database_url, log=tmp_path / "server.log") as url:
        yield url


@pytest.fixture(scope="module", params=DATABASES)
def shared_server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One live server per module and database kind; tests use their own study names."""
    folder = tmp_path_factory.mktemp("db")
    url = _new_database(request.param, request, folder)
    if url.startswith("postgresql"):
        upgrade(url)
    with live_server(url, log=folder / "server.log") as base:
        yield base


@pytest.fixture
def client(server_url: str) -> Iterator[tunehub.Client]:
    with tunehub.Client(server_url, max_retry_seconds=10) as c:
        yield c
