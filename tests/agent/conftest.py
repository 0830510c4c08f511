"""Real agent processes on loopback for the tests, and the exported candidate they profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from prunefront.agent import InputSpec, ProfileRequest
from prunefront.export import OnnxExport, export_onnx
from prunefront.sensors import EnergySettings, LatencySettings, write_battery_tree
from prunefront.testing import AgentProcess, TinyConvTask, start_agent

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """One agent for a module: 1 MiB upload limit, a discharging fake battery as its sensor."""
    root = tmp_path_factory.mktemp("agent")
    write_battery_tree(root / "device", current_ua=-500_000, voltage_uv=4_000_000)  # 2 W
    process = start_agent(
        root, "--max-upload-mb", "1", "--max-profile-s", "30", "--sensor-root", str(root / "device")
    )
    yield process
    process.kill()


@pytest.fixture(scope="module")
def candidate(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[OnnxExport, tuple[torch.Tensor, ...]]:
    """The tiny 1-D CNN at batch 32 (about 0.1 ms per pass on one core), exported to ONNX."""
    task = TinyConvTask()
    model = task.build(1.0)
    inputs = task.example_inputs(32)
    path = tmp_path_factory.mktemp("export") / "tiny-conv.onnx"
    return export_onnx(model, inputs, path), inputs


def _quick_request(export: OnnxExport, **latency: float) -> ProfileRequest:
    """A short profile: one thread, about 0.3 s of timing, energy off."""
    timing = {"min_time_s": 0.3, "max_time_s": 1.0, **latency}
    return ProfileRequest(
        inputs=tuple(
            InputSpec(name=i.name, shape=i.shape, dtype=i.dtype, low=-1.0, high=1.0)
            for i in export.inputs
        ),
        threads=1,
        energy="off",
        latency=LatencySettings(**timing),  # type: ignore[arg-type]
        energy_window=EnergySettings(
            min_window_s=0.2, max_window_s=1.0, idle_s=0.1, min_counter_updates=5
        ),
    )


@pytest.fixture
def quick_request() -> object:
    """``quick_request(export, **latency)``: a short single-thread profile with energy off."""
    return _quick_request


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[object]:
    """``make_agent(*args)`` starts an agent for one test; all are killed afterwards."""
    started: list[AgentProcess] = []

    def make(*args: str) -> AgentProcess:
        process = start_agent(tmp_path / f"agent{len(started)}", *args)
        started.append(process)
        return process

    yield make
    for process in started:
        process.kill()
