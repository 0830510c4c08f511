"""``doctor_report`` and the ``profile`` / ``doctor`` commands (on a test app)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

import prunefront.tasks
from prunefront.commands import doctor, profile
from prunefront.errors import PrunefrontError
from prunefront.profilers import NvmlUnavailable, PynvmlReader, doctor_report
from prunefront.testing import write_rapl_tree


def _nvml_works() -> bool:
    try:
        PynvmlReader(0).close()
    except NvmlUnavailable:
        return False
    return True


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("profile")(profile)
    app.command("doctor")(doctor)
    return app


def test_doctor_reports_a_readable_rapl_tree_and_its_zones(tmp_path: Path) -> None:
    write_rapl_tree(tmp_path, [("package-0", 10), ("package-1", 20)])
    report = doctor_report(rapl_root=tmp_path)
    assert report["rapl"]["readable"] is True
    assert report["rapl"]["zones"] == ["package-0", "package-1"]
    assert report["energy"]["cpu"] == "rapl"


def test_doctor_explains_a_missing_rapl(tmp_path: Path) -> None:
    report = doctor_report(rapl_root=tmp_path / "none")
    assert report["rapl"]["readable"] is False
    assert "no RAPL zones" in report["rapl"]["reason"]
    assert report["energy"]["cpu"].startswith("unavailable: ")
    assert report["latency"]["cpu"] == "perf_counter"


@pytest.mark.skipif(torch.cuda.is_available() or _nvml_works(), reason="machine has a GPU")
def test_doctor_on_a_cpu_only_machine_explains_cuda_and_nvml() -> None:
    report = doctor_report()
    assert report["cuda"]["available"] is False and report["cuda"]["reason"]
    assert report["nvml"]["available"] is False
    assert "driver" in report["nvml"]["reason"]
    assert report["energy"]["cuda"].startswith("unavailable: ")


def test_doctor_json_prints_exactly_one_document(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {"cuda", "nvml", "rapl", "codecarbon", "energy", "memory"} <= set(document)


def test_doctor_table_names_every_sensor(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    for word in ("CPU energy", "GPU energy", "NVML", "codecarbon"):
        assert word in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--energy", "sometimes"], "energy"),
        (["--batch-size", "0"], "--batch-size"),
        (["--threads", "0"], "--threads"),
        (["--device", "tpu"], "device"),
        (["--checkpoint", "/nonexistent/file.pfs"], "--checkpoint"),
    ],
)
def test_profile_rejects_bad_options_with_one_line(
    app: typer.Typer, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["profile", "--task", "mnist1d-cnn", *args])
    assert isinstance(result.exception, PrunefrontError)
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_profile_without_task_or_checkpoint_is_a_user_error(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["profile"])
    assert isinstance(result.exception, PrunefrontError)
    assert "--task" in str(result.exception)


@pytest.mark.skipif(
    not hasattr(prunefront.tasks, "resolve_task"), reason="prunefront.tasks.resolve_task missing"
)
def test_profile_json_of_a_pruned_builtin_task(app: typer.Typer) -> None:
    result = CliRunner().invoke(
        app,
        [
            "profile",
            "--task",
            "mnist1d-cnn",
            "--width",
            "0.5",
            "--sparsity",
            "0.9",
            "--batch-size",
            "4",
            "--threads",
            "1",
            "--energy",
            "off",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["candidate"]["sparsity"] == 0.9
    assert document["latency_ms"]["kind"] == "measured"
    assert document["latency_ms"]["value"] > 0
    assert document["energy_mj"]["value"] is None
    assert document["batch_size"] == 4
    # the footprint model's prediction and the real file agree (the header is the only extra)
    assert 0 < document["footprint_bytes"] < document["footprint_dense_bytes"]
    assert 0 <= document["file_bytes"] - document["footprint_bytes"] <= 512


@pytest.mark.skipif(
    not hasattr(prunefront.tasks, "resolve_task"), reason="prunefront.tasks.resolve_task missing"
)
def test_profile_of_a_sparse_checkpoint_uses_its_metadata(app: typer.Typer, tmp_path: Path) -> None:
    from prunefront.pruning import magnitude_prune
    from prunefront.spaces import save_sparse
    from prunefront.tasks import resolve_task

    model = resolve_task("tiny-lstm").build(1.0)
    magnitude_prune(model, 0.8)
    path = tmp_path / "lstm.pfs"
    metadata = {"task": "tiny-lstm", "width": 1.0, "sparsity": 0.8, "pattern": "unstructured"}
    save_sparse(path, model, metadata=metadata)
    result = CliRunner().invoke(
        app,
        ["profile", "--checkpoint", str(path), "--batch-size", "2", "--energy", "off", "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["candidate"]["task"] == "tiny-lstm"
    assert document["candidate"]["sparsity"] == 0.8
    assert document["candidate"]["checkpoint"] == str(path)
    csr = next(s for s in document["strategies"] if s["name"] == "csr")
    assert "nn.LSTM" in csr["reason"]
