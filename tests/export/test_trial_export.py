"""From a real (tiny) search to a verified model: report, select, then export without retraining."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from prunefront.cli import main
from prunefront.config import RunConfig
from prunefront.search import plan_search, run_search

CONFIG = {
    "task": {"ref": "tiny", "options": {"epochs": 2}},
    "space": {"widths": [0.25, 0.5, 1.0], "sparsity_max": 0.95, "iso_levels": 1},
    "budget": {"bytes": 6000},
    "target": {"latency_min_time_s": 0.02, "latency_max_time_s": 0.3},
    "search": {"trials": 4, "study_name": "e2e", "sampler": "random", "pair_seeds": 1},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("e2e") / "run"
    data = {**CONFIG, "search": {**CONFIG["search"], "run_dir": str(folder)}}
    run_search(plan_search(RunConfig.from_dict(data)), say=lambda _: None)
    return folder


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_report_select_and_export_on_a_real_study(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["report", "--run", str(run_dir), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0, err
    with (tmp_path / "rep" / "trials.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4  # one row per trial
    assert (tmp_path / "rep" / "report.html").stat().st_size > 0
    code, out, err = cli(
        ["select", "--run", str(run_dir), "--max-bytes", "6000", "--prefer", "knee", "--json"],
        capsys,
    )
    assert code == 0, err
    chosen = json.loads(out)["chosen"]
    number = chosen if isinstance(chosen, int) else chosen["number"]
    code, out, err = cli(
        [
            "export",
            "--run",
            str(run_dir),
            "--trial",
            str(number),
            "--format",
            "onnx",
            "--out",
            str(tmp_path / "model.onnx"),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    verification = json.loads(out)
    assert verification["ok"] and verification["outputs_match"]
    assert verification["max_abs_error"] < 1e-4
    assert (tmp_path / "model.onnx").stat().st_size == verification["file_bytes"]
    assert verification["latency_ms"] > 0 and verification["latency_reference_ms"] > 0
    # compressed: within 5 % of the footprint plus the graph, far below the dense ONNX file
    assert verification["file_bytes"] <= verification["size_limit_bytes"]
    assert verification["size_limit_bytes"] == int(1.05 * verification["footprint_bytes"]) + 8192
    assert verification["file_bytes"] < verification["dense_onnx_bytes"]
    assert verification["latency_dense_onnx_ms"] > 0


@pytest.mark.parametrize("fmt", ["pt", "sparse", "onnx-dense"])
def test_other_formats_verify_and_the_sparse_file_matches_the_footprint(
    fmt: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / f"model.{fmt}"
    code, out, err = cli(
        [
            "export",
            "--run",
            str(run_dir),
            "--trial",
            "1",
            "--format",
            fmt,
            "--out",
            str(out_path),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    verification = json.loads(out)
    assert verification["ok"] and out_path.is_file()
    if fmt == "sparse":  # the payload is the footprint; the small JSON header is the only extra
        extra = verification["file_bytes"] - verification["footprint_bytes"]
        assert 0 <= extra <= 512


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--trial", "99"], "trials 0..3"),
        (["--trial", "0", "--format", "tflite"], "tflite"),
        (["--trial", "0", "--study", "nope"], "'nope' not found"),
    ],
)
def test_bad_export_input_is_one_line_exit_two_and_writes_nothing(
    args: list[str], needle: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "x.onnx"
    code, out, err = cli(["export", "--run", str(run_dir), "--out", str(out_path), *args], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err
    assert not out_path.exists()


def test_export_into_a_missing_folder_is_refused(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        ["export", "--run", str(run_dir), "--trial", "0", "--out", str(tmp_path / "no" / "m.onnx")],
        capsys,
    )
    assert code == 2 and "does not exist" in err


def test_export_into_a_folder_that_takes_no_files_is_refused_before_any_work(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # /proc passes a permission check as root, and the export used to fail only once written.
    import prunefront.export._trial as trial_module

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the trial's model was loaded before --out was checked")

    monkeypatch.setattr(trial_module, "trial_model", must_not_run)
    code, out, err = cli(
        ["export", "--run", str(run_dir), "--trial", "0", "--out", "/proc/x.onnx"], capsys
    )
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "cannot create files in /proc" in err
