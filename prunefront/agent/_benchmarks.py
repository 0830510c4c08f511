"""Parse the output of on-device benchmark binaries: ``onnxruntime_perf_test``, ``benchmark_model``.

Recognised generations (recorded outputs of each are test data):

- ``onnxruntime_perf_test`` 1.0 (2019): ``Total time cost:`` / ``Total iterations:`` /
  ``Average time cost: X ms``; 1.1-1.7: ``Session creation time cost:``, ``Total inference
  requests:``, ``Average inference time cost:`` without spaces after the colon and no
  percentiles; 1.8 and later: spaces, ``First inference time cost``, ``Avg CPU usage``,
  ``Peak working set size: N bytes`` and ``Min/Max/P50/P90/P95/P99/P999 Latency: X s``.
- TensorFlow Lite ``benchmark_model`` 1.x: ``Average inference timings in us: Warmup: ...,
  Init: ..., no stats: X``; 2.x: ``Inference timings in us: Init: ..., First inference: ...,
  Warmup (avg): ..., Inference (avg): X`` (from 2.13 every line is prefixed ``INFO:``), with
  ``Peak memory footprint (MB)`` or ``Memory footprint delta ... (MB)``; each run phase prints
  ``count=N first=.. curr=.. min=.. max=.. avg=.. std=..`` (``count=N curr=T(all same)``).
- LiteRT ``benchmark_model`` on the CompiledModel API (2025): a ``BENCHMARK RESULTS`` block of
  ``Inference (avg): X ms (N runs)``, ``Inference (min/max/std)``, ``Model initialization``.

Numbers are converted to milliseconds and bytes. Output that matches none of these raises a
``BenchmarkOutputError`` quoting its first lines, never a guessed number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prunefront.errors import PrunefrontError

__all__ = [
    "BenchmarkOutputError",
    "BenchmarkStats",
    "parse_benchmark_model",
    "parse_ort_perf_test",
]

_NUM = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


class BenchmarkOutputError(PrunefrontError):
    """The tool's output is not in a recognised format (or reports a failure)."""


@dataclass(frozen=True, kw_only=True)
class BenchmarkStats:
    """Latency statistics reported by an on-device benchmark tool, per forward pass.

    Attributes:
        tool: ``onnxruntime_perf_test`` or ``benchmark_model``.
        output_format: Which output generation was recognised (``ort-1.8+``, ``tflite-2.x``...).
        runs: Timed runs.
        mean_ms: Mean latency.
        p50_ms: Median, when the tool reports one.
        p90_ms: 90th percentile, when reported.
        min_ms: Fastest run, when reported.
        max_ms: Slowest run, when reported.
        std_ms: Standard deviation, when reported.
        init_ms: Session creation / model initialisation.
        first_ms: First inference.
        peak_memory_bytes: Peak memory as the tool reports it.
        memory_kind: ``peak_working_set``, ``peak_footprint`` or ``footprint_delta``.
    """

    tool: str
    output_format: str
    runs: int
    mean_ms: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    std_ms: float | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    peak_memory_bytes: int | None = None
    memory_kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


def _find(pattern: str, text: str, scale: float = 1.0) -> float | None:
    match = re.search(pattern, text, flags=re.MULTILINE)
    return None if match is None else float(match.group(1)) * scale


def _unrecognised(tool: str, text: str) -> BenchmarkOutputError:
    head = " | ".join(line.strip() for line in text.strip().splitlines()[:3]) or "(no output)"
    return BenchmarkOutputError(f"{tool}: unrecognised output (first lines: {head[:300]})")


def parse_ort_perf_test(text: str) -> BenchmarkStats:
    """Parse ``onnxruntime_perf_test`` output (any generation listed in the module docstring).

    Raises:
        BenchmarkOutputError: no average latency or run count in the output.
    """
    mean = _find(rf"^Average (?:inference )?time cost:\s*{_NUM}\s*ms", text)
    runs = _find(r"^Total (?:inference requests|iterations):\s*(\d+)", text)
    if mean is None or runs is None:
        raise _unrecognised("onnxruntime_perf_test", text)
    modern = re.search(r"^P50 Latency(?::| is)\s", text, flags=re.MULTILINE) is not None
    old = re.search(r"^Total time cost:", text, flags=re.MULTILINE) is not None
    memory = _find(r"^Peak working set size:\s*(\d+)", text)
    return BenchmarkStats(
        tool="onnxruntime_perf_test",
        output_format="ort-1.8+" if modern else ("ort-1.0" if old else "ort-1.1"),
        runs=int(runs),
        mean_ms=mean,
        p50_ms=_find(rf"^P50 Latency(?::| is)\s*{_NUM}\s*s", text, 1e3),
        p90_ms=_find(rf"^P90 Latency(?::| is)\s*{_NUM}\s*s", text, 1e3),
        min_ms=_find(rf"^Min Latency(?::| is)\s*{_NUM}\s*s", text, 1e3),
        max_ms=_find(rf"^Max Latency(?::| is)\s*{_NUM}\s*s", text, 1e3),
        init_ms=_find(rf"^Session creation time cost:\s*{_NUM}\s*s", text, 1e3),
        first_ms=_find(rf"^First inference time cost:\s*{_NUM}\s*ms", text),
        peak_memory_bytes=None if memory is None else int(memory),
        memory_kind=None if memory is None else "peak_working_set",
    )


