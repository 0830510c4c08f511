"""The edge agent on arm64: a search against an agent in an emulated aarch64 Debian root.

``scripts/arm64-agent.sh`` serves ``python -m prunefront.agent`` inside an arm64 root holding
only ``requirements-agent.txt`` (numpy, onnxruntime: no torch), as a Jetson or a Raspberry Pi
would. Speed under emulation means nothing; what these tests protect is function: the agent's
own requirements are enough, the aarch64 wheels work, every trial completes with latency
measured on ``aarch64``, and the sensor readers measure energy there from the sysfs layouts of a
Jetson (INA3221) and a Raspberry Pi power HAT (INA219 through hwmon).

They need root (chroot, mounts), an arm64-capable machine (native, or qemu-user-static with its
binfmt handler) and a root prepared once by ``make arm64-root`` (or ``scripts/arm64-agent.sh
prepare DIR``; ``PRUNEFRONT_ARM64_DIR`` names the folder). Otherwise they skip, saying which.
Run them with ``pytest -m arm64 -s`` (``-s`` prints the records).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from prunefront.config import load_config
from prunefront.profilers import EnergySettings, LatencySettings, ProfileSettings
from prunefront.remote import profile_remote
from prunefront.search import plan_search, run_search
from prunefront.testing import TinyConvTask, write_hwmon_device, write_ina3221_tree

pytestmark = [pytest.mark.slow, pytest.mark.arm64]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "arm64-agent.sh"
START_TIMEOUT_S = 300.0  # the first import of numpy and onnxruntime under emulation


def arm64_dir() -> Path:
    """Where the prepared root is cached (the Makefile's ``ARM64_DIR`` default)."""
    default = Path.home() / ".cache" / "prunefront" / "arm64"
    return Path(os.environ.get("PRUNEFRONT_ARM64_DIR") or default)


@pytest.fixture(scope="module")
def prepared_root() -> Path:
    """The cached arm64 root, or a skip that names what is missing."""
    check = subprocess.run([str(SCRIPT), "check"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        pytest.skip(f"this machine cannot run arm64 binaries: {check.stdout.strip()}")
    if os.geteuid() != 0:
        pytest.skip("the arm64 agent runs in a chroot, which needs root")
    folder = arm64_dir()
    if not (folder / "root" / ".prunefront-agent").is_file():
        pytest.skip(
            f"no prepared arm64 root in {folder}: run `make arm64-root` or "
            f"`scripts/arm64-agent.sh prepare {folder}` (PRUNEFRONT_ARM64_DIR names another)"
        )
    return folder


@dataclass
class Arm64Agent:
    """An agent serving inside the arm64 root."""

    process: subprocess.Popen[str]
    folder: Path
    port: int
    token_file: Path
    log_file: Path

    @property
    def target(self) -> str:
        """The ``remote://`` target of this agent."""
        return f"remote://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM its process group (unshare, the shell, the agent), then SIGKILL."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_arm64_agent(folder: Path, log_file: Path, *args: str) -> Arm64Agent:
    """Start the agent in the root at ``folder`` and wait for its ``listening on`` line."""
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "run", str(folder), *args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("listening on"):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        raise RuntimeError(f"arm64 agent did not start: {line!r}\n{log_file.read_text()}")
    port = int(line.rsplit(":", 1)[1])
    token_file = folder / "root" / "var" / "lib" / "prunefront" / "agent-token"
    return Arm64Agent(process, folder, port, token_file, log_file)


@pytest.fixture
def arm64_agent(prepared_root: Path, tmp_path: Path) -> Iterator[Callable[..., Arm64Agent]]:
    """``arm64_agent(*args)`` starts an agent in the root; all are stopped afterwards."""
    started: list[Arm64Agent] = []

    def start(*args: str) -> Arm64Agent:
        agent = start_arm64_agent(prepared_root, tmp_path / f"agent{len(started)}.log", *args)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def _probe_root(folder: Path) -> list[str]:
    """Inside the root: the machine, whether torch is absent, whether the agent imports it."""
    probe = (
        "import importlib.util, platform, sys; import prunefront.agent; "
        "print(platform.machine(), importlib.util.find_spec('torch') is None, "
        "'torch' in sys.modules)"
    )
    done = subprocess.run(
        [str(SCRIPT), "exec", str(folder), "python", "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        timeout=START_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_root_runs_the_agent_on_aarch64_python_without_torch(prepared_root: Path) -> None:
    assert _probe_root(prepared_root) == ["aarch64", "True", "False"]


def test_a_remote_search_on_the_arm64_agent_measures_latency_on_aarch64(
    arm64_agent: Callable[..., Arm64Agent], tmp_path: Path
) -> None:
    agent = arm64_agent()
    config = tmp_path / "search.toml"
    config.write_text(
        f"""
[task]
ref = "tiny"
options = {{ epochs = 2 }}

[space]
widths = [0.25, 0.5, 1.0]
sparsity_max = 0.95

[budget]
bytes = 6000

[target]
device = "{agent.target}"
token_file = "{agent.token_file}"
threads = 1
latency_min_time_s = 0.05
latency_max_time_s = 0.5
energy = "auto"

[search]
trials = 3
pair_seeds = 1
run_dir = "{tmp_path / "run"}"
study_name = "arm64-{os.getpid()}"
sampler = "random"
"""
    )
    study = run_search(plan_search(load_config(config)), say=lambda _: None)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3, [
        t.user_attrs.get("fail_reason") for t in study.trials
    ]
    for trial in study.trials:
        attrs = trial.user_attrs
        device = attrs["device"]
        print(
            f"trial {trial.number}: width {attrs['width']} sparsity "
            f"{attrs['sparsity_actual']:.3f} metric {attrs['metric_value']:.3f} latency "
            f"{attrs['latency_ms']:.4f} ms ({attrs['latency_kind']}, {attrs['latency_method']}, "
            f"{attrs['latency_strategy']}) energy {attrs['energy_kind']}: "
            f"{attrs.get('energy_reason')}\n  device {json.dumps(device, sort_keys=True)}"
        )
        assert attrs["latency_kind"] == "measured"
        assert attrs["latency_strategy"] == "onnxruntime"
        assert attrs["latency_ms"] > 0
        assert device["machine"] == "aarch64"
        assert device["device"] == agent.target
        assert attrs["energy_kind"] == "unavailable"
        assert "power sensor" in attrs["energy_reason"]
    assert _probe_root(agent.folder) == ["aarch64", "True", "False"]  # torch: absent, unused


def _profile_energy(agent: Arm64Agent) -> dict[str, dict[str, Any]]:
    """Profile the tiny CNN on ``agent`` with energy ``auto``; the records by name."""
    task = TinyConvTask()
    settings = ProfileSettings(
        latency=LatencySettings(min_time_s=0.05, max_time_s=0.5),
        energy=EnergySettings(min_window_s=1.0, max_window_s=10.0, idle_s=0.5),
    )
    result = profile_remote(
        task.build(0.5),
        task.example_inputs(1),
        agent.target,
        token_file=agent.token_file,
        threads=1,
        energy="auto",
        settings=settings,
    )
    records: dict[str, dict[str, Any]] = result.to_dict()["records"]
    assert result.device["machine"] == "aarch64"
    return records


def test_jetson_ina3221_rails_give_measured_energy_on_the_arm64_agent(
    arm64_agent: Callable[..., Arm64Agent], tmp_path: Path
) -> None:
    rails = [("VDD_IN", 6.0), ("VDD_CPU_GPU_CV", 2.0), ("VDD_SOC", 1.5)]
    write_ina3221_tree(tmp_path / "jetson", "jetpack5+", rails)
    agent = arm64_agent("--sensor-root", str(tmp_path / "jetson"))
    records = _profile_energy(agent)
    print("INA3221 (JetPack 5+ layout):", json.dumps(records["energy_mj"], sort_keys=True))
    print("power:", json.dumps(records["power_w"], sort_keys=True))
    print("net:", json.dumps(records["energy_net_mj"], sort_keys=True))
    energy, power = records["energy_mj"], records["power_w"]
    assert energy["kind"] == "measured" and energy["method"] == "ina3221"
    assert energy["scope"] == "board_input"
    assert energy["details"]["rails"] == "VDD_IN"
    assert power["value"] == pytest.approx(6.0, rel=0.02)
    assert float(energy["value"]) > 0


def test_a_pi_power_hat_gives_measured_energy_on_the_arm64_agent(
    arm64_agent: Callable[..., Arm64Agent], tmp_path: Path
) -> None:
    # An INA219 HAT on a Raspberry Pi, through the kernel's ina2xx hwmon driver (microwatts).
    write_hwmon_device(
        tmp_path / "pi",
        0,
        "ina219",
        {"in1_input": 5100, "curr1_input": 700, "power1_input": 3_570_000},
    )
    agent = arm64_agent("--sensor-root", str(tmp_path / "pi"))
    records = _profile_energy(agent)
    print("INA219 HAT (hwmon):", json.dumps(records["energy_mj"], sort_keys=True))
    energy, power = records["energy_mj"], records["power_w"]
    assert energy["kind"] == "measured" and energy["method"] == "hwmon_power"
    assert energy["scope"] == "hwmon:ina219"
    assert power["value"] == pytest.approx(3.57, rel=0.02)
