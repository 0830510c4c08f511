"""Where a study lives, and the lock that keeps its trial budget exact across workers.

* default: an Optuna journal file ``study.journal`` in the run folder (one machine, many workers);
* ``sqlite:///PATH``: one worker only (SQLite serialises writers badly under concurrency);
* ``postgresql://...``: many machines; heartbeats mark trials of dead workers stale.

``BudgetLock`` serialises "count the trials, then ask for one" so that K workers never start more
than the budget: a file lock in the run folder for local storages, a PostgreSQL advisory lock
(shared by every machine) for PostgreSQL. Storage URLs are shown only through ``mask_url``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import optuna
from optuna.storages import JournalStorage, RDBStorage

from prunefront.errors import PrunefrontError
from prunefront.studies import RepairingJournalBackend, mask_url, missing_driver, root_message

__all__ = ["BudgetLock", "StorageSpec", "file_lock", "open_storage", "resolve_storage"]

HEARTBEAT_INTERVAL_S = 20
GRACE_PERIOD_S = 60


@dataclass(frozen=True, kw_only=True)
class StorageSpec:
    """A resolved storage: its kind, URL (secret) or path, and the run folder."""

    kind: str  # "journal" | "sqlite" | "postgresql"
    url: str
    run_dir: Path

    @property
    def display(self) -> str:
        """The storage as it may be printed or logged (password masked)."""
        return mask_url(self.url)

    @property
    def shared_across_machines(self) -> bool:
        """Whether workers on other machines can join (only PostgreSQL)."""
        return self.kind == "postgresql"


def resolve_storage(storage: str | None, run_dir: Path) -> StorageSpec:
    """Turn the configured storage (or None = journal in ``run_dir``) into a ``StorageSpec``."""
    if storage is None:
        return StorageSpec(kind="journal", url=str(run_dir / "study.journal"), run_dir=run_dir)
    if storage.startswith("journal:"):
        return StorageSpec(kind="journal", url=storage[len("journal:") :], run_dir=run_dir)
    if storage.startswith("sqlite:///"):
        return StorageSpec(kind="sqlite", url=storage, run_dir=run_dir)
    if storage.startswith(("postgresql://", "postgresql+")):
        return StorageSpec(kind="postgresql", url=storage, run_dir=run_dir)
    raise PrunefrontError(
        f"search.storage: unsupported storage {mask_url(storage)!r}; "
        "use sqlite:///PATH, postgresql://... or journal:PATH"
    )


_SCHEMA_LOCK_KEY = zlib.crc32(b"prunefront:optuna-schema") & 0x7FFFFFFF


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """A PostgreSQL advisory lock around Optuna's table creation.

    Optuna creates its tables when the storage opens; several machines (a Slurm array) opening a
    fresh database at once race in ``CREATE TABLE`` and all but one die with a
    ``UniqueViolation`` on ``pg_type``. Under this lock the first creates, the rest find them.
    """
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEMA_LOCK_KEY}
                )
                conn.commit()
    finally:
        engine.dispose()


def open_storage(spec: StorageSpec) -> optuna.storages.BaseStorage:
    """Open the Optuna storage (creating the journal file's folder if needed)."""
    try:
        if spec.kind == "journal":
            Path(spec.url).parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(RepairingJournalBackend(spec.url))
        if spec.kind == "sqlite":
            return RDBStorage(spec.url)
        with warnings.catch_warnings():
            # Heartbeats are "experimental" in Optuna; prunefront relies on them deliberately.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            with _schema_lock(spec.url):
                return RDBStorage(
                    spec.url,
                    heartbeat_interval=HEARTBEAT_INTERVAL_S,
                    grace_period=GRACE_PERIOD_S,
                    engine_kwargs={"pool_pre_ping": True},
                )
    except Exception as error:  # connection errors come in many driver-specific types
        message = missing_driver(spec.url, error) or mask_url(root_message(error))
        secret = urlsplit(spec.url).password if "://" in spec.url else None
        if secret:
            message = message.replace(secret, "***")
        raise PrunefrontError(f"cannot open storage {spec.display}: {message}") from None


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """An ``flock`` on ``path`` (exclusive unless ``shared``), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class BudgetLock:
    """Mutual exclusion for count-then-ask, across the workers that share a study."""

    def __init__(self, spec: StorageSpec, storage: Any, study_name: str) -> None:
        self._spec = spec
        self._storage = storage
        self._key = zlib.crc32(study_name.encode()) & 0x7FFFFFFF

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the duration of the ``with`` block."""
        if self._spec.kind != "postgresql":
            with file_lock(self._spec.run_dir / ".budget.lock"):
                yield
            return
        from sqlalchemy import text

        with self._storage.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self._key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                conn.commit()
