"""The warm-start cache: a snapshot of the dense warm-up per (task, width, seed) in the run folder.

Every candidate of one width and seed trains identically until pruning begins, so the first trial
of a width saves a ``TrainSnapshot`` at ``begin_step - 1`` under ``RUN_DIR/cache/`` and later
trials - of this worker, of other local workers, or of a resumed run - continue from it. Results
are bit-identical to training from scratch (same device and library versions: both are in the key).

Concurrency: an entry is written once, atomically (a temporary file, then ``os.replace``), so a
reader never sees half a file and needs no lock. A worker that misses takes an exclusive
``file_lock`` on the entry and holds it until its training has saved the snapshot (or failed); a
second worker asking for the same entry meanwhile waits on that lock instead of computing the same
warm-up again, then reads the snapshot. Waiting costs no more time than recomputing would, and
leaves the cores to the worker that is computing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import prunefront
from prunefront.candidate import WarmKey
from prunefront.config import RunConfig
from prunefront.search._storage import file_lock
from prunefront.tasks import TrainSnapshot

__all__ = ["WarmStartCache", "task_identity"]

_FORMAT = 1


def _module_digest(ref: str) -> str | None:
    """Hash of the source file that defines a ``package.module:attr`` task, if it can be read."""
    if ":" not in ref:
        return None
    import importlib.util

    try:
        spec = importlib.util.find_spec(ref.split(":", 1)[0])
        origin = spec.origin if spec is not None else None
        if origin is None or not os.path.isfile(origin):
            return None
        return hashlib.sha256(Path(origin).read_bytes()).hexdigest()
    except (ImportError, OSError, ValueError):
        return None


def task_identity(config: RunConfig, detail: str | None = None) -> str:
    """A hash of what defines the task's training: its reference, options and code version.

    For a user's ``package.module:attr`` the module's source is hashed too, so editing the task
    between two runs in one folder does not reuse a warm-up of the old code. ``detail`` (a Task
    object's ``repr`` when one is given from Python) joins the hash.
    """
    doc = {
        "ref": config.task.ref,
        "options": config.task.options,
        "module": _module_digest(config.task.ref),
        "prunefront": prunefront.__version__,
    }
    if detail is not None:
        doc["detail"] = detail
    text = json.dumps(doc, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _device_id(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return dev.type


@dataclass
class _Slot:
    """A ``WarmSlot``: a hit carries the snapshot; a miss saves one and then drops the lock."""

    cache: WarmStartCache
    key: dict[str, Any]
    path: Path
    snapshot: TrainSnapshot | None
    lock: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def save(self, snapshot: TrainSnapshot) -> None:
        """Write the entry atomically and let waiting workers read it."""
        self.cache.write(self.path, self.key, snapshot)
        self.lock.close()


class WarmStartCache:
    """Snapshots of dense warm-ups under ``run_dir/cache/``, shared by the run's local workers.

    A ``WarmStart`` for ``train_candidate``. Entries are keyed by the task identity, the width,
    the seed, the snapshot step, the total steps, the training device and the torch version.

    Args:
        run_dir: The run folder.
        task_identity: What identifies the task's training (see ``task_identity``).
    """

    def __init__(self, run_dir: Path, task_identity: str) -> None:
        self.directory = Path(run_dir) / "cache"
        self.task_identity = task_identity

    def key(self, key: WarmKey) -> dict[str, Any]:
        """Everything an entry depends on, as plain data."""
        return {
            "format": _FORMAT,
            "task": self.task_identity,
            "width": key.width,
            "seed": key.seed,
            "snapshot_step": key.snapshot_step,
            "total_steps": key.total_steps,
            "device": _device_id(key.device),
            "torch": str(torch.__version__),
        }

    def path(self, key: WarmKey) -> Path:
        """Where the entry of ``key`` lives."""
        text = json.dumps(self.key(key), sort_keys=True)
        return self.directory / f"warm-{hashlib.sha256(text.encode()).hexdigest()[:32]}.pt"

    @contextlib.contextmanager
    def open(self, key: WarmKey) -> Iterator[_Slot]:
        """The entry of ``key``: a hit, or a miss holding the entry's lock until saved or done."""
        doc, path = self.key(key), self.path(key)
        snapshot = self.read(path, doc)
        if snapshot is not None:
            yield _Slot(self, doc, path, snapshot)
            return
        slot = _Slot(self, doc, path, None)
        with slot.lock:
            slot.lock.enter_context(file_lock(path.with_suffix(".lock")))
            # Another worker may have saved it while this one waited for the lock.
            slot.snapshot = self.read(path, doc)
            if slot.snapshot is not None:
                slot.lock.close()
            yield slot

    def read(self, path: Path, doc: dict[str, Any]) -> TrainSnapshot | None:
        """The snapshot stored at ``path`` for ``doc``; None if absent, unreadable or another key.

        An unreadable entry (truncated by a crash of an older version, or holding objects that
        ``weights_only`` loading refuses) is a miss: the warm-up is recomputed and rewritten.
        """
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            return None
        except Exception:  # a damaged file fails in many ways (unpickler, zip, EOF); recompute
            return None
        if not isinstance(data, dict) or data.get("key") != doc:
            return None
        return TrainSnapshot.from_dict(data["snapshot"])

    def write(self, path: Path, doc: dict[str, Any], snapshot: TrainSnapshot) -> None:
        """Write the entry for ``doc`` atomically (temporary file, then ``os.replace``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            torch.save({"key": doc, "snapshot": snapshot.to_dict()}, temporary)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
