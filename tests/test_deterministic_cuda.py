"""Training claimed bit-identical (warm starts, free copies of a drawn-again candidate) runs
with deterministic CUDA settings; on the CPU nothing is changed."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch
from torch import nn

from prunefront.candidate import Candidate, train_candidate
from prunefront.testing import TinyTask


class _Recording(TinyTask):
    """Records torch's determinism settings when it trains and evaluates; runs on the CPU."""

    def __init__(self) -> None:
        super().__init__(epochs=1, num_samples=64)
        self.seen: dict[str, Any] = {}

    def train(self, model: nn.Module, *, device: Any, **kwargs: Any) -> None:
        self.seen["train"] = _settings()
        super().train(model, device="cpu", **kwargs)

    def evaluate(self, model: nn.Module, *, device: Any) -> float:
        self.seen["evaluate"] = _settings()
        return super().evaluate(model, device="cpu")


def _settings() -> tuple[bool, bool, bool, str | None]:
    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )


def test_training_on_cuda_uses_deterministic_kernels_and_restores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # restored (unset) after the test
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    task = _Recording()
    train_candidate(task, Candidate(width=0.5, sparsity=0.5), device="cuda")
    assert task.seen["train"] == (True, True, False, ":4096:8")
    assert task.seen["evaluate"] == (True, True, False, ":4096:8")
    assert torch.are_deterministic_algorithms_enabled() is False
    assert torch.backends.cudnn.benchmark is True


def test_training_on_the_cpu_leaves_torch_settings_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # restored (unset) after the test
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    task = _Recording()
    train_candidate(task, Candidate(width=0.5, sparsity=0.5), device="cpu")
    assert task.seen["train"][0] is False
    assert task.seen["train"][3] is None
