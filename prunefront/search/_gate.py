"""Keep local workers' training off the CPU while one of them profiles.

A latency measured while another worker trains on the same cores measures the contention, not
the candidate. Every training step takes a shared ``flock`` on ``.profile.lock`` for an instant;
a profile holds it exclusively, so the other workers' next step waits until the profile is done.
With one worker the gate does nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from torch import nn

__all__ = ["ProfileGate"]


class ProfileGate:
    """Shared per training step, exclusive per profile, across the processes of one run folder."""

    def __init__(self, run_dir: Path, *, enabled: bool) -> None:
        self.enabled = enabled
        self._path = run_dir / ".profile.lock"
        self._fd: int | None = None

    def _handle(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    def training_step(self, step: int, model: nn.Module) -> None:
        """A ``StepHook``: wait while another worker profiles."""
        if not self.enabled:
            return
        fd = self._handle()
        fcntl.flock(fd, fcntl.LOCK_SH)
        fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def profiling(self) -> Iterator[None]:
        """Hold the machine for a profile."""
        if not self.enabled:
            yield
            return
        fd = self._handle()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the file handle."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
