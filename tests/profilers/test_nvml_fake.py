"""NVML through a fake ``pynvml`` and fake CUDA devices: which GPU is read, MIG, the power
reading, the sampler's failures, one NVML session, a Jetson's rails, and ``doctor``.

The fake is installed as ``sys.modules['pynvml']`` and torch is made to see fake devices, so the
code under test imports and calls exactly what it would on a GPU machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prunefront.profilers import (
    EnergySettings,
    NvmlCounterMeter,
    NvmlPowerMeter,
    NvmlUnavailable,
    PynvmlReader,
    UnavailableMeter,
    doctor_report,
    measure_energy,
    select_energy_meter,
)
from prunefront.testing import FakeGpu, FakePynvml, fake_cuda, write_ina3221_tree

BOARD_0 = "GPU-00000000-0000-0000-0000-000000000000"
BOARD_1 = "GPU-11111111-1111-1111-1111-111111111111"
INSTANCE = "MIG-22222222-2222-2222-2222-222222222222"


def _boards() -> tuple[FakeGpu, FakeGpu]:
    first = FakeGpu(uuid=BOARD_0, name="NVIDIA A100 (board 0)", energy_mj=1_000, power_mw=50_000)
    second = FakeGpu(uuid=BOARD_1, name="NVIDIA H100 (board 1)", capability=(9, 0))
    second.energy_mj, second.power_mw = 9_000_000, 300_000
    return first, second


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Install a fake pynvml module (returned by calling the fixture's value)."""

    def put(fake: FakePynvml) -> FakePynvml:
        monkeypatch.setitem(sys.modules, "pynvml", fake)
        return fake

    yield put


def test_cuda_visible_devices_reordered_reads_the_gpu_torch_uses(install) -> None:
    # CUDA_VISIBLE_DEVICES=1: torch's cuda:0 is NVML's board 1.
    first, second = _boards()
    install(FakePynvml([first, second]))
    with fake_cuda([second]):
        reader = PynvmlReader("cuda:0")
        info = reader.device_info()
    assert info["uuid"] == BOARD_1
    assert info["name"] == "NVIDIA H100 (board 1)"
    assert info["matched_by"] == f"uuid {BOARD_1}"
    assert reader.total_energy_mj() == 9_000_000


def test_an_unmatched_uuid_is_unavailable_never_the_board_at_that_index(install) -> None:
    first, second = _boards()
    fake = install(FakePynvml([first]))  # NVML does not list the board torch uses
    with fake_cuda([second]), pytest.raises(NvmlUnavailable, match="not guessing by index"):
        PynvmlReader(0)
    assert fake.calls["nvmlDeviceGetHandleByIndex"] == 0


def test_a_mig_instance_has_unavailable_energy_with_the_reason(install) -> None:
    first, _ = _boards()
    first.mig_instances = (FakeGpu(uuid=INSTANCE, name="MIG 1g.5gb"),)
    install(FakePynvml([first]))
    with fake_cuda([first.mig_instances[0]]):
        with pytest.raises(NvmlUnavailable, match="MIG instance"):
            PynvmlReader(0)
        meter = select_energy_meter("cuda:0", "auto")
    assert isinstance(meter, UnavailableMeter)
    assert "MIG" in meter.reason
    assert meter.record("energy_mj").kind == "unavailable"


def test_every_counter_record_names_the_gpu_and_how_it_was_matched(install) -> None:
    _, second = _boards()
    install(FakePynvml([second]))
    with fake_cuda([second]):
        meter = NvmlCounterMeter(PynvmlReader(0))
    meter.begin_window("w")
    second.energy_mj = 9_100_000
    for record in meter.end_window("w", inferences=1):
        assert record.details["gpu_uuid"] == BOARD_1
        assert record.details["matched_by"] == f"uuid {BOARD_1}"


def test_instantaneous_power_is_read_where_nvml_offers_the_field(install) -> None:
    _, second = _boards()
    second.power_mw, second.instant_power_mw = 120_000, 410_000  # 1 s average lags
    install(FakePynvml([second]))
    with fake_cuda([second]):
        reader = PynvmlReader(0)
    assert reader.power_mw() == 410_000
    assert reader.power_reading == "instant"


