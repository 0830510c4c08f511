"""int8 for real on a device: the agent is sent the int8 QDQ model and times that."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prunefront.pruning import magnitude_prune
from prunefront.remote import profile_remote
from prunefront.spaces import round_to_dtype
from prunefront.testing import TinyConvTask, start_agent


@pytest.mark.slow  # starts an agent process
def test_an_int8_budget_sends_the_device_its_int8_qdq_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    task = TinyConvTask()
    model = task.build(1.0).eval()
    magnitude_prune(model, 0.8)
    round_to_dtype(model, "int8")
    agent = start_agent(tmp_path / "agent")
    try:
        results = {
            dtype: profile_remote(
                model,
                task.example_inputs(1),
                f"remote://127.0.0.1:{agent.port}",
                token_file=agent.token_file,
                energy="off",
                dtype=dtype,
            )
            for dtype in ("float32", "int8")
        }
    finally:
        agent.kill()
    sent = {dtype: result.device["export"] for dtype, result in results.items()}
    assert any("int8" in note for note in sent["int8"]["notes"])
    assert sent["int8"]["size_bytes"] < sent["float32"]["size_bytes"] / 2
    for result in results.values():
        assert result.latency_ms.kind == "measured" and result.latency_ms.value
