"""Fakes and tiny tasks for tests: prunefront's own and its users'.

Everything here is deterministic and fast enough for a unit-test suite on a two-core CI box. The
tiny tasks are complete ``Task`` implementations on seeded synthetic data, one per kind of
prunable layer (Linear; Conv1d + Linear; Embedding + LSTM + Linear), each training in well under
a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prunefront.agent import AdbResult, AgentClient, ReplayedAdb
from prunefront.sensors import write_battery_tree, write_hwmon_device, write_ina3221_tree
from prunefront.tasks import TinyConvTask, TinyLstmTask, TinyTask
from prunefront.testing._fake_gpu import FakeGpu, FakePynvml, fake_cuda
from prunefront.testing._replay import (
    FakeClock,
    NvmlSample,
    ReplayedNvml,
    deny_reading,
    nvml_trace,
    write_rapl_tree,
)

__all__ = [
    "AdbResult",
    "AgentProcess",
    "FakeClock",
    "FakeGpu",
    "FakePynvml",
    "NvmlSample",
    "ReplayedAdb",
    "ReplayedNvml",
    "TinyConvTask",
    "TinyLstmTask",
    "TinyTask",
    "deny_reading",
    "fake_cuda",
    "nvml_trace",
    "run_cli",
    "start_agent",
    "write_battery_tree",
    "write_hwmon_device",
    "write_ina3221_tree",
    "write_rapl_tree",
]


# --- The CLI in this process ----------------------------------------------------------------------


class _CapturesOutput(Protocol):
    def readouterr(self) -> tuple[str, str]: ...


def run_cli(args: list[str], capsys: _CapturesOutput) -> tuple[int, str, str]:
    """Run ``prunefront ARGS`` in this process as the console script does.

    Args:
        args: The command line after ``prunefront``.
        capsys: pytest's ``capsys`` fixture (anything with ``readouterr() -> (out, err)``).

    Returns:
        (exit code, stdout, stderr); a non-integer exit code counts as 1.
    """
    from prunefront.cli import main

    try:
        main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    else:
        raise AssertionError(f"prunefront {' '.join(args)} returned without exiting")
    out, err = capsys.readouterr()
    return (code if isinstance(code, int) else 1), out, err


# --- A real agent on loopback (for tests of remote targets) ------------------------------------


@dataclass
class AgentProcess:
    """A running ``python -m prunefront.agent`` and how to reach it."""

    process: subprocess.Popen[str]
    port: int
    token: str
    token_file: Path
    log_file: Path

    def client(self, **kwargs: float) -> AgentClient:
        """A client of this agent."""
        return AgentClient("127.0.0.1", self.port, self.token, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        """What the agent logged so far."""
        return self.log_file.read_text()

    def kill(self) -> None:
        """kill -9 the agent."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_agent(folder: Path, *args: str) -> AgentProcess:
    """Start an agent on a free loopback port and wait until it listens."""
    folder.mkdir(parents=True, exist_ok=True)
    token_file, log_file = folder / "token", folder / "agent.log"
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prunefront.agent",
                "--port",
                "0",
                "--token-file",
                str(token_file),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdout is not None
    line = process.stdout.readline()  # "listening on HOST:PORT" once bound
    if not line.startswith("listening on"):
        process.kill()
        raise RuntimeError(f"agent did not start: {line!r} {log_file.read_text()}")
    port = int(line.rsplit(":", 1)[1])
    return AgentProcess(process, port, token_file.read_text().strip(), token_file, log_file)