def _stat_line(text: str) -> dict[str, float] | None:
    """The ``count=...`` line of the timed (last) run phase, as numbers in microseconds."""
    lines = [line for line in text.splitlines() if re.search(r"(^|\s)count=\d+", line)]
    if not lines:
        return None
    fields = dict(re.findall(rf"(\w+)={_NUM}", lines[-1]))
    stats = {key: float(value) for key, value in fields.items()}
    if "(all same)" in lines[-1] or "avg" not in stats:
        stats.update(min=stats["curr"], max=stats["curr"], avg=stats["curr"], std=0.0)
    return stats


def _tflite_memory(text: str) -> tuple[int | None, str | None]:
    """The best memory figure the tool printed, in bytes, and what it is."""
    monitored = _find(
        rf"Overall peak memory footprint \(MB\) via periodic monitoring: {_NUM}", text
    )
    if monitored is not None:
        return round(monitored * 2**20), "peak_footprint"
    for label, kind in (
        ("Peak memory footprint", "peak_footprint"),
        ("Memory footprint delta from the start of the tool", "footprint_delta"),
    ):
        overall = _find(rf"{label} \(MB\): init={_NUM} overall=", text)
        if overall is not None:
            value = _find(rf"{label} \(MB\): init=[^ ]+ overall={_NUM}", text)
            return (None, None) if value is None else (round(value * 2**20), kind)
    return None, None


def _litert_compiled(text: str) -> BenchmarkStats | None:
    match = re.search(rf"Inference \(avg\):\s*{_NUM}\s*ms \((\d+) runs\)", text)
    if match is None:
        return None
    return BenchmarkStats(
        tool="benchmark_model",
        output_format="litert-compiled-model",
        runs=int(match.group(2)),
        mean_ms=float(match.group(1)),
        min_ms=_find(rf"Inference \(min\):\s*{_NUM}\s*ms", text),
        max_ms=_find(rf"Inference \(max\):\s*{_NUM}\s*ms", text),
        std_ms=_find(rf"Inference \(std\):\s*{_NUM}", text),
        init_ms=_find(rf"Model initialization:\s*{_NUM}\s*ms", text),
        first_ms=_find(rf"Warmup \(first\):\s*{_NUM}\s*ms", text),
    )


def parse_benchmark_model(text: str) -> BenchmarkStats:
    """Parse TensorFlow Lite / LiteRT ``benchmark_model`` output (see the module docstring).

    Raises:
        BenchmarkOutputError: the benchmark failed or the output has no inference timing.
    """
    if re.search(r"Benchmarking failed|Failed to (?:load|allocate|invoke|initialize)", text):
        lines = [line.strip() for line in text.splitlines()]
        errors = [line for line in lines if line.startswith("ERROR")]
        failures = [line for line in lines if "fail" in line.lower()]
        first = (errors or failures or ["no message"])[0]
        raise BenchmarkOutputError(f"benchmark_model reported a failure: {first[:200]}")
    compiled = _litert_compiled(text)
    if compiled is not None:
        return compiled
    modern = re.search(
        rf"Inference timings in us: Init: {_NUM}, First inference: {_NUM}, "
        rf"Warmup \(avg\): {_NUM}, Inference \(avg\): {_NUM}",
        text,
    )
    legacy = re.search(
        rf"Average inference timings in us: Warmup: {_NUM}, Init: {_NUM}, "
        rf"no stats: {_NUM}",
        text,
    )
    stats = _stat_line(text)
    if (modern is None and legacy is None) or stats is None:
        raise _unrecognised("benchmark_model", text)
    memory, memory_kind = _tflite_memory(text)
    if modern is not None:
        prefixed = re.search(r"^INFO: Inference timings", text, flags=re.MULTILINE)
        output_format = "tflite-2.13+" if prefixed else "tflite-2.x"
        init_us, first_us, mean_us = (float(modern.group(i)) for i in (1, 2, 4))
    elif legacy is not None:
        output_format, first_us = "tflite-1.x", None
        init_us, mean_us = float(legacy.group(2)), float(legacy.group(3))
    return BenchmarkStats(
        tool="benchmark_model",
        output_format=output_format,
        runs=int(stats["count"]),
        mean_ms=mean_us / 1e3,
        min_ms=stats["min"] / 1e3,
        max_ms=stats["max"] / 1e3,
        std_ms=stats["std"] / 1e3,
        init_ms=init_us / 1e3,
        first_ms=None if first_us is None else first_us / 1e3,
        peak_memory_bytes=memory,
        memory_kind=memory_kind,
    )
