"""``prunefront train``'s progress on stderr: a rich bar on a terminal, a plain line otherwise.

Training one candidate takes minutes. On a terminal a bar shows the step, the sparsity, the loss
(where the task reports it) and the time left; in a log or a pipe a plain line does, at most one
every few seconds (``PRUNEFRONT_PROGRESS_S``, default 5) and one at the last step. Nothing goes
to stdout, so ``--json`` stays exactly one document.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from prunefront._output import stderr_console
from prunefront.candidate import OnProgress, TrainTick
from prunefront.errors import PrunefrontError

__all__ = ["BAR_REFRESH_S", "INTERVAL_ENV", "LineProgress", "interval_s", "train_progress"]

INTERVAL_ENV = "PRUNEFRONT_PROGRESS_S"
"""Seconds between two plain progress lines (off a terminal); 0 prints one per step."""

DEFAULT_INTERVAL_S = 5.0

BAR_REFRESH_S = 0.5
"""Seconds between two redraws of the bar (about 1-2 ms each, taken from the training thread)."""


def interval_s() -> float:
    """The plain-line interval from ``PRUNEFRONT_PROGRESS_S`` (default 5 s).

    Raises:
        PrunefrontError: The variable is set to something other than a number >= 0.
    """
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise PrunefrontError(f"{INTERVAL_ENV}={text!r}: must be a number of seconds >= 0")
    return value


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class LineProgress:
    """Plain progress lines: at most one every ``interval_s`` seconds, and one at the last step.

    A line reads ``step 120/600 (20%), sparsity 0.412, loss 0.5321, ETA 1m05s``; the loss is the
    mean over the steps since the previous line, and the ETA extrapolates the pace since the
    first step seen (a warm-started run begins past step 0).
    """

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._interval_s = interval_s
        self._clock = clock
        self._start: tuple[float, int] | None = None
        self._last_line = 0.0
        self._loss_sum = 0.0
        self._loss_count = 0

    def __call__(self, tick: TrainTick) -> None:
        now = self._clock()
        if self._start is None:
            self._start = (now, tick.step)
            self._last_line = now
        if tick.loss is not None:
            self._loss_sum += tick.loss
            self._loss_count += 1
        last = tick.step + 1 >= tick.total_steps
        if not last and now - self._last_line < self._interval_s:
            return
        self._last_line = now
        self._write(self._line(tick, now))
        self._loss_sum, self._loss_count = 0.0, 0

    def _line(self, tick: TrainTick, now: float) -> str:
        done, total = tick.step + 1, tick.total_steps
        parts = [f"step {done}/{total} ({100 * done / max(total, 1):.0f}%)"]
        parts.append(f"sparsity {tick.sparsity:.3f}")
        if self._loss_count:
            parts.append(f"loss {self._loss_sum / self._loss_count:.4g}")
        assert self._start is not None
        started, first = self._start
        taken = tick.step - first
        if done >= total:
            parts.append(f"done in {_duration(now - started)}")
        elif taken > 0:
            parts.append(f"ETA {_duration((total - done) * (now - started) / taken)}")
        else:
            parts.append("ETA ?")
        return ", ".join(parts)


class _BarProgress:
    """A rich bar on the terminal, redrawn from the training thread every ``BAR_REFRESH_S``.

    Rich's own refresh thread would redraw ten times a second and contend with training for
    the interpreter; here nothing runs between steps.
    """

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sparsity {task.fields[sparsity]:.3f}"),
            TextColumn("{task.fields[loss]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
        )
        self._task = self._bar.add_task("train", total=None, sparsity=0.0, loss="")
        self._last = float("-inf")

    def __enter__(self) -> _BarProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, tick: TrainTick) -> None:
        now = time.monotonic()
        if now - self._last < BAR_REFRESH_S and tick.step + 1 < tick.total_steps:
            return
        self._last = now
        self._bar.update(
            self._task,
            completed=tick.step + 1,
            total=tick.total_steps,
            sparsity=tick.sparsity,
            loss="" if tick.loss is None else f"loss {tick.loss:.4g}",
        )
        self._bar.refresh()

    def redraw(self) -> None:
        """Draw the bar now (for benchmarks: what one refresh costs)."""
        self._bar.refresh()


@contextmanager
def train_progress(console: Console | None = None) -> Iterator[OnProgress]:
    """The ``on_progress`` of ``train_candidate`` that shows training on ``console`` (stderr).

    Raises:
        PrunefrontError: ``PRUNEFRONT_PROGRESS_S`` is not a number of seconds >= 0 (checked on
            entering, before any training).
    """
    console = console or stderr_console
    every = interval_s()
    if console.is_terminal:
        with _BarProgress(console) as bar:
            yield bar
        return

    def write(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    yield LineProgress(write, interval_s=every)
