"""Latencies (and energies) that can be compared: models measured side by side in one process.

Profiles taken in separate trials drift with the machine's load and with the process's own
warm-up (the first profile in a process runs slow), so two medians from two trials are not a
comparison. Here every model runs in the same process, after a warm-up, in interleaved rounds:
``time_side_by_side`` gives each model a median with its 95 % interval (the final front of a
search), and ``latency_ratio`` gives the ratio of two models with a 95 % interval from
per-round ratios (an iso-footprint pair), so a winner is named only where the interval
excludes 1. ``energy_ratio`` does the same for energy per inference where a sensor measures it:
alternating energy windows of the two models, one ratio per round.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunefront.profilers._device import parse_device
from prunefront.profilers._latency import cuda_event_timer, perf_counter_timer, pinned_threads
from prunefront.profilers._strategies import StrategySettings, prepare_strategy
from prunefront.sensors import (
    EnergyMeter,
    EnergySettings,
    LatencySettings,
    Measurement,
    Timer,
    measure_energy,
    median_ci95,
    time_interleaved,
)

__all__ = [
    "RatioEstimate",
    "energy_ratio",
    "latency_ratio",
    "time_side_by_side",
    "warm_up_process",
]

_warm = False


def warm_up_process(run: Callable[[], object], seconds: float) -> bool:
    """Run ``run`` untimed for ``seconds`` if this process has not been warmed yet.

    Returns:
        Whether it ran (False: the process was warm already).
    """
    global _warm
    if _warm or seconds <= 0:
        return False
    end = time.perf_counter() + seconds
    calls = 0
    while time.perf_counter() < end and calls < 100_000:
        run()
        calls += 1
    _warm = True
    return True


@dataclass(frozen=True, kw_only=True)
class RatioEstimate:
    """The latency ratio of two models (``a / b``), measured side by side.

    Attributes:
        value: The median of the per-round ratios (latency), or their geometric mean (energy).
        ci95: Its 95 % interval, ``(low, high)``: order statistics of the per-round ratios for
            latency (robust to a round that a burst of load hit on one side only), a
            t-interval of the log ratios for the few energy rounds.
        rounds: Rounds timed (each times both models once, in alternating order).
        a_ms, b_ms: Median per forward pass of each model over the rounds (ms for a latency
            ratio, mJ for an energy ratio).
        method: The timer (``perf_counter`` or ``cuda_events``).
        settled: Whether the interval narrowed to the target before the time cap.
        load_per_core: The machine's 1-minute load average per CPU (the larger of before and
            after): above 1, other work shared the cores and rounds are not independent, so
            the interval may be too narrow (None where the OS does not say).
    """

    value: float
    ci95: tuple[float, float]
    rounds: int
    a_ms: float
    b_ms: float
    method: str
    settled: bool
    load_per_core: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "load_per_core": self.load_per_core,
            "value": self.value,
            "ci95": list(self.ci95),
            "rounds": self.rounds,
            "a_ms": self.a_ms,
            "b_ms": self.b_ms,
            "method": self.method,
            "settled": self.settled,
        }


def load_per_core() -> float | None:
    """The 1-minute load average divided by the logical CPUs (None where unknown)."""
    try:
        return os.getloadavg()[0] / max(os.cpu_count() or 1, 1)
    except (OSError, AttributeError):
        return None


def _max_load(*values: float | None) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _t95(dof: int) -> float:
    from scipy import stats  # imported before timing starts (``latency_ratio``)

    return float(stats.t.ppf(0.975, dof))


def _calls_for(run: Callable[[], object], timer: Timer, min_sample_ms: float) -> int:
    """Back-to-back calls for one sample of ``min_sample_ms`` (calibrated on 10 calls)."""
    per_call = max(timer(run, 10) / 10, 1e-6)
    return max(1, min(100_000, math.ceil(min_sample_ms / per_call)))


def _runnable(
    model: nn.Module, strategy: str | None, device: torch.device, inputs: tuple[torch.Tensor, ...]
) -> tuple[Callable[[], object], str]:
    """The forward pass of ``model`` under ``strategy`` (masked-dense where it cannot apply)."""
    name = strategy or "masked_dense"
    prepared = prepare_strategy(name, model.to(device).eval(), device, StrategySettings())
    if prepared.model is None:
        name = "masked_dense"
        prepared = prepare_strategy(name, model, device, StrategySettings())
    runner = prepared.model
    assert runner is not None  # masked_dense always applies
    runner.eval()

    def run() -> object:
        return runner(*inputs)

    return run, name


def _timer(device: torch.device) -> tuple[Timer, str]:
    if device.type == "cuda":
        return cuda_event_timer(device), "cuda_events"
    return perf_counter_timer(), "perf_counter"


def time_side_by_side(
    models: Mapping[str, tuple[nn.Module, str | None]],
    example_inputs: Sequence[torch.Tensor],
    *,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    settings: LatencySettings | None = None,
) -> dict[str, Measurement]:
    """Time every model in one warmed process, interleaved round by round.

    Args:
        models: Name -> (trained model, the execution strategy it was deployed with).
        example_inputs: One forward pass's inputs.
        device: ``cpu`` or ``cuda[:N]``.
        threads: CPU threads during the timing (restored after).
        settings: Sampling settings (median interval target, time caps).

    Returns:
        Name -> ``latency_ms`` (median, with the median's 95 % interval in its details).
    """
    dev = parse_device(device)
    inputs = tuple(t.detach().to(dev) for t in example_inputs)
    timer, method = _timer(dev)
    with pinned_threads(threads), torch.inference_mode():
        runs = {name: _runnable(m, s, dev, inputs) for name, (m, s) in models.items()}
        sampling = settings or LatencySettings()
        if runs:
            warm_up_process(next(iter(runs.values()))[0], sampling.process_warmup_s)
        stats = time_interleaved(
            {name: run for name, (run, _) in runs.items()}, settings=sampling, timer=timer
        )
    return {
        name: stat.to_measurement(method=method, strategy=runs[name][1])
        for name, stat in stats.items()
    }


def latency_ratio(
    a: tuple[nn.Module, str | None],
    b: tuple[nn.Module, str | None],
    example_inputs: Sequence[torch.Tensor],
    *,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    min_rounds: int = 20,
    max_rounds: int = 400,
    rel_halfwidth: float = 0.02,
    max_time_s: float = 10.0,
    min_sample_ms: float = 2.0,
    process_warmup_s: float = 1.0,
) -> RatioEstimate:
    """Latency of ``a`` over ``b``, from per-round ratios of interleaved samples.

    Each round times one sample of each (``min_sample_ms`` of back-to-back calls), in an order
    that alternates between rounds. The ratio is the median of the per-round ratios with the
    distribution-free 95 % interval of that median (a burst of load that hits one side of one
    round moves a mean, not a median); timing stops once the interval's half-width is below
    ``rel_halfwidth`` of the ratio (after ``min_rounds``) or at ``max_rounds`` / ``max_time_s``.
    """
    dev = parse_device(device)
    inputs = tuple(t.detach().to(dev) for t in example_inputs)
    timer, method = _timer(dev)
    load_before = load_per_core()
    with pinned_threads(threads), torch.inference_mode():
        run_a, _ = _runnable(a[0], a[1], dev, inputs)
        run_b, _ = _runnable(b[0], b[1], dev, inputs)
        warm_up_process(run_a, process_warmup_s)
        calls = {
            key: _calls_for(run, timer, min_sample_ms) for key, run in (("a", run_a), ("b", run_b))
        }
        ratios: list[float] = []
        a_ms: list[float] = []
        b_ms: list[float] = []
        started = time.perf_counter()
        settled = False
        while len(ratios) < max_rounds and time.perf_counter() - started < max_time_s:
            order = (("a", run_a), ("b", run_b))
            if len(ratios) % 2:
                order = order[::-1]
            sample = {key: timer(run, calls[key]) / calls[key] for key, run in order}
            a_ms.append(sample["a"])
            b_ms.append(sample["b"])
            ratios.append(sample["a"] / sample["b"])
            if len(ratios) >= min_rounds:
                low, high = median_ci95(ratios)
                if (high - low) / 2 <= rel_halfwidth * statistics.median(ratios):
                    settled = True
                    break
    return RatioEstimate(
        value=statistics.median(ratios),
        ci95=median_ci95(ratios),
        rounds=len(ratios),
        a_ms=statistics.median(a_ms),
        b_ms=statistics.median(b_ms),
        method=method,
        settled=settled,
        load_per_core=_max_load(load_before, load_per_core()),
    )


def _halfwidth(logs: Sequence[float]) -> float:
    n = len(logs)
    if n < 2:
        return math.inf
    mean = sum(logs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
    return _t95(n - 1) * sd / math.sqrt(n)


def energy_ratio(
    a: tuple[nn.Module, str | None],
    b: tuple[nn.Module, str | None],
    example_inputs: Sequence[torch.Tensor],
    *,
    meter: EnergyMeter,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    rounds: int = 5,
    settings: EnergySettings | None = None,
    net: bool = True,
) -> RatioEstimate | None:
    """Energy per inference of ``a`` over ``b``: alternating windows, one ratio per round.

    ``net``: energy above the idle baseline (what the inference itself costs) where the meter
    has a baseline, else gross; ``net=False``: gross (what the device drew while it ran).
    Returns None when a window gives no value (the reason is then on the meter's records).
    """
    dev = parse_device(device)
    inputs = tuple(t.detach().to(dev) for t in example_inputs)
    cfg = settings or EnergySettings()
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else None
    with pinned_threads(threads), torch.inference_mode():
        runs = {
            "a": _runnable(a[0], a[1], dev, inputs)[0],
            "b": _runnable(b[0], b[1], dev, inputs)[0],
        }
        _t95(1)
        logs: list[float] = []
        values: dict[str, list[float]] = {"a": [], "b": []}
        method = ""
        for index in range(rounds):
            order = ("a", "b") if index % 2 == 0 else ("b", "a")
            got: dict[str, float] = {}
            for key in order:
                result = measure_energy(
                    meter, runs[key], batch_size=1, settings=cfg, synchronize=sync
                )
                record = result.energy_net_mj if net else result.energy_mj
                if record.value is None:
                    record = result.energy_mj
                if record.value is None or record.value <= 0:
                    return None
                got[key] = float(record.value)
                method = record.method
            values["a"].append(got["a"])
            values["b"].append(got["b"])
            logs.append(math.log(got["a"] / got["b"]))
    mean = sum(logs) / len(logs)
    half = _halfwidth(logs)
    return RatioEstimate(
        value=math.exp(mean),
        ci95=(math.exp(mean - half), math.exp(mean + half)),
        rounds=len(logs),
        a_ms=sorted(values["a"])[len(logs) // 2],
        b_ms=sorted(values["b"])[len(logs) // 2],
        method=method,
        settled=True,
    )
