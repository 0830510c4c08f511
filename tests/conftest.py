"""Suite-wide settings.

One torch thread per test process keeps the 2-core CI box responsive. Generated datasets go to a
cache folder of this test session (inherited by the CLI subprocesses the tests start), so the
suite neither reads nor fills the user's own cache and generates MNIST-1D once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from prunefront.tasks._datacache import CACHE_ENV

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _session_data_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("data-cache")))
        yield
