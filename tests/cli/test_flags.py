"""One spelling per meaning across commands; the old spellings still work, hidden from --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prunefront
from prunefront.cli import main
from prunefront.export import model_from_checkpoint
from prunefront.spaces import load_sparse


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run([*args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


FOOTPRINT = ["footprint", "--task", "tiny", "--sparsity", "0.9", "--widths", "0.5,1.0"]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
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
    code, out, err = run([*FOOTPRINT, "--max-bytes", "3000", "--budget", "4000"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--budget" in err and "--max-bytes" in err


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
    code, out, _ = run([command, "--help"], capsys)
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
