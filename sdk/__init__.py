"""Tunehub SDK: ``Client``, ``Study``, ``Trial`` and the search-space types.

Light on purpose (httpx and pydantic): a training script talks to the service
without importing torch, SQLAlchemy or Ray.
"""

from tunehub.client import Client
from tunehub.current import current_trial
from tunehub.errors import (
    ConflictError,
    InvalidError,
    NotFoundError,
    NothingToRun,
    ServerUnavailable,
    TrialPruned,
    TunehubError,
)
from tunehub.schema import Decision, Direction, TrialOut, TrialState
from tunehub.space import Categorical, Float, Int
from tunehub.study import Study, Trial

__version__ = "0.1.0"

__all__ = [
    "Categorical",
    "Client",
    "ConflictError",
    "Decision",
    "Direction",
    "Float",
    "Int",
    "InvalidError",
    "NotFoundError",
    "NothingToRun",
    "ServerUnavailable",
    "Study",
    "Trial",
    "TrialOut",
    "TrialPruned",
    "TrialState",
    "TunehubError",
    "__version__",
    "current_trial",
]
