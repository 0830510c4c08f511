"""Fixtures for search tests: small real searches on the tiny task, in a temp run folder."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

FAST_TARGET = """
[target]
latency_min_time_s = 0.02
latency_max_time_s = 0.3
"""


def config_text(
    run_dir: Path,
    *,
    trials: int = 4,
    task: str = "tiny",
    extra: str = "",
    storage: str | None = None,
    study: str = "t",
    widths: str = "[0.25, 0.5, 1.0]",
    budget: int = 6000,
    options: str = "{ epochs = 2 }",
    fmt: str = "auto",
    pair_seeds: int = 1,
) -> str:
    storage_line = f'storage = "{storage}"' if storage else ""
    options_line = f"options = {options}" if task == "tiny" and options else ""
    return f"""
[task]
ref = "{task}"
{options_line}

[space]
widths = {widths}
sparsity_max = 0.95
iso_levels = 2

[budget]
bytes = {budget}
format = "{fmt}"
{FAST_TARGET}
[search]
trials = {trials}
run_dir = "{run_dir}"
study_name = "{study}"
sampler = "random"
pair_seeds = {pair_seeds}
{storage_line}
{extra}
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a search.toml (keyword overrides as in ``config_text``) and return its path."""

    def write(name: str = "search.toml", **kwargs: object) -> Path:
        path = tmp_path / name
        path.write_text(config_text(tmp_path / "run", **kwargs))  # type: ignore[arg-type]
        return path

    return write


@pytest.fixture(scope="module")
def write_module_config(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``write_config`` for a search shared by a whole test module (one folder per module)."""
    root = tmp_path_factory.mktemp("search")

    def write(name: str = "search.toml", **kwargs: object) -> Path:
        path = root / name
        path.write_text(config_text(root / "run", **kwargs))  # type: ignore[arg-type]
        return path

    return write


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The local PostgreSQL server, or a skip that says why."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (the dev extras install it)")
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except Exception as error:
        pytest.skip(f"no PostgreSQL server answers at 127.0.0.1:5432 ({type(error).__name__})")
    yield POSTGRES_URL


@pytest.fixture
def unique_study() -> str:
    """A study name no other test run uses (PostgreSQL is shared)."""
    return f"t-{uuid.uuid4().hex[:10]}"
