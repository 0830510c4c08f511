"""One profile on the device: load the ONNX model, generate inputs, time it, read the sensors.

Latency is ``time.perf_counter`` around ``InferenceSession.run``, sampled by the profilers'
own loop (``time_interleaved``: warm-up, repeats until the spread settles, median/p90/IQR),
so a remote number means what a local one means. Energy uses the device's sensor through the
same ``measure_energy`` protocol, and peak memory the process's resident high-water mark. A
watchdog sets ONNX Runtime's ``RunOptions.terminate`` when the agent's time limit is reached,
which stops even a single endless ``run`` (a model with a huge ``Loop``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from prunefront.agent._document import result_document
from prunefront.agent._info import describe_agent_device
from prunefront.agent._protocol import InputSpec, ProfileRequest, ProtocolError
from prunefront.sensors import (
    EnergyMeter,
    Measurement,
    SensorError,
    UnavailableMeter,
    measure_energy,
    measure_process_peak_memory,
    open_sensor,
    perf_counter_timer,
    time_interleaved,
)

__all__ = ["profile_onnx"]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _session(model: bytes, request: ProfileRequest) -> Any:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if request.provider not in available:
        raise ProtocolError(f"provider = {request.provider!r}: this device offers {available}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = request.threads or 0
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: warnings about initializers are not ours
    providers = [request.provider]
    if request.provider != "CPUExecutionProvider":
        providers.append("CPUExecutionProvider")  # nodes the provider lacks fall back to CPU
    try:
        return ort.InferenceSession(model, options, providers=providers)
    except Exception as error:  # ORT raises its own pybind exception types
        raise ProtocolError(f"ONNX Runtime cannot load the model: {_first_line(error)}") from None


def _generate(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.dtype == "bool":
        return rng.random(spec.shape) < 0.5
    if spec.dtype.startswith(("int", "uint")):
        return rng.integers(int(spec.low), int(spec.high) + 1, size=spec.shape, dtype=spec.dtype)
    return rng.uniform(spec.low, spec.high, size=spec.shape).astype(spec.dtype)


_OVER_TIME = "the profile exceeded the agent's time limit (--max-profile-s) and was stopped"


def _feeds(session: Any, request: ProfileRequest, deadline_s: float) -> dict[str, np.ndarray]:
    graph_inputs = session.get_inputs()
    if len(request.inputs) != len(graph_inputs):
        names = [i.name for i in graph_inputs]
        raise ProtocolError(
            f"inputs: {len(request.inputs)} given, the model has {len(graph_inputs)} ({names})",
            status=422,
        )
    by_name = {i.name: i for i in graph_inputs}
    rng = np.random.default_rng(request.seed)
    feeds = {}
    for position, spec in enumerate(request.inputs):
        target = by_name.get(spec.name) if spec.name is not None else graph_inputs[position]
        if target is None:
            raise ProtocolError(
                f"inputs.name = {spec.name!r}: the model's inputs are {sorted(by_name)}", status=422
            )
        if time.monotonic() > deadline_s:
            raise ProtocolError(_OVER_TIME, status=422)
        feeds[target.name] = _generate(spec, rng)
    if time.monotonic() > deadline_s:
        raise ProtocolError(_OVER_TIME, status=422)
    return feeds


class _Watchdog:
    """Sets ``run_options.terminate`` once ``deadline_s`` (monotonic) has passed."""

    def __init__(self, run_options: Any, deadline_s: float) -> None:
        self.fired = False
        self._run_options = run_options
        self._timer = threading.Timer(max(0.0, deadline_s - time.monotonic()), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._run_options.terminate = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _meter(request: ProfileRequest, sensor_root: Path) -> EnergyMeter:
    if request.energy == "off":
        return UnavailableMeter("energy measurement is turned off (energy='off')")
    try:
        return open_sensor(request.energy, sensor_root)
    except SensorError as error:
        return UnavailableMeter(str(error), method="device_sensor", scope="device")


def _measure(
    run: Callable[[], object], request: ProfileRequest, sensor_root: Path
) -> tuple[Measurement, Any, Measurement]:
    stats = time_interleaved(
        {"onnxruntime": run}, settings=request.latency, timer=perf_counter_timer()
    )["onnxruntime"]
    latency = stats.to_measurement(method="perf_counter", strategy="onnxruntime")
    if request.memory:
        memory = measure_process_peak_memory(run)
    else:
        memory = Measurement.unavailable(
            "peak_memory_bytes", method="vmhwm", scope="process", reason="not requested"
        )
    energy = measure_energy(
        _meter(request, sensor_root),
        run,
        batch_size=request.effective_batch_size,
        settings=request.energy_window,
    )
    return latency, energy, memory


def profile_onnx(
    model: bytes,
    request: ProfileRequest,
    *,
    sensor_root: Path | str = Path("/"),
    deadline_s: float | None = None,
) -> dict[str, Any]:
    """Profile ``model`` as ``request`` asks and return the result document.

    Args:
        model: A self-contained ONNX model (already checked by ``scan_onnx``).
        request: The validated request.
        sensor_root: Filesystem root the power sensors are read below.
        deadline_s: ``time.monotonic()`` value at which running is stopped (status 422).

    Raises:
        ProtocolError: the model cannot be loaded (400), its inputs do not fit or a run fails
            or the time limit is hit (422).
    """
    import onnxruntime as ort

    deadline = deadline_s if deadline_s is not None else time.monotonic() + 3600.0
    session = _session(model, request)
    feeds = _feeds(session, request, deadline)  # generating inputs counts against the limit
    run_options = ort.RunOptions()

    def run() -> list[Any]:
        outputs: list[Any] = session.run(None, feeds, run_options)
        return outputs

    with _Watchdog(run_options, deadline) as watchdog:
        try:
            outputs = run()
            latency, energy, memory = _measure(run, request, Path(sensor_root))
        except ProtocolError:
            raise
        except Exception as error:  # a failing run: ORT's pybind exceptions
            if watchdog.fired:
                raise ProtocolError(_OVER_TIME, status=422) from None
            raise ProtocolError(
                f"the model failed to run: {_first_line(error)}", status=422
            ) from None
    device = describe_agent_device()
    device.update(
        type="cuda" if request.provider.startswith(("CUDA", "Tensorrt")) else "cpu",
        provider=request.provider,
        threads=request.threads,
    )
    return result_document(
        latency=latency,
        energy=energy,
        memory=memory,
        device=device,
        batch_size=request.effective_batch_size,
        strategy="onnxruntime",
        strategy_reason=f"ONNX Runtime {ort.__version__}, {request.provider}",
        extra={
            "outputs": [
                {"name": o.name, "shape": list(np.shape(v))}
                for o, v in zip(session.get_outputs(), outputs, strict=False)
            ],
            "inputs": [
                {"name": name, "shape": list(v.shape), "dtype": str(v.dtype)}
                for name, v in feeds.items()
            ],
        },
    )
