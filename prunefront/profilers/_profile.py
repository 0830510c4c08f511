"""``profile_candidate``: latency, energy and peak memory of one candidate, as it would be deployed.

The candidate is copied to the device, every requested execution strategy builds its own copy,
outputs are checked against the dense reference, matching strategies are timed side by side, and
the fastest becomes the candidate's latency. Energy and peak memory are then measured with the
chosen strategy alone (the other copies are freed first), energy with the passes pipelined as
when timed. Copied RNNs are flattened for cuDNN. The caller's model and inputs are never
modified.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunefront.errors import PrunefrontError
from prunefront.profilers._compare import warm_up_process
from prunefront.profilers._device import describe_device, parse_device
from prunefront.profilers._energy import (
    EnergyResult,
    EnergySettings,
    check_policy,
    measure_energy,
    select_energy_meter,
)
from prunefront.profilers._latency import (
    LatencySettings,
    cuda_event_timer,
    perf_counter_timer,
    pinned_threads,
    time_interleaved,
)
from prunefront.profilers._memory import measure_peak_memory
from prunefront.profilers._strategies import (
    STRATEGY_NAMES,
    StrategySettings,
    compare_outputs,
    flatten_rnns,
    prepare_strategy,
)
from prunefront.sensors import DEFAULT_POWERCAP_ROOT, EnergyMeter, Measurement

__all__ = ["ProfileResult", "ProfileSettings", "StrategyOutcome", "profile_candidate"]


@dataclass(frozen=True, kw_only=True)
class ProfileSettings:
    """The knobs of a profile, grouped.

    Attributes:
        latency: Warm-up, repeats, spread target, time cap.
        energy: Window lengths and idle baseline.
        strategies: When sparse strategies are worth trying.
    """

    latency: LatencySettings = field(default_factory=LatencySettings)
    energy: EnergySettings = field(default_factory=EnergySettings)
    strategies: StrategySettings = field(default_factory=StrategySettings)


@dataclass(frozen=True, kw_only=True)
class StrategyOutcome:
    """What happened to one execution strategy.

    Attributes:
        name: The strategy.
        applicable: Whether it could be built for this model and device.
        matches_reference: Whether its outputs matched the dense reference (``None`` if not run).
        latency_ms: Its timing, when it was applicable and matched.
        reason: Why it was not applicable or did not match; otherwise what it converted.
        max_abs_error: Largest difference from the reference outputs.
    """

    name: str
    applicable: bool
    matches_reference: bool | None
    latency_ms: Measurement | None = None
    reason: str | None = None
    max_abs_error: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one entry of ``ProfileResult.to_dict()['strategies']``."""
        latency = self.latency_ms
        return {
            "name": self.name,
            "latency_ms": None if latency is None else latency.value,
            "p90_ms": None if latency is None else latency.details.get("p90_ms"),
            "iqr_ms": None if latency is None else latency.spread,
            "matches_reference": self.matches_reference,
            "applicable": self.applicable,
            "reason": self.reason,
            "max_abs_error": self.max_abs_error,
            "record": None if latency is None else latency.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StrategyOutcome:
        """Rebuild from ``to_dict`` output."""
        record = data.get("record")
        return cls(
            name=data["name"],
            applicable=bool(data["applicable"]),
            matches_reference=data.get("matches_reference"),
            latency_ms=None if record is None else Measurement.from_dict(record),
            reason=data.get("reason"),
            max_abs_error=data.get("max_abs_error"),
        )


@dataclass(frozen=True, kw_only=True)
class ProfileResult:
    """Everything measured about one candidate on one device.

    Attributes:
        latency_ms: The chosen strategy's median latency per forward pass (p90, IQR in details).
        strategy: The chosen strategy's name (``None`` if none could run).
        strategies: Every strategy tried, applicable or not, with its timing or reason.
        energy: Gross and net energy per forward pass, mean and idle power.
        peak_memory_bytes: Peak runtime memory of one forward pass (see its scope).
        device: ``describe_device`` output.
        batch_size: Samples per forward pass.
    """

    latency_ms: Measurement
    strategy: str | None
    strategies: tuple[StrategyOutcome, ...]
    energy: EnergyResult
    peak_memory_bytes: Measurement
    device: Mapping[str, Any]
    batch_size: int

    def measurements(self) -> list[Measurement]:
        """Every top-level record, for provenance tables."""
        return [self.latency_ms, *self.energy.measurements(), self.peak_memory_bytes]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary plus the full records (``records``) for ``from_dict``."""
        lat = self.latency_ms
        memory = self.peak_memory_bytes
        return {
            "latency_ms": {
                "value": lat.value,
                "p50": lat.details.get("p50_ms"),
                "p90": lat.details.get("p90_ms"),
                "iqr": lat.spread,
                "kind": lat.kind,
                "method": lat.method,
                "strategy": self.strategy,
                "repeats": lat.repeats,
                "reason": lat.reason,
                "notes": list(lat.notes),
            },
            "strategies": [s.to_dict() for s in self.strategies],
            "energy_mj": self.energy.to_dict(),
            "peak_memory_bytes": {
                "value": memory.value,
                "kind": memory.kind,
                "method": memory.method,
                "scope": memory.scope,
                "increase_bytes": memory.details.get("increase_bytes"),
                "weights_bytes": memory.details.get("weights_bytes"),
                "forward_peak_bytes": memory.details.get("forward_peak_bytes"),
                "process_peak_bytes": memory.details.get("process_peak_bytes"),
                "reason": memory.reason,
                "notes": list(memory.notes),
            },
            "device": dict(self.device),
            "batch_size": self.batch_size,
            "records": {m.name: m.to_dict() for m in self.measurements()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileResult:
        """Rebuild a result from ``to_dict`` output."""
        records = {k: Measurement.from_dict(v) for k, v in data["records"].items()}
        batch_size = int(data["batch_size"])
        return cls(
            latency_ms=records["latency_ms"],
            strategy=data["latency_ms"].get("strategy"),
            strategies=tuple(StrategyOutcome.from_dict(s) for s in data["strategies"]),
            energy=EnergyResult(
                energy_mj=records["energy_mj"],
                energy_net_mj=records["energy_net_mj"],
                power_w=records["power_w"],
                power_idle_w=records["power_idle_w"],
                batch_size=batch_size,
            ),
            peak_memory_bytes=records["peak_memory_bytes"],
            device=dict(data["device"]),
            batch_size=batch_size,
        )


def _check_strategies(names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in STRATEGY_NAMES]
    if unknown or not names:
        raise PrunefrontError(
            f"strategies = {list(names)}: choose one or more of {list(STRATEGY_NAMES)}"
        )
    return tuple(dict.fromkeys(names))


def _forward(
    model: nn.Module, inputs: tuple[torch.Tensor, ...], device: torch.device, *, sync: bool
) -> Callable[[], object]:
    """One forward pass; with ``sync`` on CUDA it also waits for the GPU to finish."""

    def run() -> object:
        return model(*inputs)

    def run_synchronised() -> object:
        out = model(*inputs)
        torch.cuda.synchronize(device)
        return out

    return run_synchronised if sync and device.type == "cuda" else run


def _release_memory(device: torch.device) -> None:
    """Free what dropped copies held, so the allocator's peak starts from the deployed model."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _synchronizer(device: torch.device) -> Callable[[], object] | None:
    """Waits for every queued pass on ``device``; ``None`` where passes are synchronous."""
    if device.type != "cuda":
        return None
    return lambda: torch.cuda.synchronize(device)


def _try_strategies(
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    device: torch.device,
    names: tuple[str, ...],
    settings: ProfileSettings,
) -> tuple[dict[str, StrategyOutcome], dict[str, nn.Module]]:
    """Build each strategy and check its outputs; return outcomes and the runnable models."""
    reference = model(*inputs)
    outcomes: dict[str, StrategyOutcome] = {}
    runnable: dict[str, nn.Module] = {}
    for name in names:
        prepared = prepare_strategy(name, model, device, settings.strategies)
        if prepared.model is None:
            outcomes[name] = StrategyOutcome(
                name=name, applicable=False, matches_reference=None, reason=prepared.reason
            )
            continue
        candidate = prepared.model.eval()
        try:
            check = compare_outputs(candidate(*inputs), reference, tf32=prepared.tf32)
        except Exception as error:  # any failure of one strategy is its result, not the profile's
            text = str(error).strip().splitlines()[0] if str(error).strip() else ""
            outcomes[name] = StrategyOutcome(
                name=name,
                applicable=False,
                matches_reference=None,
                reason=f"forward pass failed: {type(error).__name__}: {text}",
            )
            continue
        outcomes[name] = StrategyOutcome(
            name=name,
            applicable=True,
            matches_reference=check.matches,
            reason=check.reason or prepared.reason,
            max_abs_error=check.max_abs_error,
        )
        if check.matches:
            runnable[name] = candidate
    return outcomes, runnable


def _time_strategies(
    runnable: dict[str, nn.Module],
    inputs: tuple[torch.Tensor, ...],
    device: torch.device,
    settings: LatencySettings,
    outcomes: dict[str, StrategyOutcome],
) -> tuple[Measurement, str | None]:
    """Time the matching strategies side by side; record each timing in ``outcomes``.

    Returns the chosen (fastest median) strategy's latency and its name.
    """
    cuda = device.type == "cuda"
    timer = cuda_event_timer(device) if cuda else perf_counter_timer()
    method = "cuda_events" if cuda else "perf_counter"
    # Back-to-back calls: CUDA events bracket them, so no per-call synchronisation is needed.
    workloads = {n: _forward(m, inputs, device, sync=False) for n, m in runnable.items()}
    if workloads:  # the first profile of a process must not read slow
        warm_up_process(next(iter(workloads.values())), settings.process_warmup_s)
    stats = time_interleaved(workloads, settings=settings, timer=timer) if workloads else {}
    for name, stat in stats.items():
        measurement = stat.to_measurement(method=method, strategy=name)
        outcomes[name] = replace(outcomes[name], latency_ms=measurement)
    if not stats:
        reason = "no execution strategy ran and matched the reference"
        return (
            Measurement.unavailable(
                "latency_ms", method=method, scope="forward_pass", reason=reason
            ),
            None,
        )
    chosen = min(stats, key=lambda n: stats[n].p50_ms)
    return stats[chosen].to_measurement(method=method, strategy=chosen), chosen


def profile_candidate(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    *,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    batch_size: int | None = None,
    energy: str = "auto",
    strategies: Sequence[str] = STRATEGY_NAMES,
    settings: ProfileSettings | None = None,
    energy_meter: EnergyMeter | None = None,
    rapl_root: Path | str = DEFAULT_POWERCAP_ROOT,
) -> ProfileResult:
    """Measure latency, energy and peak memory of ``model`` on ``device``.

    Args:
        model: The candidate (masked weights as exact zeros); it is deep-copied, not changed.
        example_inputs: The positional inputs of one forward pass at the configured batch size.
        device: ``cpu`` or ``cuda[:N]``.
        threads: Intra-op CPU threads during the profile (restored afterwards); ``None`` keeps
            the current count.
        batch_size: Samples per forward pass; default: the first input's leading dimension.
        energy: ``auto`` (measure where a sensor is readable, else unavailable), ``estimate``
            (else a labelled codecarbon estimate) or ``off``.
        strategies: Execution strategies to try; the fastest one that matches wins.
        settings: Latency, energy and strategy settings.
        energy_meter: Use this meter instead of choosing one (e.g. a replayed sensor).
        rapl_root: The powercap directory RAPL is read from.

    Raises:
        PrunefrontError: a bad device, thread count, batch size, policy or strategy name.
    """
    cfg = settings or ProfileSettings()
    dev = parse_device(device)
    check_policy(energy)
    names = _check_strategies(strategies)
    if not example_inputs:
        raise PrunefrontError("example_inputs: give at least one input tensor")
    batch = batch_size if batch_size is not None else int(example_inputs[0].shape[0])
    if batch < 1:
        raise PrunefrontError(f"batch_size = {batch}: must be an integer >= 1")
    inputs = tuple(t.detach().to(dev) for t in example_inputs)
    reference_model = flatten_rnns(copy.deepcopy(model).to(dev).eval())
    with pinned_threads(threads) as used_threads, torch.inference_mode():
        outcomes, runnable = _try_strategies(reference_model, inputs, dev, names, cfg)
        latency, chosen = _time_strategies(runnable, inputs, dev, cfg.latency, outcomes)
        deployed = runnable.pop(chosen) if chosen is not None else reference_model
        # Only the deployed copy stays on the device: peak memory must not count the
        # reference and every other strategy's copy.
        del runnable, reference_model
        _release_memory(dev)
        run_once = _forward(deployed, inputs, dev, sync=True)
        memory = measure_peak_memory(run_once, dev, model=deployed)
        # Energy passes run back to back as when timed, with one synchronise at the end.
        meter = energy_meter or select_energy_meter(dev, energy, rapl_root=rapl_root)
        energy_result = measure_energy(
            meter,
            _forward(deployed, inputs, dev, sync=False),
            batch_size=batch,
            settings=cfg.energy,
            synchronize=_synchronizer(dev),
        )
    return ProfileResult(
        latency_ms=latency,
        strategy=chosen,
        strategies=tuple(outcomes[n] for n in names),
        energy=energy_result,
        peak_memory_bytes=memory,
        device=describe_device(dev, threads=used_threads),
        batch_size=batch,
    )
