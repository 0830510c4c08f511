"""Profile a candidate on a remote target: export it, send it, get a ``ProfileResult`` back.

``profile_remote`` is what ``prunefront profile --device remote://...`` and a search with
``[target] device = "remote://host:port"`` call. The candidate is exported to ONNX and checked
against the torch model with ONNX Runtime here (a wrong export would measure the wrong model);
then an agent (``remote://``) or an adb device (``adb://``) profiles the file, and its result
document becomes the same ``ProfileResult`` a local profile gives: same records, kinds and
methods, with the target, the transport and the export recorded in ``device``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunefront.agent import (
    AdbDevice,
    AdbRunner,
    AdbSettings,
    AgentClient,
    InputSpec,
    ProfileRequest,
    RemoteRejected,
    RemoteTarget,
    RemoteUnavailable,
    SubprocessAdbRunner,
    parse_target,
    profile_on_adb,
    read_token,
)
from prunefront.errors import PrunefrontError
from prunefront.export import OnnxCheck, OnnxExport, compare_onnx, compress_onnx, export_onnx
from prunefront.profilers import (
    EnergyResult,
    Measurement,
    ProfileResult,
    ProfileSettings,
    StrategyOutcome,
)

__all__ = [
    "check_agent",
    "input_specs",
    "profile_file_on_adb",
    "profile_remote",
    "result_from_document",
]

_ENERGY_FOR_AGENT = {"auto": "auto", "estimate": "auto", "off": "off"}


def input_specs(
    export: OnnxExport, example_inputs: Sequence[torch.Tensor]
) -> tuple[InputSpec, ...]:
    """The agent's input specs: the exported shapes, values drawn in the examples' range."""
    specs = []
    for graph_input, tensor in zip(export.inputs, example_inputs, strict=True):
        values = tensor.detach().double()
        low, high = (float(values.min()), float(values.max())) if values.numel() else (0.0, 1.0)
        specs.append(
            InputSpec(
                name=graph_input.name,
                shape=graph_input.shape,
                dtype=graph_input.dtype,
                low=low,
                high=max(high, low),
            )
        )
    return tuple(specs)


def result_from_document(
    document: Mapping[str, Any],
    *,
    target: str,
    transport: str,
    check: OnnxCheck | None = None,
    export: OnnxExport | None = None,
) -> ProfileResult:
    """Rebuild a ``ProfileResult`` from a device's result document.

    Raises:
        PrunefrontError: the document lacks a record (an incompatible agent).
    """
    try:
        records = {k: Measurement.from_dict(v) for k, v in document["records"].items()}
        strategies = tuple(StrategyOutcome.from_dict(s) for s in document["strategies"])
        batch_size = int(document["batch_size"])
        energy = EnergyResult(
            energy_mj=records["energy_mj"],
            energy_net_mj=records["energy_net_mj"],
            power_w=records["power_w"],
            power_idle_w=records["power_idle_w"],
            batch_size=batch_size,
        )
        latency, memory = records["latency_ms"], records["peak_memory_bytes"]
        device_info = dict(document["device"])
    except (KeyError, TypeError, ValueError) as error:
        raise PrunefrontError(
            f"{target} answered an incompatible result document: {error}"
        ) from None
    if check is not None:
        strategies = tuple(
            replace(s, matches_reference=check.matches, max_abs_error=check.max_abs_error)
            for s in strategies
        )
    device_info.update(device=target, transport=transport)
    if export is not None:
        device_info["export"] = {k: v for k, v in export.to_dict().items() if k != "path"}
    return ProfileResult(
        latency_ms=latency,
        strategy=document.get("strategy"),
        strategies=strategies,
        energy=energy,
        peak_memory_bytes=memory,
        device=device_info,
        batch_size=batch_size,
    )


def _export_checked(
    model: nn.Module, example_inputs: Sequence[torch.Tensor], folder: Path, dtype: str
) -> tuple[OnnxExport, OnnxCheck]:
    export = export_onnx(model, example_inputs, folder / "candidate.onnx")
    if dtype != "float32":
        # The device runs the weights as stored: int8 as a weight-only QDQ model.
        import onnx

        compressed = compress_onnx(onnx.load(str(export.path)), dtype=dtype)
        onnx.save(compressed.model, str(export.path))
        export = replace(
            export,
            size_bytes=export.path.stat().st_size,
            notes=(*export.notes, f"weights stored compressed in {dtype}"),
        )
    check = compare_onnx(export.path, model, example_inputs)
    if not check.matches:
        raise PrunefrontError(f"the ONNX export does not reproduce the model: {check.reason}")
    return export, check


def _profile_agent(
    target: RemoteTarget,
    export: OnnxExport,
    request: ProfileRequest,
    client: AgentClient,
) -> dict[str, Any]:
    info = client.info()
    limit = int(info.get("limits", {}).get("max_upload_bytes", 0))
    if limit and export.size_bytes > limit:
        raise RemoteRejected(
            f"agent at {client.address} accepts models up to {limit} bytes; this one is "
            f"{export.size_bytes} (raise the agent's --max-upload-mb)",
            status=413,
        )
    providers = info.get("providers") or []
    if providers and request.provider not in providers:
        raise RemoteRejected(
            f"provider = {request.provider!r}: agent at {client.address} offers {providers}",
            status=400,
        )
    return client.profile(export.path.read_bytes(), request)


def check_agent(device: str, *, token_file: Path | str | None = None) -> dict[str, Any]:
    """Ask a ``remote://`` target's agent for its info with the token: before the first trial.

    A missing token file or an agent that is down is the target's problem, said once, instead
    of three failed trials and "fix the task". Other targets are not checked (``{}``).

    Raises:
        PrunefrontError: no readable token, the agent refuses it, or it does not answer.
    """
    parsed = parse_target(device)
    if parsed.kind != "agent":
        return {}
    try:
        token = read_token(None, token_file)
    except PrunefrontError as error:
        raise PrunefrontError(f"target.token_file for {device}: {error}") from None
    client = AgentClient(str(parsed.host), int(parsed.port or 0), token, timeout_s=30, retries=1)
    try:
        return client.info()
    except RemoteUnavailable as error:
        raise PrunefrontError(
            f"target.device {device}: the agent does not answer ({error}); start "
            "`prunefront agent serve` there, or check the address"
        ) from None
    except RemoteRejected as error:
        raise PrunefrontError(f"target.device {device}: the agent refused: {error}") from None


def profile_remote(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    target: str,
    *,
    settings: ProfileSettings | None = None,
    token: str | None = None,
    token_file: Path | str | None = None,
    threads: int | None = None,
    batch_size: int | None = None,
    energy: str = "auto",
    provider: str = "CPUExecutionProvider",
    retries: int = 3,
    backoff_s: float = 1.0,
    timeout_s: float = 900.0,
    adb_binary: str | None = None,
    adb_runner: AdbRunner | None = None,
    dtype: str = "float32",
) -> ProfileResult:
    """Measure ``model`` on a remote target and return the result like a local profile's.

    Args:
        model: The candidate (masked weights as exact zeros); it is copied, not changed.
        example_inputs: The positional inputs of one forward pass at the batch size to profile.
        target: ``remote://HOST:PORT`` (an agent) or ``adb://SERIAL`` (Android over adb).
        settings: Latency and energy settings (the agent applies them as the local profiler).
        token: The agent's token; else ``token_file``, ``$PRUNEFRONT_AGENT_TOKEN``, default file.
        token_file: A copy of the agent's token file.
        threads: Runtime intra-op threads on the device (``None``: the runtime's default).
        batch_size: Samples per forward pass (default: the first input's leading dimension).
        energy: ``auto`` / ``estimate`` (the device's best sensor), ``off``, or a sensor name
            from the agent's ``info`` (``ina3221``, ``rapl``, ``battery``, ``hwmon:...``).
        provider: ONNX Runtime execution provider on the agent.
        retries: Extra attempts after a connection failure (then ``RemoteUnavailable``).
        backoff_s: Wait before the first retry, doubled each time.
        timeout_s: Socket timeout of one attempt.
        adb_binary: For ``adb://``: the benchmark binary's path on the device.
        adb_runner: For ``adb://``: how adb is run (tests pass ``ReplayedAdb``).
        dtype: The budget's value dtype. Other than ``float32``, the file sent is the
            compressed ONNX in that dtype (``int8``: a weight-only QDQ model), so the device
            times the weights as they are stored; ``model`` must hold them so rounded.

    Raises:
        RemoteUnavailable: the device did not answer after the retries.
        RemoteRejected: the device refused the token, the size, the request or the model.
        PrunefrontError: a bad target or argument, or an export that does not match the model.
    """
    parsed = parse_target(target)
    cfg = settings or ProfileSettings()
    if not example_inputs:
        raise PrunefrontError("example_inputs: give at least one input tensor")
    batch = batch_size if batch_size is not None else int(example_inputs[0].shape[0])
    with tempfile.TemporaryDirectory(prefix="prunefront-remote-") as folder:
        export, check = _export_checked(model, example_inputs, Path(folder), dtype)
        if parsed.kind == "adb":
            if adb_binary is None:
                raise PrunefrontError("adb:// targets need the benchmark binary (--adb-binary)")
            settings_adb = AdbSettings(binary=adb_binary, threads=threads, energy=energy != "off")
            device = AdbDevice(adb_runner or SubprocessAdbRunner(), parsed.serial)
            document = profile_on_adb(device, export.path, settings_adb, batch_size=batch)
            return result_from_document(
                document, target=str(parsed), transport="adb", check=check, export=export
            )
        request = ProfileRequest(
            inputs=input_specs(export, example_inputs),
            threads=threads,
            batch_size=batch,
            provider=provider,
            energy=_ENERGY_FOR_AGENT.get(energy, energy),
            latency=cfg.latency,
            energy_window=cfg.energy,
        )
        client = AgentClient(
            str(parsed.host),
            int(parsed.port or 0),
            read_token(token, token_file),
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
        )
        document = _profile_agent(parsed, export, request, client)
    return result_from_document(
        document, target=str(parsed), transport="agent", check=check, export=export
    )


def profile_file_on_adb(
    model_file: Path | str,
    target: str,
    *,
    binary: str,
    batch_size: int = 1,
    threads: int | None = None,
    runs: int = 200,
    energy: bool = True,
    runner: AdbRunner | None = None,
) -> ProfileResult:
    """Profile a ready model file (``.tflite``, ``.onnx``, ``.ort``) on an Android device.

    Raises:
        AdbError: adb, the device or the binary is missing, or the benchmark failed.
        PrunefrontError: the target is not ``adb://``, or the file is missing.
    """
    parsed = parse_target(target)
    path = Path(model_file)
    if parsed.kind != "adb":
        raise PrunefrontError(f"target = {target!r}: model files are profiled on adb:// targets")
    if not path.is_file():
        raise PrunefrontError(f"model file {path}: no such file")
    device = AdbDevice(runner or SubprocessAdbRunner(), parsed.serial)
    settings = AdbSettings(binary=binary, threads=threads, runs=runs, energy=energy)
    document = profile_on_adb(device, path, settings, batch_size=batch_size)
    return result_from_document(document, target=str(parsed), transport="adb")
