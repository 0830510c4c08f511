"""The command line: JSON contracts, one-line errors with exit code 2, one spelling per flag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import prunefront
from prunefront.export import model_from_checkpoint
from prunefront.pruning import PolynomialDecay
from prunefront.spaces import load_sparse, model_footprint
from prunefront.tasks import resolve_task
from prunefront.testing import run_cli


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run_cli([*args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)  # exactly one JSON document, nothing else on stdout


def test_schedule_json_matches_the_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        [
            "schedule",
            "--initial",
            "0",
            "--final",
            "0.9",
            "--begin-step",
            "10",
            "--end-step",
            "110",
            "--frequency",
            "20",
            "--steps",
            "0,10,30,60,110,200",
        ],
        capsys,
    )
    sched = PolynomialDecay(final_sparsity=0.9, begin_step=10, end_step=110, frequency=20)
    assert [p["step"] for p in doc["points"]] == [0, 10, 30, 60, 110, 200]
    for point in doc["points"]:
        assert point["sparsity"] == pytest.approx(sched.sparsity(point["step"]))
        assert point["mask_update"] == sched.is_update_step(point["step"])
    assert doc["notes"] == []


def test_footprint_json_has_the_contract_keys_and_budget_intervals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = run_json(
        [
            "footprint",
            "--task",
            "tiny",
            "--width",
            "1.0",
            "--sparsity",
            "0.9",
            "--max-bytes",
            "3000",
        ],
        capsys,
    )
    for key in ("params_total", "params_prunable", "params_nonzero", "format", "footprint_bytes"):
        assert key in doc
    assert {"dense", "bitmask", "csr16", "relidx4", "paper4", "auto"} <= set(doc["bytes"])
    real_formats = {k: v for k, v in doc["bytes"].items() if not k.startswith("paper")}
    assert doc["footprint_bytes"] == doc["bytes"]["auto"] == min(real_formats.values())
    assert doc["bytes"]["paper4"] <= doc["bytes"]["auto"]  # the paper's idealised accounting
    interval = doc["feasible"]["1.0"]
    assert interval is not None
    task = resolve_task("tiny")
    at_min = model_footprint(task.build(1.0), sparsity=interval["min_sparsity"])
    assert at_min.footprint_bytes <= 3000
    below = model_footprint(task.build(1.0), sparsity=interval["min_sparsity"] - 0.01)
    assert below.footprint_bytes > 3000


def test_train_json_and_checkpoint_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cand.pfs"
    doc = run_json(
        [
            "train",
            "--task",
            "tiny",
            "--width",
            "1.0",
            "--sparsity",
            "0.75",
            "--seed",
            "3",
            "--checkpoint",
            str(path),
        ],
        capsys,
    )
    assert doc["task"] == "tiny" and doc["width"] == 1.0 and doc["sparsity_target"] == 0.75
    assert doc["sparsity_actual"] == pytest.approx(0.75, abs=1e-3)
    assert doc["metric"]["name"] == "accuracy" and doc["metric"]["direction"] == "maximize"
    assert 0.0 <= doc["metric"]["value"] <= 1.0
    assert doc["params_nonzero"] < doc["params_total"]
    assert doc["train_seconds"] > 0
    checkpoint = load_sparse(path)
    assert checkpoint.metadata["task"] == "tiny" and checkpoint.metadata["seed"] == 3
    assert path.stat().st_size == doc["saved"]["bytes"]
    assert path.stat().st_size <= doc["footprint_bytes"] * 1.10


def test_train_max_bytes_holds_the_real_footprint(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--task", "tiny", "--sparsity", "0.8", "--storage-format", "relidx4"]
    free = run_json(args, capsys)
    assert free["fit_note"] == ""
    cap = int(free["footprint_bytes"] * 0.99)
    capped = run_json([*args, "--max-bytes", str(cap)], capsys)
    assert capped["footprint_bytes"] <= cap < free["footprint_bytes"]
    assert capped["sparsity_actual"] > free["sparsity_actual"]
    assert f"over the {cap} B cap" in capped["fit_note"]
    code, out, _ = run_cli([*args, "--max-bytes", str(cap)], capsys)
    assert code == 0 and "fitted to --max-bytes" in out


def test_two_four_pattern_is_trained_as_two_four(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        ["train", "--task", "tiny", "--width", "0.5", "--sparsity", "0.5", "--pattern", "2:4"],
        capsys,
    )
    assert doc["pattern"] == "2:4"
    assert doc["sparsity_actual"] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--task", "no-such-task"], "unknown task"),
        (["train", "--task", "tiny", "--width", "0"], "width"),
        (["train", "--task", "tiny", "--width", "1.5"], "width"),
        (["train", "--task", "tiny", "--sparsity", "1.0"], "sparsity"),
        (["train", "--task", "tiny", "--sparsity", "0.5", "--pattern", "3:2"], "3:2"),
        (["train", "--task", "tiny", "--storage-format", "zip"], "zip"),
        (["train", "--task", "tiny", "--dtype", "float64"], "float64"),
        (["train", "--task", "tiny", "--sparsity", "0.5", "--max-bytes", "0"], "--max-bytes"),
        (["train", "--task", "tiny", "--max-bytes", "100"], "a dense candidate"),
        (["footprint", "--task", "tiny", "--dtype", "float64"], "float64"),
        (["footprint", "--task", "tiny", "--max-bytes", "-5"], "--max-bytes"),
        (
            ["schedule", "--final", "0.5", "--begin-step", "9", "--end-step", "3", "--steps", "0"],
            "end_step",
        ),
        (
            ["schedule", "--final", "0.5", "--end-step", "3", "--frequency", "0", "--steps", "0"],
            "frequency",
        ),
        (["schedule", "--final", "1.0", "--end-step", "3", "--steps", "0"], "final_sparsity"),
        (["schedule", "--final", "0.5", "--end-step", "3", "--steps", "a,b"], "--steps"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_task_module_that_fails_to_import_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken_task_mod.py").write_text("import definitely_not_installed_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run_cli(["train", "--task", "broken_task_mod:TASK"], capsys)
    assert code == 2
    assert "broken_task_mod" in err and len(err.strip().splitlines()) == 1


def test_failed_validation_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.pfs"
    code, _, _ = run_cli(
        [
            "train",
            "--task",
            "tiny",
            "--sparsity",
            "0.5",
            "--pattern",
            "3:2",
            "--checkpoint",
            str(target),
        ],
        capsys,
    )
    assert code == 2 and not target.exists()
    code, _, err = run_cli(
        ["train", "--task", "tiny", "--checkpoint", str(tmp_path / "missing" / "out.pfs")], capsys
    )
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli(
        ["train", "--task", "tiny", "--max-bytes", "100", "--checkpoint", str(target)], capsys
    )
    assert code == 2 and "has no pruning to fit with" in err  # refused before training
    assert list(tmp_path.iterdir()) == []


def test_console_script_prints_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "prunefront", "train", "--task", "tiny", "--width", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: width must be in (0, 1], got 0.0"


# --- one spelling per meaning; the old spellings still work, hidden from --help ---------------

FOOTPRINT = ["footprint", "--task", "tiny", "--sparsity", "0.9", "--widths", "0.5,1.0"]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"prunefront {prunefront.__version__}"


@pytest.mark.parametrize(
    ("new", "old"),
    [
        (["--max-bytes", "3000"], ["--budget", "3000"]),
        (["--storage-format", "csr16"], ["--format", "csr16"]),
    ],
)
def test_footprint_old_spellings_give_the_same_document(
    new: list[str], old: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_json([*FOOTPRINT, *old], capsys) == run_json([*FOOTPRINT, *new], capsys)


def test_footprint_max_bytes_bounds_the_feasible_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = run_json([*FOOTPRINT, "--max-bytes", "3000"], capsys)
    assert doc["budget_bytes"] == 3000
    assert doc["feasible"]["1.0"]["min_sparsity"] > 0.0


def test_train_old_spellings_write_the_same_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", "--task", "tiny", "--sparsity", "0.75", "--seed", "1"]
    new = run_json(
        [*base, "--storage-format", "csr16", "--checkpoint", str(tmp_path / "a.pfs")], capsys
    )
    old = run_json([*base, "--format", "csr16", "--save", str(tmp_path / "b.pfs")], capsys)
    assert new["footprint_format"] == old["footprint_format"] == "csr16"
    assert new["saved"]["bytes"] == old["saved"]["bytes"] > 0
    assert load_sparse(tmp_path / "a.pfs").metadata == load_sparse(tmp_path / "b.pfs").metadata


def test_old_and_new_spelling_that_disagree_is_one_line_exit_two(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli([*FOOTPRINT, "--max-bytes", "3000", "--budget", "4000"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--budget" in err and "--max-bytes" in err


def test_new_spelling_given_at_its_default_still_clashes_with_a_different_old_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # "auto" is --storage-format's default, but the user typed it: the old --format must not win.
    code, out, err = run_cli([*FOOTPRINT, "--storage-format", "auto", "--format", "csr16"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--storage-format" in err
    shown = run_cli(["footprint", "--help"], capsys)[1]
    assert "auto" in shown


@pytest.mark.parametrize(
    ("command", "shown", "hidden"),
    [
        ("footprint", ["--storage-format", "--max-bytes"], ["--format", "--budget"]),
        ("train", ["--storage-format", "--checkpoint"], ["--format", "--save"]),
        ("profile", ["--checkpoint"], ["--save"]),
        ("export", ["--format"], ["--storage-format"]),
        ("select", ["--max-bytes"], ["--budget"]),
    ],
)
def test_help_shows_one_spelling_per_meaning(
    command: str, shown: list[str], hidden: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0
    words = set(out.replace("│", " ").split())
    assert set(shown) <= words
    assert not set(hidden) & words


def test_a_checkpoint_is_rebuilt_with_its_task_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # channel_multiple=1 gives the 0.3-wide MLP 19 hidden units; the default (8) gives 16.
    path = tmp_path / "narrow.pfs"
    run_json(
        [
            "train", "--task", "tiny", "--width", "0.3", "--sparsity", "0.5",
            "--task-option", "channel_multiple=1", "--checkpoint", str(path),
        ],
        capsys,
    )  # fmt: skip
    assert load_sparse(path).metadata["task_options"] == {"channel_multiple": 1}
    rebuilt = model_from_checkpoint(path)
    first = next(m for m in rebuilt.model.modules() if hasattr(m, "out_features"))
    assert first.out_features == 19
    assert rebuilt.width == 0.3 and rebuilt.task.name == "tiny"
