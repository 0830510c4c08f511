"""Energy policies: off, auto and estimate; an estimate is never labelled measured."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prunefront.errors import PrunefrontError
from prunefront.profilers import (
    CodecarbonMeter,
    EnergySettings,
    UnavailableMeter,
    measure_energy,
    select_energy_meter,
)
from prunefront.testing import write_rapl_tree


def test_off_is_unavailable_and_says_it_was_turned_off() -> None:
    meter = select_energy_meter("cpu", "off")
    assert isinstance(meter, UnavailableMeter)
    result = measure_energy(meter, lambda: None, batch_size=1, settings=EnergySettings())
    assert result.energy_mj.value is None
    assert result.energy_mj.reason is not None and "off" in result.energy_mj.reason


def test_unavailable_energy_does_not_run_the_workload(tmp_path: Path) -> None:
    calls = []
    meter = select_energy_meter("cpu", "auto", rapl_root=tmp_path)
    result = measure_energy(meter, lambda: calls.append(1), batch_size=1, settings=EnergySettings())
    assert calls == []
    assert [m.kind for m in result.measurements()] == ["unavailable"] * 4


def test_auto_without_a_sensor_suggests_the_estimate_policy(tmp_path: Path) -> None:
    meter = select_energy_meter("cpu", "auto", rapl_root=tmp_path)
    assert isinstance(meter, UnavailableMeter)
    assert "energy='estimate'" in meter.reason


def test_estimate_without_a_sensor_is_a_labelled_codecarbon_estimate(tmp_path: Path) -> None:
    meter = select_energy_meter("cpu", "estimate", rapl_root=tmp_path)
    assert isinstance(meter, CodecarbonMeter)

    def run_once() -> None:
        end = time.perf_counter() + 0.01
        while time.perf_counter() < end:
            pass

    result = measure_energy(
        meter, run_once, batch_size=2, settings=EnergySettings(min_window_s=0.3, idle_s=0.0)
    )
    assert result.energy_mj.kind == "estimated"
    assert result.energy_mj.method == "codecarbon_tdp_model"
    assert result.energy_mj.value is not None and result.energy_mj.value > 0
    assert result.power_w.kind == "estimated"
    assert all(m.kind != "measured" for m in result.measurements())


def test_estimate_prefers_a_readable_sensor(tmp_path: Path) -> None:
    write_rapl_tree(tmp_path, [("package-0", 1_000)])
    meter = select_energy_meter("cpu", "estimate", rapl_root=tmp_path)
    assert meter.method == "rapl"


def test_unknown_policy_is_a_user_error() -> None:
    with pytest.raises(PrunefrontError, match="auto"):
        select_energy_meter("cpu", "maybe")


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_window_s", 0.0), ("min_counter_updates", 0), ("max_window_s", 1.0), ("idle_s", -1.0)],
)
def test_energy_settings_reject_bad_values(field: str, value: float) -> None:
    with pytest.raises(PrunefrontError, match=field):
        EnergySettings(**{field: value})  # type: ignore[arg-type]