def test_without_the_instant_field_the_one_second_average_is_labelled(install) -> None:
    _, second = _boards()  # sm 9.0: nvmlDeviceGetPowerUsage is a 1-second average
    second.energy_mj = None  # no counter: power integration
    install(FakePynvml([second]))
    with fake_cuda([second]):
        meter = select_energy_meter("cuda:0", "auto")
    assert isinstance(meter, NvmlPowerMeter)
    record = meter.idle_power(0.05)
    assert record.kind == "measured"
    assert record.details["power_reading"] == "average_1s"
    assert any("1-second average" in note for note in record.notes)


class _FailingPower:
    """A reader whose power reading fails once, on its ``fail_at``-th read, then recovers."""

    def __init__(self, fail_at: int) -> None:
        self.reads, self.fail_at = 0, fail_at

    def total_energy_mj(self) -> int:
        raise NotImplementedError

    def power_mw(self) -> int:
        self.reads += 1
        if self.reads == self.fail_at:
            raise RuntimeError("NVML error: GPU is lost")
        return 100_000

    def device_info(self) -> dict[str, str]:
        return {"name": "Flaky GPU", "uuid": BOARD_0, "matched_by": "test"}


def test_a_power_sampler_that_fails_makes_the_window_unavailable_with_the_error() -> None:
    reader = _FailingPower(fail_at=3)
    meter = NvmlPowerMeter(reader, interval_s=0.002)
    meter.begin_window("w")
    deadline = time.monotonic() + 10.0
    while reader.reads < 3 and time.monotonic() < deadline:  # the thread reaches the failure
        time.sleep(0.005)
    (record,) = meter.end_window("w", inferences=1)
    assert record.kind == "unavailable"
    assert record.reason is not None and "GPU is lost" in record.reason


def test_one_nvml_session_serves_every_profile_of_the_process(install) -> None:
    _, second = _boards()
    fake = install(FakePynvml([second]))
    with fake_cuda([second]):
        meters = [select_energy_meter("cuda:0", "auto") for _ in range(3)]
    assert fake.calls["nvmlInit"] == 1
    assert fake.calls["nvmlDeviceGetHandleByUUID"] == 1
    assert all(isinstance(m, NvmlCounterMeter) for m in meters)


def test_a_jetson_without_nvml_measures_its_board_input_rail(install, tmp_path: Path) -> None:
    install(FakePynvml([], init_error=12))  # libnvidia-ml is not on a Jetson
    write_ina3221_tree(tmp_path, "jetpack5+", [("VDD_IN", 6.0), ("VDD_GPU_SOC", 3.0)])
    orin = FakeGpu(uuid=BOARD_0, name="Orin", capability=(8, 7))
    with fake_cuda([orin]):
        meter = select_energy_meter("cuda", "auto", sensors_root=tmp_path)
        report = doctor_report(rapl_root=tmp_path / "none", sensors_root=tmp_path)
    assert meter.method == "ina3221"
    assert report["energy"]["cuda"] == "ina3221"
    settings = EnergySettings(min_window_s=0.05, min_counter_updates=1, idle_s=0.05)
    result = measure_energy(meter, lambda: time.sleep(0.001), batch_size=1, settings=settings)
    assert result.power_w.value == pytest.approx(6.0, rel=1e-6)
    assert result.power_w.scope == "board_input"


def test_doctor_on_a_fake_nvml_names_the_gpu_it_matched_and_how(install) -> None:
    first, second = _boards()
    install(FakePynvml([first, second]))
    with fake_cuda([second, first]):  # CUDA_VISIBLE_DEVICES=1,0
        report = doctor_report(rapl_root="/nonexistent")
    assert report["energy"]["cuda"] == "nvml_energy_counter"
    assert report["energy"]["cuda_device"] == (
        f"cuda:0 = NVIDIA H100 (board 1) ({BOARD_1}), matched by uuid {BOARD_1}"
    )
    assert [d["uuid"] for d in report["nvml"]["devices"]] == [BOARD_1, BOARD_0]


def test_doctor_says_which_device_is_a_mig_instance_and_why_it_is_unavailable(install) -> None:
    first, _ = _boards()
    first.mig_instances = (FakeGpu(uuid=INSTANCE),)
    install(FakePynvml([first]))
    with fake_cuda([first.mig_instances[0]]):
        report = doctor_report(rapl_root="/nonexistent")
    assert report["nvml"]["available"] is False
    assert report["energy"]["cuda"].startswith("unavailable: ")
    assert "MIG" in report["energy"]["cuda"]
    assert report["energy"]["cuda_device"] is None
