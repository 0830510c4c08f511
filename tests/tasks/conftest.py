"""Shared fixtures for the task tests: one torch thread (the CI box has two shared cores).

Tiny models gain nothing from a second thread, and on a busy two-core machine a thread pool that
waits for a descheduled worker makes every small op slow; the slow tests ask for two threads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
