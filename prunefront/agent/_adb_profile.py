"""Profile a model file on an Android device with a benchmark binary the user provides.

The model is pushed to the device and ``onnxruntime_perf_test`` (``.onnx``/``.ort``) or LiteRT
``benchmark_model`` (``.tflite``) runs it; its output is parsed (``_benchmarks``). When the
battery is discharging (adb over Wi-Fi, or a data-only cable), a shell loop on the device samples
``current_now``/``voltage_now`` every ``sample_period_s`` while the benchmark runs, after an idle
baseline: energy per pass = mean battery power over the run x the tool's mean latency (the run
also loads the model, which the note says). A charging battery gives ``unavailable`` with that
reason. The answer is the same result document as the agent's.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from prunefront.agent._adb import AdbDevice, AdbError
from prunefront.agent._benchmarks import BenchmarkStats, parse_benchmark_model, parse_ort_perf_test
from prunefront.agent._document import result_document
from prunefront.errors import PrunefrontError
from prunefront.sensors import (
    Detail,
    EnergyResult,
    Measurement,
    SensorError,
    battery_power_w,
    check_discharging,
    integrate_power,
)

__all__ = ["AdbSettings", "BatteryTrace", "parse_battery_trace", "profile_on_adb", "tool_for"]

_METHOD, _SCOPE = "battery_current", "device_battery"


@dataclass(frozen=True, kw_only=True)
class AdbSettings:
    """How the on-device benchmark runs.

    Attributes:
        binary: The benchmark binary's path on the device (pushed there by the user).
        threads: CPU threads for the runtime (``None``: the tool's default).
        runs: Timed runs.
        energy: Sample the battery while discharging.
        idle_s: Idle baseline before the benchmark.
        sample_period_s: Time between battery samples.
        remote_dir: Where the model is pushed.
        battery_dir: The battery's sysfs directory on the device.
        timeout_s: Longest the benchmark may run.
        extra_args: More arguments for the tool (``-e nnapi``, ``--use_gpu=true``, ...).
    """

    binary: str
    threads: int | None = None
    runs: int = 200
    energy: bool = True
    idle_s: float = 1.0
    sample_period_s: float = 0.05
    remote_dir: str = "/data/local/tmp/prunefront"
    battery_dir: str = "/sys/class/power_supply/battery"
    timeout_s: float = 600.0
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.binary:
            raise PrunefrontError("adb binary: give the benchmark binary's path on the device")
        if self.runs < 1 or (self.threads is not None and self.threads < 1):
            raise PrunefrontError("adb runs and threads must be >= 1")
        if self.idle_s < 0 or self.sample_period_s <= 0 or self.timeout_s <= 0:
            raise PrunefrontError("adb idle_s >= 0, sample_period_s > 0 and timeout_s > 0")


def tool_for(model: Path) -> str:
    """``onnxruntime_perf_test`` for ``.onnx``/``.ort``, ``benchmark_model`` for ``.tflite``."""
    suffix = model.suffix.lower()
    if suffix in (".onnx", ".ort"):
        return "onnxruntime_perf_test"
    if suffix == ".tflite":
        return "benchmark_model"
    raise PrunefrontError(f"model {model.name}: adb profiles .onnx, .ort or .tflite files")


def _command(tool: str, model: str, settings: AdbSettings) -> str:
    quote = shlex.quote
    if tool == "onnxruntime_perf_test":
        args = ["-I", "-m", "times", "-r", str(settings.runs)]
        if settings.threads is not None:
            args += ["-x", str(settings.threads)]
    else:
        args = [f"--graph={model}", f"--num_runs={settings.runs}", "--warmup_runs=10"]
        if settings.threads is not None:
            args.append(f"--num_threads={settings.threads}")
    args += list(settings.extra_args)
    if tool == "onnxruntime_perf_test":
        args.append(model)
    return " ".join([quote(settings.binary), *(quote(a) for a in args)])


def _script(bench: str, settings: AdbSettings, *, energy: bool) -> str:
    if not energy:
        return f'{bench} 2>&1; echo "PFRC $?"'
    b = shlex.quote(settings.battery_dir)
    sample = (
        f'while :; do echo "PFSAMPLE $(cat /proc/uptime) $(cat {b}/current_now) '
        f'$(cat {b}/voltage_now) $(cat {b}/status)"; sleep {settings.sample_period_s:g}; done'
    )
    return (
        f"( {sample} ) & S=$!; "
        f'echo "PFIDLE $(cat /proc/uptime)"; sleep {settings.idle_s:g}; '
        f'echo "PFSTART $(cat /proc/uptime)"; {bench} 2>&1; echo "PFRC $?"; '
        f'echo "PFEND $(cat /proc/uptime)"; kill $S'
    )


@dataclass(frozen=True, kw_only=True)
class BatteryTrace:
    """Battery samples around a benchmark, from the device's shell loop.

    Attributes:
        idle: ``(uptime_s, watts)`` between the idle mark and the start of the benchmark.
        run: ``(uptime_s, watts)`` while the benchmark ran.
        start_s: Uptime when the benchmark started.
        end_s: Uptime when it ended.
        statuses: Every battery status seen.
        tool_output: The output with the sampling lines removed.
        returncode: The benchmark's exit status (``None`` if it was not printed).
    """

    idle: list[tuple[float, float]]
    run: list[tuple[float, float]]
    start_s: float | None
    end_s: float | None
    statuses: set[str]
    tool_output: str
    returncode: int | None


def parse_battery_trace(text: str) -> BatteryTrace:
    """Split the device's combined output into battery samples and the tool's own output."""
    marks: dict[str, float] = {}
    samples: list[tuple[float, float]] = []
    statuses: set[str] = set()
    rest, returncode = [], None
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["PFSAMPLE"] and len(fields) >= 6:
            statuses.add(" ".join(fields[5:]))
            try:
                power = battery_power_w(int(fields[3]), int(fields[4])).power_w
            except (ValueError, SensorError):
                continue
            samples.append((float(fields[1]), power))
        elif fields[:1] in (["PFIDLE"], ["PFSTART"], ["PFEND"]) and len(fields) >= 2:
            marks[fields[0]] = float(fields[1])
        elif fields[:1] == ["PFRC"] and len(fields) == 2 and fields[1].isdigit():
            returncode = int(fields[1])
        else:
            rest.append(line)
    start, end = marks.get("PFSTART"), marks.get("PFEND")
    return BatteryTrace(
        idle=_between(samples, marks.get("PFIDLE", start), start),
        run=_between(samples, start, end),
        start_s=start,
        end_s=end,
        statuses=statuses,
        tool_output="\n".join(rest),
        returncode=returncode,
    )


def _between(
    samples: list[tuple[float, float]], low: float | None, high: float | None
) -> list[tuple[float, float]]:
    if low is None or high is None:
        return []
    return [s for s in samples if low <= s[0] <= high]


def _mean_power(samples: list[tuple[float, float]]) -> tuple[float, float] | None:
    if len(samples) < 2 or samples[-1][0] <= samples[0][0]:
        return None
    window = samples[-1][0] - samples[0][0]
    return integrate_power(samples) / window, window


def _unavailable_energy(reason: str, batch_size: int) -> EnergyResult:
    def record(name: str) -> Measurement:
        return Measurement.unavailable(name, method=_METHOD, scope=_SCOPE, reason=reason)

    return EnergyResult(
        energy_mj=record("energy_mj"),
        energy_net_mj=record("energy_net_mj"),
        power_w=record("power_w"),
        power_idle_w=record("power_idle_w"),
        batch_size=batch_size,
    )


def battery_energy(trace: BatteryTrace, stats: BenchmarkStats, batch_size: int) -> EnergyResult:
    """Energy per pass from the battery trace and the tool's mean latency."""
    not_discharging = sorted(s for s in trace.statuses if s != "Discharging")
    if not_discharging:
        return _unavailable_energy(
            f"the battery was {not_discharging[0]!r} during the run: a charger fed the device",
            batch_size,
        )
    run, idle = _mean_power(trace.run), _mean_power(trace.idle)
    if run is None:
        return _unavailable_energy("fewer than two battery samples during the run", batch_size)
    watts, window_s = run
    details: dict[str, Detail] = {
        "samples": len(trace.run),
        "sample_rate_hz": (len(trace.run) - 1) / window_s,
        "mean_latency_ms": stats.mean_ms,
        "batch_size": batch_size,
    }
    note = ("mean battery power over the benchmark run (model loading included) x mean latency",)

    def measured(name: str, value: float, extra: dict[str, Detail] | None = None) -> Measurement:
        return Measurement(
            name=name,
            value=value,
            kind="measured",
            method=_METHOD,
            scope=_SCOPE,
            window_s=window_s,
            repeats=stats.runs,
            details={**details, **(extra or {})},
            notes=note,
        )

    gross = measured("energy_mj", watts * stats.mean_ms)
    power = measured("power_w", watts)
    if idle is None:
        reason = "fewer than two battery samples in the idle baseline"
        idle_record = Measurement.unavailable(
            "power_idle_w", method=_METHOD, scope=_SCOPE, reason=reason
        )
        net = Measurement.unavailable("energy_net_mj", method=_METHOD, scope=_SCOPE, reason=reason)
    else:
        idle_record = Measurement(
            name="power_idle_w",
            value=idle[0],
            kind="measured",
            method=_METHOD,
            scope=_SCOPE,
            window_s=idle[1],
        )
        net = measured(
            "energy_net_mj", (watts - idle[0]) * stats.mean_ms, {"idle_power_w": idle[0]}
        )
    return EnergyResult(
        energy_mj=gross,
        energy_net_mj=net,
        power_w=power,
        power_idle_w=idle_record,
        batch_size=batch_size,
    )


def latency_record(stats: BenchmarkStats) -> Measurement:
    """``latency_ms`` from a tool's statistics: its median, else its mean (with a note)."""
    details: dict[str, Detail] = {
        key: value
        for key, value in {
            "p50_ms": stats.p50_ms,
            "p90_ms": stats.p90_ms,
            "mean_ms": stats.mean_ms,
            "min_ms": stats.min_ms,
            "max_ms": stats.max_ms,
            "std_ms": stats.std_ms,
            "init_ms": stats.init_ms,
            "first_ms": stats.first_ms,
            "output_format": stats.output_format,
        }.items()
        if value is not None
    }
    notes = () if stats.p50_ms is not None else ("the tool reports no median: value is the mean",)
    return Measurement(
        name="latency_ms",
        value=stats.p50_ms if stats.p50_ms is not None else stats.mean_ms,
        kind="measured",
        method=stats.tool,
        scope="forward_pass",
        repeats=stats.runs,
        details=details,
        notes=notes,
    )


def memory_record(stats: BenchmarkStats) -> Measurement:
    """``peak_memory_bytes`` as the tool reported it, or unavailable."""
    if stats.peak_memory_bytes is None:
        return Measurement.unavailable(
            "peak_memory_bytes", method=stats.tool, scope="process", reason="the tool printed none"
        )
    delta = stats.memory_kind == "footprint_delta"
    return Measurement(
        name="peak_memory_bytes",
        value=float(stats.peak_memory_bytes),
        kind="measured",
        method=f"{stats.tool}_{stats.memory_kind}",
        scope="process_increase" if delta else "process",
        notes=("increase since the tool started, not the process peak",) if delta else (),
    )


def _device_info(device: AdbDevice) -> dict[str, Any]:
    keys = ("ro.product.model", "ro.build.version.release", "ro.product.cpu.abi", "ro.soc.model")
    result = device.shell("; ".join(f"getprop {key}" for key in keys))
    values = (result.stdout.splitlines() + [""] * len(keys))[: len(keys)]
    info = dict(
        zip(("board", "android_version", "abi", "soc"), (v.strip() for v in values), strict=True)
    )
    return {"type": "cpu", "serial": device.serial, **{k: v for k, v in info.items() if v}}


def _battery_status(device: AdbDevice, settings: AdbSettings) -> str | None:
    """Why battery energy cannot be measured now, or ``None`` when it can."""
    result = device.shell(f"cat {shlex.quote(settings.battery_dir)}/status")
    if result.returncode != 0 or not result.stdout.strip():
        detail = (result.stderr or result.stdout).strip()[:120]
        return f"cannot read the battery status over adb ({detail or 'no output'})"
    try:
        check_discharging(result.stdout)
    except SensorError as error:
        return str(error)
    return None


def profile_on_adb(
    device: AdbDevice, model: Path, settings: AdbSettings, *, batch_size: int
) -> dict[str, Any]:
    """Push ``model``, run the benchmark binary on the device, and return the result document.

    Raises:
        AdbError: adb, the device or the binary is missing, or the benchmark failed.
        BenchmarkOutputError: the tool's output is not in a known format.
    """
    tool = tool_for(model)
    serial = device.check()
    if not device.is_executable(settings.binary):
        raise AdbError(
            f"benchmark binary {settings.binary} not found or not executable on {serial}: "
            f"adb push {Path(settings.binary).name} {settings.binary} && "
            f"adb shell chmod +x {settings.binary}"
        )
    remote = str(PurePosixPath(settings.remote_dir) / model.name)
    device.shell(f"mkdir -p {shlex.quote(settings.remote_dir)}")
    device.push(str(model), remote)
    why_not = _battery_status(device, settings) if settings.energy else "energy='off'"
    bench = _command(tool, remote, settings)
    result = device.shell(
        _script(bench, settings, energy=why_not is None), timeout_s=settings.timeout_s
    )
    trace = parse_battery_trace(result.stdout)
    if trace.returncode not in (0, None) or result.returncode != 0:
        tail = " | ".join(trace.tool_output.strip().splitlines()[-2:])[:300]
        why = tail or result.stderr.strip()[:200]
        raise AdbError(f"{tool} failed on {serial} (exit {trace.returncode}): {why}")
    parse = parse_ort_perf_test if tool == "onnxruntime_perf_test" else parse_benchmark_model
    stats = parse(trace.tool_output)
    energy = (
        battery_energy(trace, stats, batch_size)
        if why_not is None
        else _unavailable_energy(why_not, batch_size)
    )
    device_info = {**_device_info(device), "tool": tool, "binary": settings.binary}
    return result_document(
        latency=latency_record(stats),
        energy=energy,
        memory=memory_record(stats),
        device=device_info,
        batch_size=batch_size,
        strategy=tool,
        strategy_reason=f"{tool} on {device_info.get('board', serial)}, {stats.output_format}",
        extra={"benchmark": stats.to_dict()},
    )
