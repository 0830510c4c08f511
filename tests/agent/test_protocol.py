"""The wire protocol without a server: request validation, the ONNX payload check, targets, token
files and the client's bounded retries."""

from __future__ import annotations

import logging
import re
import socket
import stat
from pathlib import Path

import numpy as np
import onnx
import pytest
import typer
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from prunefront.agent import (
    AgentClient,
    AgentConfig,
    AgentServer,
    InputSpec,
    ProfileRequest,
    ProtocolError,
    RemoteUnavailable,
    is_loopback,
    load_or_create_token,
    parse_target,
    read_token,
    scan_onnx,
)
from prunefront.commands import agent
from prunefront.errors import PrunefrontError
from prunefront.export import export_onnx
from prunefront.testing import TinyLstmTask


def _request(**changes: object) -> dict:
    data: dict = {
        "inputs": [{"name": "input_0", "shape": [1, 16], "dtype": "float32"}],
        "threads": 1,
        "latency": {"min_time_s": 0.1, "max_time_s": 1.0},
    }
    data.update(changes)
    return data


def test_a_request_round_trips_through_json() -> None:
    request = ProfileRequest.from_dict(_request())
    assert ProfileRequest.from_dict(request.to_dict()) == request
    assert request.effective_batch_size == 1
    assert request.budget_s() == pytest.approx(1.0 + request.energy_window.idle_s + 30.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threads": 0}, "threads = 0"),
        ({"threads": "4"}, "threads = '4'"),
        ({"inputs": []}, "inputs: give at least one input"),
        ({"inputs": [{"shape": [0, 4]}]}, "every dimension must be >= 1"),
        ({"inputs": [{"shape": [65536, 65536]}]}, "at most 268435456 elements"),
        ({"inputs": [{"shape": [1], "dtype": "object"}]}, "inputs.dtype = 'object'"),
        ({"latency": {"warmup_runs": "3"}}, "latency.warmup_runs = '3': must be a number"),
        ({"latency": {"min_repeats": 2.5}}, "latency.min_repeats = 2.5: must be an integer"),
        ({"latency": {"max_time_s": -1}}, "latency.max_time_s = -1"),
        ({"command": "rm -rf /"}, "unknown request key(s) ['command']"),
        ({"protocol": 2}, "this agent speaks 1"),
    ],
)
def test_a_bad_request_names_the_key(changes: dict, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)) as caught:
        ProfileRequest.from_dict(_request(**changes))
    assert caught.value.status == 400


def test_an_exported_lstm_passes_the_payload_check(tmp_path: Path) -> None:
    task = TinyLstmTask()
    export = export_onnx(task.build(1.0), task.example_inputs(2), tmp_path / "lstm.onnx")
    summary = scan_onnx(export.path.read_bytes())
    assert summary.opsets[""] == 17 and summary.nodes > 0 and summary.initializers > 0


def _external_model(in_subgraph: bool) -> bytes:
    weight = numpy_helper.from_array(np.ones(4, np.float32), "W")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "../../etc/shadow"
    value_info = helper.make_tensor_value_info
    if not in_subgraph:
        graph = helper.make_graph(
            [helper.make_node("Add", ["X", "W"], ["Y"])],
            "g",
            [value_info("X", TensorProto.FLOAT, [4])],
            [value_info("Y", TensorProto.FLOAT, [4])],
            [weight],
        )
    else:
        body = helper.make_graph(
            [helper.make_node("Constant", [], ["Z"], value=weight)],
            "body",
            [],
            [value_info("Z", TensorProto.FLOAT, [4])],
        )
        graph = helper.make_graph(
            [helper.make_node("If", ["c"], ["Y"], then_branch=body, else_branch=body)],
            "g",
            [value_info("c", TensorProto.BOOL, [])],
            [value_info("Y", TensorProto.FLOAT, [4])],
        )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("in_subgraph", [False, True])
def test_a_model_pointing_at_external_files_is_refused(in_subgraph: bool) -> None:
    with pytest.raises(ProtocolError, match="tensor 'W' keeps its data in an external file"):
        scan_onnx(_external_model(in_subgraph))


@pytest.mark.parametrize(
    "payload", [b"", b"#!/bin/sh\nreboot\n", b"\x08\x07", onnx.ModelProto().SerializeToString()]
)
def test_anything_but_an_onnx_model_is_refused(payload: bytes) -> None:
    with pytest.raises(ProtocolError, match=r"empty|not an ONNX model") as caught:
        scan_onnx(payload)
    assert caught.value.status == 400


