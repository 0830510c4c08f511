"""One contract, every backend: CPU latency, RAPL on a file tree, NVML counter and power on
replayed traces, codecarbon's estimate, and the unavailable meter."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from prunefront.profilers import (
    CodecarbonMeter,
    Measurement,
    Meter,
    NvmlCounterMeter,
    NvmlPowerMeter,
    PerfCounterLatencyMeter,
    RaplMeter,
    RaplReader,
    UnavailableMeter,
)
from prunefront.testing import FakeClock, ReplayedNvml, nvml_trace, write_rapl_tree


@dataclass
class Backend:
    """A meter plus a way to do ``n`` forward passes' worth of work in its world."""

    meter: Meter
    work: Callable[[int], None]
    kind: str
    per_pass: float | None  # the exact per-pass value the fake world produces, if known
    rel_tol: float


def _cpu_latency(tmp_path: Path) -> Backend:
    clock = FakeClock()
    return Backend(
        PerfCounterLatencyMeter(clock), lambda n: clock.advance(0.004 * n), "measured", 4.0, 1e-9
    )


def _cpu_latency_real(tmp_path: Path) -> Backend:
    return Backend(PerfCounterLatencyMeter(), lambda n: time.sleep(0.01 * n), "measured", None, 0.5)


def _rapl(tmp_path: Path) -> Backend:
    clock = FakeClock()
    (energy_file,) = write_rapl_tree(tmp_path, [("package-0", 1_000)])

    def work(n: int) -> None:
        # 7 mJ per pass, 2 ms per pass.
        energy_file.write_text(str(int(energy_file.read_text()) + 7_000 * n))
        clock.advance(0.002 * n)

    return Backend(RaplMeter(RaplReader(tmp_path), clock=clock), work, "measured", 7.0, 1e-9)


def _nvml_counter(tmp_path: Path) -> Backend:
    clock = FakeClock()
    reader = ReplayedNvml(nvml_trace([(60.0, 200.0)]), clock=clock)
    # 0.1 s per pass at 200 W = 20 J = 20_000 mJ; counter updates every 20 ms.
    return Backend(
        NvmlCounterMeter(reader, clock=clock),
        lambda n: clock.advance(0.1 * n),
        "measured",
        20_000.0,
        0.05,
    )


def _nvml_power(tmp_path: Path) -> Backend:
    reader = ReplayedNvml(nvml_trace([(60.0, 150.0)], counter=False))
    return Backend(
        NvmlPowerMeter(reader, interval_s=0.002),
        lambda n: time.sleep(0.01 * n),
        "measured",
        None,
        0.5,
    )


def _unavailable(tmp_path: Path) -> Backend:
    return Backend(
        UnavailableMeter("no sensor on this test box"), lambda n: None, "unavailable", None, 0.0
    )


def _codecarbon(tmp_path: Path) -> Backend:
    # codecarbon models power from the machine's CPU load, which other processes change between
    # two short windows: only the order of magnitude of the per-pass value is stable.
    return Backend(CodecarbonMeter(), lambda n: time.sleep(0.01 * n), "estimated", None, 3.0)


BACKENDS = {
    "cpu_latency_fake_clock": _cpu_latency,
    "cpu_latency_perf_counter": _cpu_latency_real,
    "rapl_file_tree": _rapl,
    "nvml_counter_replay": _nvml_counter,
    "nvml_power_replay": _nvml_power,
    "unavailable": _unavailable,
    "codecarbon_estimate": _codecarbon,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield BACKENDS[request.param](tmp_path)


def _window(backend: Backend, key: str, passes: int) -> list[Measurement]:
    backend.meter.begin_window(key)
    backend.work(passes)
    return backend.meter.end_window(key, inferences=passes)


def test_window_returns_records_of_the_backends_kind(backend: Backend) -> None:
    records = _window(backend, "w", 3)
    assert records
    assert records[0].kind == backend.kind
    assert all(r.kind == backend.kind for r in records)


def test_records_round_trip_through_dicts(backend: Backend) -> None:
    for record in _window(backend, "w", 3):
        assert Measurement.from_dict(record.to_dict()) == record


def test_unavailable_is_none_with_a_reason_and_available_is_a_positive_number(
    backend: Backend,
) -> None:
    for record in _window(backend, "w", 3):
        if record.kind == "unavailable":
            assert record.value is None
            assert record.reason
        else:
            assert record.value is not None and record.value > 0
            assert record.window_s is not None and record.window_s > 0
            assert record.repeats == 3


def test_value_is_per_forward_pass(backend: Backend) -> None:
    one = _window(backend, "a", 2)[0]
    two = _window(backend, "b", 4)[0]
    if one.value is None or two.value is None:
        assert one.value is None and two.value is None
        return
    if backend.per_pass is not None:
        assert one.value == pytest.approx(backend.per_pass, rel=backend.rel_tol)
    assert two.value == pytest.approx(one.value, rel=backend.rel_tol)


def test_windows_can_overlap_by_key(backend: Backend) -> None:
    backend.meter.begin_window("outer")
    backend.meter.begin_window("inner")
    backend.work(2)
    inner = backend.meter.end_window("inner", inferences=2)
    backend.work(2)
    outer = backend.meter.end_window("outer", inferences=4)
    assert inner and outer
    if inner[0].window_s is not None and outer[0].window_s is not None:
        assert outer[0].window_s > inner[0].window_s


def test_misuse_of_windows_raises(backend: Backend) -> None:
    with pytest.raises(ValueError, match="never begun"):
        backend.meter.end_window("nope", inferences=1)
    backend.meter.begin_window("twice")
    with pytest.raises(ValueError, match="already open"):
        backend.meter.begin_window("twice")
    with pytest.raises(ValueError, match="inferences"):
        backend.meter.end_window("twice", inferences=0)
