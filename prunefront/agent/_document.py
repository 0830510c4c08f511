"""The result document a device returns: the same records, in the same shape, as a local profile.

Both the agent and the adb backend answer with this document. ``records`` holds every
``Measurement`` (``to_dict``); ``strategies`` has the shape of ``StrategyOutcome.to_dict``;
``device`` describes the device. The client rebuilds a ``ProfileResult`` from it, so a remote
candidate is reported, stored and compared exactly like a local one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prunefront.agent._protocol import PROTOCOL_VERSION
from prunefront.sensors import EnergyResult, Measurement

__all__ = ["result_document"]


def result_document(
    *,
    latency: Measurement,
    energy: EnergyResult,
    memory: Measurement,
    device: Mapping[str, Any],
    batch_size: int,
    strategy: str,
    strategy_reason: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the JSON result document.

    Args:
        latency: ``latency_ms`` (median per forward pass, p90 and IQR in details).
        energy: Gross/net energy, mean and idle power.
        memory: ``peak_memory_bytes``.
        device: The device description.
        batch_size: Samples per forward pass.
        strategy: How the model ran (``onnxruntime``, ``onnxruntime_perf_test``, ...).
        strategy_reason: What that means here (runtime version, execution provider).
        extra: Further top-level keys (timing, model summary, tool output format).
    """
    outcome = {
        "name": strategy,
        "applicable": latency.available,
        "matches_reference": None,  # the device has no reference; the client checks the export
        "reason": strategy_reason if latency.available else latency.reason,
        "max_abs_error": None,
        "latency_ms": latency.value,
        "p90_ms": latency.details.get("p90_ms"),
        "iqr_ms": latency.spread,
        "record": latency.to_dict() if latency.available else None,
    }
    records = [latency, *energy.measurements(), memory]
    return {
        "protocol": PROTOCOL_VERSION,
        "records": {m.name: m.to_dict() for m in records},
        "strategy": strategy if latency.available else None,
        "strategies": [outcome],
        "device": dict(device),
        "batch_size": batch_size,
        **dict(extra or {}),
    }
