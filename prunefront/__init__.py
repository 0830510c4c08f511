"""prunefront: large-sparse or small-dense? A hardware-aware model-compression search."""

from __future__ import annotations

from prunefront.errors import PrunefrontError

__all__ = ["PrunefrontError", "__version__"]
__version__ = "0.1.0"
