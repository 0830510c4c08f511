"""A PostgreSQL storage without its driver: one line that names the command that installs it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from prunefront.cli import main

URL = "postgresql://postgres:s3cr3t@127.0.0.1:1/test"


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1, err
    return err[0]


def test_a_missing_postgresql_driver_names_the_extra_that_installs_it(
    write_config: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    for argv in (
        ["search", str(write_config(storage=URL))],
        ["status", "--storage", URL],
        ["report", "--storage", URL, "--out", str(tmp_path / "report")],
    ):
        line = _fails(argv, capsys)
        assert "psycopg is not installed: pip install 'prunefront[postgres]'" in line, line
        assert "s3cr3t" not in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "report").exists()


def test_a_url_naming_another_postgresql_driver_says_which_and_the_alternative(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    url = URL.replace("postgresql://", "postgresql+psycopg2://")
    line = _fails(["status", "--storage", url], capsys)
    assert "driver 'psycopg2', which is not installed" in line
    assert "pip install 'prunefront[postgres]'" in line
