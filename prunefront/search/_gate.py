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
import time
from collections.abc import Iterator
from pathlib import Path

from torch import nn

__all__ = ["ProfileGate"]


class ProfileGate:
    """Shared per training step, exclusive per profile, across the processes of one run folder.

    ``waited_s`` adds up the seconds training steps spent waiting for other workers' profiles
    (``take_waited`` reads and resets it, once per trial).
    """

    def __init__(self, run_dir: Path, *, enabled: bool) -> None:
        self.enabled = enabled
        self._path = run_dir / ".profile.lock"
        self._fd: int | None = None
        self.waited_s = 0.0

    def _handle(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    def training_step(self, step: int, model: nn.Module) -> None:
        """A ``StepHook``: wait while another worker profiles."""
        if not self.enabled:
            return
        fd = self._handle()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # another worker is profiling: wait, and count the wait
            started = time.perf_counter()
            fcntl.flock(fd, fcntl.LOCK_SH)
            self.waited_s += time.perf_counter() - started
        fcntl.flock(fd, fcntl.LOCK_UN)

    def take_waited(self) -> float:
        """Seconds waited since the last call."""
        waited, self.waited_s = self.waited_s, 0.0
        return waited

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
