"""The CLI starts at once: ``--help`` and the study-reading commands load no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "optuna", "pandas", "numpy", "matplotlib", "plotly", "onnx")


def _loaded_after(code: str) -> list[str]:
    """The heavy modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_nothing_heavy() -> None:
    assert _loaded_after("import prunefront.cli") == []


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["report", "--help"], ["train", "--help"]]
)
def test_help_and_version_load_nothing_heavy(args: list[str]) -> None:
    code = (
        f"from prunefront.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) == []


def test_what_status_select_and_report_read_a_study_with_loads_no_torch() -> None:
    code = (
        "from prunefront.search import study_status\n"
        "from prunefront.studies import open_study\n"
        "from prunefront.reports import build_report, select_trial, write_report"
    )
    assert "torch" not in _loaded_after(code)


def test_constants_copied_into_the_commands_match_their_homes() -> None:
    # Copied so that the command modules load without numpy or optuna.
    from prunefront.agent import DEFAULT_PORT
    from prunefront.commands._agent import DEFAULT_PORT as COMMAND_PORT
    from prunefront.commands._options import JOURNAL_NAME as COMMAND_JOURNAL
    from prunefront.studies import JOURNAL_NAME

    assert COMMAND_PORT == DEFAULT_PORT
    assert COMMAND_JOURNAL == JOURNAL_NAME
