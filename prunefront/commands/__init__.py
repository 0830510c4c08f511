"""The CLI's commands, one module per command: parse the options, call the library, print.

``prunefront.cli`` registers them on its typer app. Importing this package imports typer and
rich but no torch, optuna, pandas or numpy: each command loads what it needs when it runs, so
``prunefront --help``, ``status``, ``select`` and ``report`` start at once.
"""

from __future__ import annotations

from prunefront.commands._agent import agent
from prunefront.commands._doctor import doctor
from prunefront.commands._export import export
from prunefront.commands._footprint import footprint
from prunefront.commands._profile import profile
from prunefront.commands._report import report
from prunefront.commands._reprofile import reprofile
from prunefront.commands._schedule import schedule
from prunefront.commands._search import search
from prunefront.commands._select import select
from prunefront.commands._status import status
from prunefront.commands._train import train

__all__ = [
    "agent",
    "doctor",
    "export",
    "footprint",
    "profile",
    "report",
    "reprofile",
    "schedule",
    "search",
    "select",
    "status",
    "train",
]
