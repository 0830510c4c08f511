"""The profiling agent: runs on the target device, profiles ONNX models sent by a search.

``prunefront agent`` (or ``python -m prunefront.agent`` where only numpy and onnxruntime are
installed) serves ``/v1/info`` and ``/v1/profile`` over HTTP with a shared token. It accepts an
ONNX model and nothing else, times it with ONNX Runtime like the local profiler times torch
(same statistics, same ``Measurement`` records), and reads the device's own power sensors. The
client side of the protocol (``AgentClient``), target parsing (``remote://``, ``adb://``) and the
adb backend for devices without Python live here too. Nothing in this package imports torch;
``prunefront.remote`` exports torch models and calls into it.
"""

from __future__ import annotations

from prunefront.agent._adb import (
    AdbDevice,
    AdbError,
    AdbResult,
    AdbRunner,
    ReplayedAdb,
    SubprocessAdbRunner,
    parse_adb_devices,
)
from prunefront.agent._adb_profile import (
    AdbSettings,
    BatteryTrace,
    parse_battery_trace,
    profile_on_adb,
    tool_for,
)
from prunefront.agent._benchmarks import (
    BenchmarkOutputError,
    BenchmarkStats,
    parse_benchmark_model,
    parse_ort_perf_test,
)
from prunefront.agent._client import AgentClient, RemoteRejected, RemoteUnavailable
from prunefront.agent._onnx_scan import OnnxSummary, scan_onnx
from prunefront.agent._protocol import (
    DEFAULT_PORT,
    INFO_PATH,
    PROFILE_HEADER,
    PROFILE_PATH,
    PROTOCOL_VERSION,
    InputSpec,
    ProfileRequest,
    ProtocolError,
)
from prunefront.agent._runner import profile_onnx
from prunefront.agent._serve import run_agent
from prunefront.agent._server import AgentConfig, AgentServer, is_loopback
from prunefront.agent._target import RemoteTarget, is_remote_target, parse_target
from prunefront.agent._token import (
    DEFAULT_TOKEN_FILE,
    TOKEN_ENV,
    load_or_create_token,
    read_token,
)

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TOKEN_FILE",
    "INFO_PATH",
    "PROFILE_HEADER",
    "PROFILE_PATH",
    "PROTOCOL_VERSION",
    "TOKEN_ENV",
    "AdbDevice",
    "AdbError",
    "AdbResult",
    "AdbRunner",
    "AdbSettings",
    "AgentClient",
    "AgentConfig",
    "AgentServer",
    "BatteryTrace",
    "BenchmarkOutputError",
    "BenchmarkStats",
    "InputSpec",
    "OnnxSummary",
    "ProfileRequest",
    "ProtocolError",
    "RemoteRejected",
    "RemoteTarget",
    "RemoteUnavailable",
    "ReplayedAdb",
    "SubprocessAdbRunner",
    "is_loopback",
    "is_remote_target",
    "load_or_create_token",
    "parse_adb_devices",
    "parse_battery_trace",
    "parse_benchmark_model",
    "parse_ort_perf_test",
    "parse_target",
    "profile_on_adb",
    "profile_onnx",
    "read_token",
    "run_agent",
    "scan_onnx",
    "tool_for",
]
