"""prunefront: large-sparse or small-dense? A hardware-aware model-compression search.

``import prunefront`` stays light (the device agent needs no torch); the notebook entry points
load on first use: ``prunefront.train_candidate``, ``prunefront.Candidate``,
``prunefront.PruningSettings`` and ``prunefront.search.run``.
"""

from __future__ import annotations

from typing import Any

from prunefront.errors import PrunefrontError

__all__ = ["Candidate", "PrunefrontError", "PruningSettings", "__version__", "train_candidate"]
__version__ = "0.1.0"

_FROM_CANDIDATE = ("Candidate", "PruningSettings", "train_candidate")


def __getattr__(name: str) -> Any:
    if name in _FROM_CANDIDATE:
        from prunefront import candidate

        return getattr(candidate, name)
    raise AttributeError(f"module 'prunefront' has no attribute {name!r}")
