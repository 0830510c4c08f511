"""The adb backend with a fake runner replaying recorded outputs: benchmark parsing, battery energy
while discharging (refused while charging), and clear errors for a missing adb, device or binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunefront.agent import (
    AdbDevice,
    AdbError,
    AdbResult,
    AdbSettings,
    ReplayedAdb,
    SubprocessAdbRunner,
    parse_adb_devices,
    parse_battery_trace,
    profile_on_adb,
)
from prunefront.remote import profile_file_on_adb, profile_remote
from prunefront.testing import TinyTask

DATA = Path(__file__).parent / "data"
SERIAL = "R5CT20ABCDE"
BINARY = "/data/local/tmp/onnxruntime_perf_test"


def _phone(
    status: str = "Discharging", run: str = "adb_ort_1.17_discharging.txt", binary: str = "yes"
) -> ReplayedAdb:
    return ReplayedAdb(
        [
            (r"^devices$", AdbResult(0, (DATA / "adb_devices.txt").read_text())),
            (r"shell test -x", AdbResult(0, f"{binary}\n")),
            (r"shell mkdir", AdbResult(0, "")),
            (
                r" push ",
                AdbResult(0, "1 file pushed, 0 skipped. 11.2 MB/s (22211 bytes in 0.002s)\n"),
            ),
            (r"shell cat .*/status$", AdbResult(0, f"{status}\n")),
            (r"shell getprop", AdbResult(0, "Pixel 7\n14\narm64-v8a\nTensor G2\n")),
            (
                r"shell .*(onnxruntime_perf_test|benchmark_model)",
                AdbResult(0, (DATA / run).read_text()),
            ),
        ]
    )


def _model(tmp_path: Path, suffix: str = ".onnx") -> Path:
    path = tmp_path / f"candidate{suffix}"
    path.write_bytes(b"model bytes")
    return path


def test_battery_energy_is_measured_from_the_trace_while_discharging(tmp_path: Path) -> None:
    adb = _phone()
    document = profile_on_adb(
        AdbDevice(adb, SERIAL),
        _model(tmp_path),
        AdbSettings(binary=BINARY, threads=2),
        batch_size=1,
    )
    records = document["records"]
    latency = records["latency_ms"]
    assert latency["method"] == "onnxruntime_perf_test" and latency["kind"] == "measured"
    assert latency["value"] == pytest.approx(2.14467)  # the tool's median
    assert latency["repeats"] == 200
    power, idle = records["power_w"]["value"], records["power_idle_w"]["value"]
    assert records["power_w"]["method"] == "battery_current"
    assert 2.30 < power < 2.43  # ~618 mA at 3.91 V, from the idle level at the start
    assert 1.20 < idle < 1.23  # ~308 mA at 3.95 V before the run
    assert records["energy_mj"]["value"] == pytest.approx(power * 2.18858)  # x mean latency
    assert records["energy_net_mj"]["value"] == pytest.approx((power - idle) * 2.18858)
    assert records["energy_mj"]["details"]["sample_rate_hz"] == pytest.approx(20.0, rel=0.1)
    assert records["peak_memory_bytes"]["value"] == 37_666_816
    assert document["device"]["board"] == "Pixel 7"
    command = next(c for c in adb.calls if "PFSAMPLE" in c)
    assert f"{BINARY} -I -m times -r 200 -x 2 /data/local/tmp/prunefront/candidate.onnx" in command


def test_a_charging_phone_gives_unavailable_energy_but_measured_latency(tmp_path: Path) -> None:
    adb = _phone(status="Charging", run="adb_ort_1.17_plain.txt")
    document = profile_on_adb(
        AdbDevice(adb, SERIAL), _model(tmp_path), AdbSettings(binary=BINARY), batch_size=1
    )
    energy = document["records"]["energy_mj"]
    assert energy["kind"] == "unavailable" and energy["value"] is None
    assert "'Charging'" in energy["reason"] and "unplug" in energy["reason"]
    assert document["records"]["latency_ms"]["kind"] == "measured"
    assert not any("PFSAMPLE" in c for c in adb.calls)  # no sampling loop was started


def test_a_tflite_file_runs_benchmark_model_and_reports_its_mean(tmp_path: Path) -> None:
    adb = _phone(status="Charging", run="tflite_benchmark_model_2.16.txt")
    result = profile_file_on_adb(
        _model(tmp_path, ".tflite"),
        f"adb://{SERIAL}",
        binary="/data/local/tmp/benchmark_model",
        threads=1,
        runner=adb,
    )
    assert result.latency_ms.method == "benchmark_model"
    assert result.latency_ms.value == pytest.approx(0.401553)
    assert "no median" in result.latency_ms.notes[0]
    assert result.device["device"] == f"adb://{SERIAL}" and result.device["transport"] == "adb"
    command = next(c for c in adb.calls if "benchmark_model --graph" in c)
    assert "--num_threads=1" in command


def test_profile_remote_exports_checks_and_profiles_a_candidate_over_adb() -> None:
    task = TinyTask()
    result = profile_remote(
        task.build(0.5),
        task.example_inputs(4),
        f"adb://{SERIAL}",
        adb_binary=BINARY,
        adb_runner=_phone(),
    )
    assert result.strategy == "onnxruntime_perf_test"
    assert result.strategies[0].matches_reference is True  # the export was checked locally
    assert result.energy.energy_mj.kind == "measured" and result.batch_size == 4
    assert result.device["export"]["exporter"] == "torchscript"


def test_adb_devices_output_is_parsed_with_states() -> None:
    devices = parse_adb_devices((DATA / "adb_devices.txt").read_text())
    assert devices == {SERIAL: "device", "emulator-5554": "offline", "0A1B2C3D4E": "unauthorized"}


@pytest.mark.parametrize(
    ("serial", "message"),
    [
        ("0A1B2C3D4E", "unauthorized: accept the USB debugging prompt"),
        ("emulator-5554", "is offline"),
        ("NOPE123", "device NOPE123 not found by adb"),
    ],
)
def test_a_missing_or_unusable_device_is_a_clear_error(
    tmp_path: Path, serial: str | None, message: str
) -> None:
    adb = _phone()
    with pytest.raises(AdbError, match=message):
        profile_on_adb(
            AdbDevice(adb, serial), _model(tmp_path), AdbSettings(binary=BINARY), batch_size=1
        )


def test_adb_without_a_serial_takes_the_one_ready_device_and_refuses_two() -> None:
    assert AdbDevice(_phone(), None).check() == SERIAL
    two = ReplayedAdb(
        [(r"^devices$", AdbResult(0, "List of devices attached\nA1\tdevice\nB2\tdevice\n"))]
    )
    with pytest.raises(AdbError, match=r"exactly one connected device, found \['A1', 'B2'\]"):
        AdbDevice(two, None).check()


def test_a_missing_benchmark_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AdbError, match=f"{BINARY} not found or not executable .*adb push"):
        profile_on_adb(
            AdbDevice(_phone(binary="no"), SERIAL),
            _model(tmp_path),
            AdbSettings(binary=BINARY),
            batch_size=1,
        )


def test_missing_adb_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AdbError, match="adb not found on PATH: install Android platform-tools"):
        SubprocessAdbRunner()


def test_a_failing_benchmark_reports_its_exit_status_and_last_lines(tmp_path: Path) -> None:
    adb = _phone(status="Charging")
    adb.rules = [
        (r"shell .*onnxruntime_perf_test -I", AdbResult(0, "Segmentation fault\nPFRC 139\n")),
        *adb.rules,
    ]
    with pytest.raises(AdbError, match=r"failed on R5CT20ABCDE \(exit 139\): Segmentation fault"):
        profile_on_adb(
            AdbDevice(adb, SERIAL), _model(tmp_path), AdbSettings(binary=BINARY), batch_size=1
        )


def test_the_battery_trace_separates_samples_from_the_tools_output() -> None:
    trace = parse_battery_trace((DATA / "adb_ort_1.17_discharging.txt").read_text())
    assert trace.returncode == 0 and trace.statuses == {"Discharging"}
    assert "PFSAMPLE" not in trace.tool_output and "P50 Latency" in trace.tool_output
    assert trace.start_s is not None and trace.end_s is not None
    assert all(trace.start_s <= t <= trace.end_s for t, _ in trace.run)
    assert len(trace.idle) == 21 and len(trace.run) == 11
