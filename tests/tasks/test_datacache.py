"""The disk cache of generated datasets: one generation per user, never a wrong or lost array."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from prunefront.tasks._datacache import CACHE_ENV, cache_dir, cached_arrays

NAMES = ("a", "b")


def _maker(calls: list[int]) -> Callable[[], dict[str, np.ndarray]]:
    def make() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([7, 8])}

    return make


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_second_call_reads_the_file_instead_of_generating(folder: Path) -> None:
    calls: list[int] = []
    first = cached_arrays("demo", {"n": 2}, NAMES, _maker(calls))
    second = cached_arrays("demo", {"n": 2}, NAMES, _maker(calls))
    assert calls == [1]
    assert [p.name.startswith("demo-") for p in folder.iterdir()] == [True]
    np.testing.assert_array_equal(second["a"], first["a"])
    assert second["a"].dtype == np.float32 and second["b"].tolist() == [7, 8]
    assert not second["a"].flags.writeable and not first["b"].flags.writeable


def test_another_key_is_another_file(folder: Path) -> None:
    calls: list[int] = []
    cached_arrays("demo", {"n": 2}, NAMES, _maker(calls))
    cached_arrays("demo", {"n": 3}, NAMES, _maker(calls))
    assert calls == [1, 1] and len(list(folder.iterdir())) == 2


def test_a_corrupt_file_is_regenerated_and_replaced(folder: Path) -> None:
    calls: list[int] = []
    cached_arrays("demo", {"n": 2}, NAMES, _maker(calls))
    (path,) = folder.iterdir()
    path.write_bytes(b"not an npz file")
    again = cached_arrays("demo", {"n": 2}, NAMES, _maker(calls))
    assert calls == [1, 1] and again["b"].tolist() == [7, 8]
    with np.load(path) as stored:
        assert stored["b"].tolist() == [7, 8]


def test_an_unwritable_cache_folder_still_gives_the_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    calls: list[int] = []
    arrays = cached_arrays("demo", {"n": 2}, NAMES, _maker(calls))
    assert arrays["b"].tolist() == [7, 8] and calls == [1]


def test_off_disables_the_cache_and_xdg_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    assert cache_dir() is None
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "prunefront"


def test_a_new_process_loads_mnist1d_without_importing_its_generator(folder: Path) -> None:
    script = (
        "import sys\n"
        "from prunefront.tasks._mnist1d import mnist1d_arrays\n"
        "x = mnist1d_arrays(num_samples=200, seed=3)[0]\n"
        "print(float(x.sum()), 'mnist1d.data' in sys.modules)\n"
    )
    env = {**os.environ, CACHE_ENV: str(folder)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][1] == "True"  # the first process generated the data ...
    assert runs[1] == [runs[0][0], "False"]  # ... the second read the same arrays from disk
