"""search.toml validation: every error names the key and the allowed values; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunefront.cli import main
from prunefront.config import RunConfig, load_config
from prunefront.errors import PrunefrontError

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))


def test_examples_are_valid_and_cover_every_builtin_task() -> None:
    configs = [load_config(p) for p in EXAMPLES]
    assert {c.task.ref for c in configs} >= {"mnist1d-cnn", "charlm-lstm"}


def test_round_trip_through_dict() -> None:
    config = RunConfig.from_dict({"task": {"ref": "tiny"}, "space": {"widths": [0.5, 1.0]}})
    assert RunConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({}, "task"),
        ({"task": {}}, "task.ref"),
        ({"task": {"ref": "tiny"}, "space": {"widths": [0.0]}}, "space.widths"),
        ({"task": {"ref": "tiny"}, "space": {"widths": [1.5]}}, "space.widths"),
        ({"task": {"ref": "tiny"}, "space": {"sparsity_max": 1.0}}, "space.sparsity_max"),
        ({"task": {"ref": "tiny"}, "space": {"patterns": ["3:2"]}}, "space.patterns"),
        (
            {"task": {"ref": "tiny"}, "space": {"schedule": {"end_frac": 2}}},
            "space.schedule.end_frac",
        ),
        ({"task": {"ref": "tiny"}, "budget": {"bytes": 0}}, "budget.bytes"),
        ({"task": {"ref": "tiny"}, "budget": {"format": "zip"}}, "budget.format"),
        ({"task": {"ref": "tiny"}, "budget": {"dtype": "float64"}}, "budget.dtype"),
        ({"task": {"ref": "tiny"}, "target": {"device": "tpu"}}, "target.device"),
        ({"task": {"ref": "tiny"}, "target": {"energy": "guess"}}, "target.energy"),
        ({"task": {"ref": "tiny"}, "objectives": {"names": ["latency_ms"]}}, "objectives.names"),
        ({"task": {"ref": "tiny"}, "search": {"trials": 0}}, "search.trials"),
        ({"task": {"ref": "tiny"}, "search": {"sampler": "magic"}}, "search.sampler"),
        ({"task": {"ref": "tiny"}, "search": {"storage": "mysql://x"}}, "search.storage"),
        ({"task": {"ref": "tiny"}, "search": {"trails": 5}}, "search.trails"),
        ({"task": {"ref": "tiny"}, "search": {"workers": 0}}, "search.workers"),
    ],
)
def test_bad_values_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(PrunefrontError) as info:
        RunConfig.from_dict(data)
    message = str(info.value)
    assert message.startswith(key) and "\n" not in message


def test_bad_toml_on_the_cli_is_one_line_exit_two_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    config = tmp_path / "search.toml"
    config.write_text(f'[task]\nref = "tiny"\n[search]\ntrials = -3\nrun_dir = "{run_dir}"\n')
    with pytest.raises(SystemExit) as info:
        main(["search", str(config)])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.strip().splitlines() == ["error: search.trials: must be in [1, inf], got -3"]
    assert not run_dir.exists()


def test_budget_that_fits_nothing_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    config = tmp_path / "search.toml"
    config.write_text(
        f'[task]\nref = "tiny"\n[budget]\nbytes = 10\n[search]\nrun_dir = "{run_dir}"\n'
    )
    with pytest.raises(SystemExit) as info:
        main(["search", str(config)])
    assert info.value.code == 2
    assert "budget.bytes" in capsys.readouterr().err
    assert not run_dir.exists()


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PrunefrontError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[task\nref=")
    with pytest.raises(PrunefrontError, match="not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize(
    ("section", "line", "key"),
    [
        ("search", "timeout_s = nan", "search.timeout_s"),
        ("search", "timeout_s = inf", "search.timeout_s"),
        ("target", "latency_min_time_s = nan", "target.latency_min_time_s"),
        ("search", "early_stopping_margin = nan", "search.early_stopping_margin"),
        ("space", "widths = [0.5, nan]", "space.widths"),
        ("space.schedule", "begin_frac = nan", "space.schedule.begin_frac"),
        ("target", "token_file = 5", "target.token_file"),
        ("search", "train_device = 5", "search.train_device"),
        ("search", 'train_device = "cudax"', "search.train_device"),
        ("search", "run_dir = 5", "search.run_dir"),
        ("space.schedule", "exclude = [1]", "space.schedule.exclude"),
        ("space", "patterns = [1]", "space.patterns"),
    ],
)
def test_nan_and_wrongly_typed_values_are_one_line_exit_two_and_write_nothing(
    section: str,
    line: str,
    key: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a run_dir the config fails to set would land here
    run_dir = tmp_path / "run"
    tables = {"search": f'run_dir = "{run_dir}"'}
    tables[section] = "\n".join(filter(None, [line, tables.get(section, "")]))
    if section == "search" and line.startswith("run_dir"):
        tables["search"] = line
    body = "".join(f"[{name}]\n{text}\n" for name, text in tables.items())
    config = tmp_path / "search.toml"
    config.write_text(f'[task]\nref = "tiny"\n{body}')
    with pytest.raises(SystemExit) as info:
        main(["search", str(config)])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2
    assert len(err) == 1 and err[0].startswith(f"error: {key}: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.toml"]


def test_a_task_whose_build_raises_is_one_line_naming_the_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "boom_task.py").write_text(
        "from prunefront.testing import TinyTask\n\n\n"
        "class Boom(TinyTask):\n"
        "    def build(self, width):\n"
        "        raise RuntimeError('boom in build')\n\n\n"
        "TASK = Boom()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run_dir = tmp_path / "run"
    config = tmp_path / "search.toml"
    config.write_text(f'[task]\nref = "boom_task:TASK"\n[search]\nrun_dir = "{run_dir}"\n')
    with pytest.raises(SystemExit) as info:
        main(["search", str(config)])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2
    assert err == ["error: task 'tiny': build(0.25) failed: RuntimeError: boom in build"]
    assert not run_dir.exists()
