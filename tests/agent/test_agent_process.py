"""A real agent process on loopback: info, profile, fairness against local ONNX Runtime, security
(token, size, payload), one profile at a time, and clear failures when the agent dies."""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import onnxruntime as ort
import pytest
import typer
from onnx import TensorProto, helper
from typer.testing import CliRunner

from prunefront.agent import (
    PROFILE_HEADER,
    AgentClient,
    InputSpec,
    ProfileRequest,
    RemoteRejected,
    RemoteUnavailable,
)
from prunefront.commands import doctor, profile
from prunefront.profilers import ProfileResult, ProfileSettings
from prunefront.remote import profile_remote
from prunefront.sensors import LatencySettings
from prunefront.testing import TinyConvTask


def _raw(
    port: int, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_info_reports_onnxruntime_providers_and_the_devices_sensors(agent: Any) -> None:
    info = agent.client().info()
    assert info["protocol"] == 1
    assert "CPUExecutionProvider" in info["providers"]
    assert info["device"]["onnxruntime_version"] == ort.__version__
    assert info["limits"]["max_upload_bytes"] == 2**20
    battery = {s["name"]: s for s in info["sensors"]}["battery"]
    assert battery["available"] and battery["method"] == "battery_current"


def test_profile_returns_measured_latency_and_device_energy_records(
    agent: Any, candidate: Any, quick_request: Any
) -> None:
    export, _ = candidate
    request = replace(quick_request(export), energy="battery")
    document = agent.client().profile(export.path.read_bytes(), request)
    latency = document["records"]["latency_ms"]
    assert latency["kind"] == "measured" and latency["method"] == "perf_counter"
    assert latency["value"] > 0 and latency["details"]["p90_ms"] >= latency["value"]
    power = document["records"]["power_w"]
    # The fake battery draws 500 mA at 4.0 V for the whole window.
    assert power["kind"] == "measured" and power["method"] == "battery_current"
    assert power["value"] == pytest.approx(2.0, rel=1e-6)
    assert power["details"]["sample_rate_hz"] > 0 and power["window_s"] > 0
    assert document["batch_size"] == 32
    assert document["model"]["nodes"] > 0


# The local side runs in a fresh process of its own, as the agent does: timed inside this pytest
# process (torch loaded, a trained model's allocations, the agent client's threads), ONNX Runtime
# was steadily 30 % slower than the same session in the agent (medians 0.226 against 0.156 ms in
# CI), which failed the test without any fault in the agent.
_LOCAL_TIMER = """
import sys
import numpy as np
import onnxruntime as ort
from prunefront.sensors import LatencySettings, perf_counter_timer, time_interleaved

path, shape = sys.argv[1], tuple(int(n) for n in sys.argv[2].split(","))
options = ort.SessionOptions()
options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
feeds = {name: np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")}
settings = LatencySettings(min_time_s=0.2, max_time_s=1.0)
print("ready", flush=True)
for _ in sys.stdin:
    stats = time_interleaved(
        {"local": lambda: session.run(None, feeds)}, settings=settings, timer=perf_counter_timer()
    )
    print(stats["local"].p50_ms, flush=True)
"""


def test_remote_latency_is_within_25_percent_of_local_onnxruntime(
    agent: Any, candidate: Any, quick_request: Any
) -> None:
    export, inputs = candidate
    request = quick_request(export, min_time_s=0.2)
    shape = ",".join(str(n) for n in inputs[0].shape)
    local_process = subprocess.Popen(
        [sys.executable, "-c", _LOCAL_TIMER, str(export.path), shape],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert local_process.stdin is not None and local_process.stdout is not None
    try:
        assert local_process.stdout.readline().strip() == "ready"
        local, remote = [], []
        client = agent.client()
        for _ in range(5):  # interleaved, so a noisy neighbour hits both sides alike
            local_process.stdin.write("time\n")
            local_process.stdin.flush()
            local.append(float(local_process.stdout.readline()))
            remote.append(
                client.profile(export.path.read_bytes(), request)["records"]["latency_ms"]["value"]
            )
    finally:
        local_process.kill()
        local_process.wait()
    # Five interleaved rounds; the median round of each side, so one round that a neighbour
    # slowed (or a lucky fast one: a lone 0.105 ms against 0.14 ms otherwise failed it) does
    # not decide.
    ratio = statistics.median(remote) / statistics.median(local)
    print(f"remote/local latency ratio {ratio:.3f} (remote {remote}, local {local})")
    assert 0.75 <= ratio <= 1.25, f"remote/local = {ratio:.3f} (remote {remote}, local {local})"


def test_missing_or_wrong_token_is_refused_with_401(agent: Any, candidate: Any) -> None:
    export, _ = candidate
    assert _raw(agent.port, "GET", "/v1/info")[0] == 401
    wrong = "x" * len(agent.token)
    assert _raw(agent.port, "GET", "/v1/info", Authorization=f"Bearer {wrong}")[0] == 401
    status, body = _raw(
        agent.port, "POST", "/v1/profile", export.path.read_bytes(), Authorization="Bearer nope"
    )
    assert status == 401 and body["error"] == "missing or wrong token"
    client = AgentClient("127.0.0.1", agent.port, wrong)
    with pytest.raises(RemoteRejected, match="refused the token") as caught:
        client.info()
    assert caught.value.status == 401


def test_oversized_upload_is_refused_with_413(agent: Any) -> None:
    status, body = _raw(
        agent.port,
        "POST",
        "/v1/profile",
        b"\0" * (2**20 + 1),
        Authorization=f"Bearer {agent.token}",
    )
    assert status == 413 and str(2**20) in body["error"]


def test_a_payload_that_is_not_onnx_is_refused_with_400(
    agent: Any, candidate: Any, quick_request: Any
) -> None:
    export, _ = candidate
    header = json.dumps(quick_request(export).to_dict())
    for payload in (b"import os; os.system('reboot')", b"PK\x03\x04" + b"\0" * 64):
        status, body = _raw(
            agent.port,
            "POST",
            "/v1/profile",
            payload,
            Authorization=f"Bearer {agent.token}",
            **{PROFILE_HEADER: header},
        )
        assert status == 400 and "not an ONNX model" in body["error"]
    status, body = _raw(
        agent.port,
        "POST",
        "/v1/profile",
        export.path.read_bytes(),
        Authorization=f"Bearer {agent.token}",
        **{PROFILE_HEADER: '{"inputs": [], "threads": "all"}'},
    )
    assert status == 400 and body["error"].startswith("threads = 'all'")
    status, body = _raw(
        agent.port,
        "POST",
        "/v1/profile",
        b"",
        **{"Content-Length": "-1"},
        Authorization=f"Bearer {agent.token}",
    )
    assert status == 400 and "not a byte count" in body["error"]


def test_two_concurrent_profiles_never_overlap(
    agent: Any, candidate: Any, quick_request: Any
) -> None:
    export, _ = candidate
    request, model = quick_request(export, min_time_s=0.2, max_time_s=0.4), export.path.read_bytes()
    timings: list[dict[str, float]] = []

    def profile() -> None:
        timings.append(agent.client().profile(model, request)["timing"])

    threads = [threading.Thread(target=profile) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(timings) == 2
    first, second = sorted(timings, key=lambda t: t["started_s"])
    assert first["finished_s"] <= second["started_s"]
    assert second["queued_s"] > 0  # it waited for the first one


def test_the_token_never_appears_in_the_agent_log(agent: Any) -> None:
    agent.client().info()
    _raw(agent.port, "GET", "/v1/info", Authorization=f"Bearer {agent.token}x")
    log = agent.log()
    assert "GET /v1/info" in log
    assert agent.token not in log


def test_a_busy_agent_answers_429_when_told_not_to_wait(
    make_agent: Any, candidate: Any, quick_request: Any
) -> None:
    export, _ = candidate
    busy = make_agent("--queue-wait-s", "0")
    slow = quick_request(export, min_time_s=0.5, max_time_s=0.6)
    worker = threading.Thread(target=lambda: busy.client().profile(export.path.read_bytes(), slow))
    worker.start()
    time.sleep(0.2)  # the first profile holds the device now
    status, body = _raw(
        busy.port,
        "POST",
        "/v1/profile",
        export.path.read_bytes(),
        Authorization=f"Bearer {busy.token}",
        **{PROFILE_HEADER: json.dumps(slow.to_dict())},
    )
    worker.join(timeout=30)
    assert status == 429 and "busy" in body["error"]


def test_killing_the_agent_mid_request_raises_remote_unavailable_after_bounded_retries(
    make_agent: Any, candidate: Any, quick_request: Any
) -> None:
    export, _ = candidate
    doomed = make_agent()
    client = doomed.client(retries=2, backoff_s=0.05, timeout_s=10.0)
    killer = threading.Timer(0.3, doomed.kill)
    killer.start()
    started = time.monotonic()
    with pytest.raises(RemoteUnavailable, match=r"after 3 attempts .*connection refused"):
        client.profile(
            export.path.read_bytes(), quick_request(export, min_time_s=3.0, max_time_s=5.0)
        )
    assert time.monotonic() - started < 5.0


def test_a_request_longer_than_the_agents_time_limit_is_refused(
    agent: Any, candidate: Any, quick_request: Any
) -> None:
    export, _ = candidate
    with pytest.raises(RemoteRejected, match="exceeds this agent's limit of 30 s"):
        agent.client().profile(export.path.read_bytes(), quick_request(export, max_time_s=60.0))


def test_importing_the_agent_and_its_command_does_not_import_torch() -> None:
    code = (
        "import sys, prunefront.agent, prunefront.commands._agent, prunefront.agent.__main__, "
        "prunefront.sensors; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_profile_remote_returns_a_profile_result_like_a_local_one(agent: Any) -> None:
    task = TinyConvTask()
    target = f"remote://127.0.0.1:{agent.port}"
    result = profile_remote(
        task.build(0.5),
        task.example_inputs(4),
        target,
        token_file=agent.token_file,
        threads=1,
        energy="off",
        settings=ProfileSettings(latency=LatencySettings(min_time_s=0.2, max_time_s=0.5)),
    )
    assert isinstance(result, ProfileResult)
    assert result.latency_ms.kind == "measured" and result.latency_ms.method == "perf_counter"
    assert result.strategy == "onnxruntime" and result.batch_size == 4
    assert result.strategies[0].matches_reference is True
    assert result.device["device"] == target and result.device["transport"] == "agent"
    assert result.energy.energy_mj.kind == "unavailable"
    assert "turned off" in (result.energy.energy_mj.reason or "")
    assert ProfileResult.from_dict(result.to_dict()).latency_ms == result.latency_ms


def test_profile_remote_to_a_dead_device_raises_remote_unavailable() -> None:
    task = TinyConvTask()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RemoteUnavailable, match=f"127.0.0.1:{port} unavailable after 2 attempts"):
        profile_remote(
            task.build(0.5),
            task.example_inputs(1),
            f"remote://127.0.0.1:{port}",
            token="t" * 20,
            retries=1,
            backoff_s=0.01,
        )


@pytest.mark.slow
def test_the_profile_command_accepts_a_remote_device(agent: Any) -> None:
    app = typer.Typer()
    app.command("profile")(profile)
    app.command("doctor")(doctor)  # two commands: typer keeps "profile" as a subcommand
    arguments = [
        "profile",
        "--task",
        "tiny",
        "--sparsity",
        "0.5",
        "--batch-size",
        "2",
        "--device",
        f"remote://127.0.0.1:{agent.port}",
        "--token-file",
        str(agent.token_file),
        "--threads",
        "1",
        "--energy",
        "off",
        "--json",
    ]
    done = CliRunner().invoke(app, arguments)
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["device"]["device"] == f"remote://127.0.0.1:{agent.port}"
    assert document["latency_ms"]["kind"] == "measured"
    assert document["latency_ms"]["strategy"] == "onnxruntime"
    assert document["candidate"]["sparsity"] == 0.5


def _endless_loop_model() -> bytes:
    """A valid ONNX model whose one ``Loop`` would run for 10^12 iterations."""
    value = helper.make_tensor_value_info
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["x_in", "one"], ["x_out"]),
        ],
        "body",
        [
            value("i", TensorProto.INT64, []),
            value("cond_in", TensorProto.BOOL, []),
            value("x_in", TensorProto.FLOAT, [1]),
        ],
        [value("cond_out", TensorProto.BOOL, []), value("x_out", TensorProto.FLOAT, [1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "c", "X"], ["Y"], body=body)],
        "endless",
        [value("X", TensorProto.FLOAT, [1])],
        [value("Y", TensorProto.FLOAT, [1])],
        [
            helper.make_tensor("M", TensorProto.INT64, [], [10**12]),
            helper.make_tensor("c", TensorProto.BOOL, [], [True]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_a_run_that_overruns_the_time_limit_is_stopped_with_422(make_agent: Any) -> None:
    limited = make_agent("--max-profile-s", "0.6")
    request = ProfileRequest(
        inputs=(InputSpec(name="X", shape=(1,), dtype="float32"),),
        energy="off",
        latency=LatencySettings(min_time_s=0.1, max_time_s=0.4),
    )
    started = time.monotonic()
    with pytest.raises(RemoteRejected, match="exceeded the agent's time limit") as caught:
        limited.client().profile(_endless_loop_model(), request)
    assert caught.value.status == 422
    assert time.monotonic() - started < 5.0
    assert limited.client().info()["busy"] is False  # the device is free again


def test_after_a_401_the_agent_closes_without_reading_a_dripped_body(agent: Any) -> None:
    with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/profile HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer nope\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        started, answer = time.monotonic(), b""
        sock.settimeout(0.5)
        while time.monotonic() - started < 8:  # a byte every 0.5 s, as a slow-loris client
            try:
                sock.sendall(b"x")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset: the agent closed on the unread body
                break
            if not chunk:
                break  # closed
            answer += chunk
        held_s = time.monotonic() - started
    assert held_s < 3, f"the agent held an unauthenticated connection {held_s:.1f} s"
    assert answer.startswith(b"HTTP/1.0 401") or answer.startswith(b"HTTP/1.1 401") or not answer


@pytest.mark.parametrize("option", ["--max-upload-mb", "--max-profile-s", "--queue-wait-s"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_agent_options_nan_and_inf_are_one_line_errors_at_start_up(
    option: str, value: str, tmp_path: Any
) -> None:
    from prunefront.agent._serve import run_agent
    from prunefront.errors import PrunefrontError

    limits = {"max_upload_mb": 8.0, "max_profile_s": 60.0, "queue_wait_s": 5.0}
    limits[option.removeprefix("--").replace("-", "_")] = float(value)
    with pytest.raises(PrunefrontError, match=f"^{option} = {value}: must be a finite number"):
        run_agent(
            host="127.0.0.1",
            port=0,
            token_file=tmp_path / "token",
            sensor_root=tmp_path,
            **limits,
        )
    assert not (tmp_path / "token").exists()  # nothing written
