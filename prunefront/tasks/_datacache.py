"""A disk cache for the arrays that built-in tasks generate, shared by every process of a user.

Generating MNIST-1D takes seconds of CPU (and importing its generator pulls in matplotlib); every
worker process of a search, every CLI command and every test would otherwise pay that again. The
arrays are stored once as ``.npz`` under the cache folder, named by a digest of everything that
determines them, and written atomically (a reader sees a whole file or none). The cache is only
an accelerator: an unreadable, corrupt or unwritable cache falls back to generating in memory.

The folder is ``$PRUNEFRONT_CACHE_DIR`` if set (``off`` disables the cache), else
``$XDG_CACHE_HOME/prunefront``, else ``~/.cache/prunefront``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CACHE_ENV", "cache_dir", "cached_arrays"]

CACHE_ENV = "PRUNEFRONT_CACHE_DIR"
_FORMAT = 1


def cache_dir() -> Path | None:
    """The cache folder, or None when ``$PRUNEFRONT_CACHE_DIR`` is ``off``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return None if configured.lower() == "off" else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "prunefront"


def _read(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            if set(stored.files) != set(names):
                return None
            return {name: stored[name] for name in names}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def _write(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.stem}-", suffix=".npz", delete=False
        ) as handle:
            temporary = Path(handle.name)
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(temporary, path)
        temporary = None
    except OSError:
        pass  # a read-only or full cache folder only costs the next process a regeneration
    finally:
        if temporary is not None:  # interrupted or failed: leave no partial file behind
            temporary.unlink(missing_ok=True)


def cached_arrays(
    name: str,
    key: Mapping[str, Any],
    names: tuple[str, ...],
    make: Callable[[], Mapping[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """The arrays ``make()`` returns for ``key``, from the disk cache when they are there.

    Args:
        name: A readable prefix of the cache file (e.g. ``"mnist1d"``).
        key: JSON-serialisable values that determine the arrays (sizes, seeds, the generator's
            version); any change gives another file.
        names: The names of the arrays ``make`` returns (a stored file must hold exactly these).
        make: Generates the arrays (called only on a miss).

    Returns:
        The arrays by name, read-only.
    """
    folder = cache_dir()
    blob = json.dumps({"format": _FORMAT, "name": name, **key}, sort_keys=True).encode()
    path = (
        None if folder is None else folder / f"{name}-{hashlib.sha256(blob).hexdigest()[:16]}.npz"
    )
    arrays = _read(path, names) if path is not None and path.exists() else None
    if arrays is None:
        arrays = {k: np.asarray(v) for k, v in make().items()}
        if set(arrays) != set(names):
            raise ValueError(f"make() returned {sorted(arrays)}, expected {sorted(names)}")
        if path is not None:
            _write(path, arrays)
    for array in arrays.values():
        array.flags.writeable = False
    return arrays
