"""``python -m prunefront``: the same as the ``prunefront`` console script."""

from __future__ import annotations

from prunefront.cli import main

main()
