"""The profile gate: training steps wait while another local worker profiles, and say how long."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from torch import nn

from prunefront.search._gate import ProfileGate

MODEL = nn.Linear(1, 1)


def test_a_step_waits_for_a_profile_in_progress_and_counts_the_wait(tmp_path: Path) -> None:
    profiler, trainer = ProfileGate(tmp_path, enabled=True), ProfileGate(tmp_path, enabled=True)
    holding = threading.Event()

    def profile() -> None:
        with profiler.profiling():
            holding.set()
            time.sleep(0.3)

    thread = threading.Thread(target=profile)
    thread.start()
    holding.wait()
    started = time.perf_counter()
    trainer.training_step(0, MODEL)
    assert time.perf_counter() - started >= 0.1  # of the 0.3 s hold (a loaded CI may lag)
    thread.join()
    trainer.training_step(1, MODEL)  # nobody profiles: no wait
    waited = trainer.take_waited()
    assert 0.1 <= waited < 5.0
    assert trainer.take_waited() == 0.0
    profiler.close()
    trainer.close()


def test_a_disabled_gate_never_waits(tmp_path: Path) -> None:
    profiler, trainer = ProfileGate(tmp_path, enabled=True), ProfileGate(tmp_path, enabled=False)
    with profiler.profiling():
        trainer.training_step(0, MODEL)
    assert trainer.take_waited() == 0.0
    profiler.close()