def test_targets_parse_and_bad_ones_name_the_format() -> None:
    target = parse_target("remote://jetson.local:9000")
    assert (target.kind, target.host, target.port) == ("agent", "jetson.local", 9000)
    assert parse_target("remote://[::1]:8765").host == "::1"
    assert parse_target("remote://10.0.0.7").port == 8765
    assert parse_target("adb://192.168.1.20:5555").serial == "192.168.1.20:5555"
    assert parse_target("adb://").serial is None
    for bad in ("ssh://pi:22", "remote://:9000", "remote://pi:99999", "cuda:0"):
        with pytest.raises(PrunefrontError, match="remote://HOST:PORT"):
            parse_target(bad)


def test_the_token_file_is_created_private_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cfg" / "agent-token"
    token, where, created = load_or_create_token(path)
    assert created and where == path and len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(path) == (token, path, False)
    assert read_token(token_file=path) == token
    monkeypatch.setenv("PRUNEFRONT_AGENT_TOKEN", "e" * 20)
    assert read_token() == "e" * 20
    (tmp_path / "short").write_text("abc\n")
    with pytest.raises(PrunefrontError, match="at least 16 printable characters"):
        read_token(token_file=tmp_path / "short")
    with pytest.raises(PrunefrontError, match="no-such-file"):
        read_token(token_file=tmp_path / "no-such-file")


def test_the_client_retries_a_refused_connection_a_bounded_number_of_times() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    client = AgentClient("127.0.0.1", port, "t" * 20, retries=3, backoff_s=0.5, sleep=waits.append)
    request = ProfileRequest(inputs=(InputSpec(name=None, shape=(1,), dtype="float32"),))
    with pytest.raises(RemoteUnavailable, match=r"after 4 attempts .*connection refused"):
        client.profile(b"model", request)
    assert waits == [0.5, 1.0, 2.0]  # exponential back-off, then give up
    assert "t" * 20 not in repr(client)


def test_the_agent_binds_loopback_by_default_and_warns_when_told_otherwise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert AgentConfig(token="k" * 20).host == "127.0.0.1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    with caplog.at_level(logging.WARNING, logger="prunefront.agent"):
        server = AgentServer(AgentConfig(token="k" * 20, host="0.0.0.0", port=0))
        server.server_close()
    assert "reachable from the network" in caplog.text
    assert "k" * 20 not in caplog.text and "k" * 20 not in repr(server.config)


def test_the_agent_command_rejects_bad_limits_before_listening() -> None:
    app = typer.Typer()
    app.command("agent")(agent)
    app.command("other")(agent)
    done = CliRunner().invoke(app, ["agent", "--port", "70000"])
    assert isinstance(done.exception, PrunefrontError)
    assert "--port = 70000" in str(done.exception)


def test_the_input_cap_holds_for_the_whole_request_not_each_input() -> None:
    big = InputSpec(name=None, shape=(2**28,), dtype="float32")  # 1 GiB: one is allowed ...
    ProfileRequest(inputs=(big,))
    with pytest.raises(ProtocolError, match="at most 1073741824 bytes of inputs"):
        ProfileRequest(inputs=(big, big))  # ... two are not
    with pytest.raises(ProtocolError, match="bytes of inputs"):
        ProfileRequest(inputs=(InputSpec(name=None, shape=(64, 2**22), dtype="float64"),))


def test_generating_the_inputs_counts_against_the_profile_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from onnx import TensorProto

    from prunefront.agent import _runner

    names = ["a", "b", "c"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in names]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Sum", names, ["y"])], "g", inputs, [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    generate = _runner._generate

    def slow_generate(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
        time.sleep(1.5)  # as 64 x 2^28 elements would take, only shorter
        return generate(spec, rng)

    monkeypatch.setattr(_runner, "_generate", slow_generate)
    spec = InputSpec(name=None, shape=(1, 4), dtype="float32")
    request = ProfileRequest(inputs=(spec, spec, spec))
    started = time.monotonic()
    with pytest.raises(ProtocolError, match="time limit") as caught:
        _runner.profile_onnx(model.SerializeToString(), request, deadline_s=started + 1.0)
    assert caught.value.status == 422
    # Stopped after the first slow input, not after all three (4.5 s).
    assert time.monotonic() - started < 3.0
